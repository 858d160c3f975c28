"""共享多店发货: a subscription shared with the owner's other shops, from the button on the
e-waybill service page (共享给其他店铺) and through the service; main account only; another
owner's shop (or an unknown number) is NOT_FOUND and nothing changes."""

from __future__ import annotations

import pytest

from carriers import services
from carriers.models import Subscription
from shops import services as shop_services
from tests.conftest import main_actor, make_shop, make_user, token_client
from tests.waybills.conftest import open_service
from waybill_console import permissions as perms
from waybill_console.errors import AppError
from waybill_console.tenancy import Actor

pytestmark = pytest.mark.django_db

SERVICE_PAGE = "/console/waybill-service/"


def share_url(sub) -> str:
    return f"/console/waybill-service/{sub.pk}/share/"


def shared(sub) -> list[str]:
    return sorted(Subscription.objects.get(pk=sub.pk).shared_with.values_list("shop_no", flat=True))


@pytest.fixture
def owner():
    return make_user()


@pytest.fixture
def shops(owner):
    """The owner's three shops and a stranger's shop."""
    main = make_shop(user=owner, name="主店", shop_type="flagship")
    second = make_shop(user=owner, name="二店", shop_type="specialty")
    third = make_shop(user=owner, name="三店")
    stranger = make_shop(user=make_user(), name="别人的店")
    return main, second, third, stranger


def test_the_page_lists_the_owners_other_shops_and_saving_shares_and_unshares(client, owner, shops):
    main, second, third, stranger = shops
    sub = open_service(main, balance=10)
    client.force_login(owner)
    client.post("/console/switch-shop/", {"shop": main.pk})
    listing = client.get(SERVICE_PAGE).content.decode()
    assert f'href="{share_url(sub)}" data-testid="share-link"' in listing
    assert "共享给其他店铺" in listing

    page = client.get(share_url(sub))
    html = page.content.decode()
    assert page.status_code == 200
    assert f'data-testid="share-{second.shop_no}"' in html
    assert f'data-testid="share-{third.shop_no}"' in html
    assert stranger.shop_no not in html and f'data-testid="share-{main.shop_no}"' not in html

    saved = client.post(share_url(sub), {"shops": [second.shop_no, third.shop_no]})
    assert saved.status_code == 302 and saved["Location"] == SERVICE_PAGE
    assert shared(sub) == sorted([second.shop_no, third.shop_no])
    again = client.get(share_url(sub)).content.decode()
    assert f'value="{second.shop_no}" checked' in again

    client.post(share_url(sub), {"shops": [third.shop_no]})
    assert shared(sub) == [third.shop_no]
    client.post(share_url(sub), {})
    assert shared(sub) == []


def test_another_owners_shop_is_not_found_and_nothing_changes(client, owner, shops):
    main, second, _third, stranger = shops
    sub = open_service(main, balance=10)
    services.subscription_share(actor=main_actor(main), subscription=sub, shop_nos=[second.shop_no])
    for foreign in ([stranger.shop_no], [second.shop_no, stranger.shop_no], ["999999"]):
        with pytest.raises(AppError) as refused:
            services.subscription_share(actor=main_actor(main), subscription=sub, shop_nos=foreign)
        assert (refused.value.code, refused.value.status) == ("NOT_FOUND", 404)
        assert shared(sub) == [second.shop_no]
    # the page and the API door refuse the same way
    client.force_login(owner)
    client.post("/console/switch-shop/", {"shop": main.pk})
    response = client.post(share_url(sub), {"shops": [stranger.shop_no]})
    assert (
        response.status_code == 404 and 'data-error-code="NOT_FOUND"' in response.content.decode()
    )
    # a token the main account gave the main-only right, refused the same way
    api = token_client(main, scopes=sorted(perms.ALL)).post(
        f"/api/v1/subscriptions/{sub.pk}/share/", {"shops": [stranger.shop_no]}, format="json"
    )
    assert api.status_code == 404 and api.json()["code"] == "NOT_FOUND"
    assert shared(sub) == [second.shop_no]


def test_a_deactivated_shop_of_the_owner_is_not_offered_nor_accepted(shops):
    main, second, _third, _stranger = shops
    sub = open_service(main, balance=10)
    second.is_active = False
    second.save(update_fields=["is_active"])
    with pytest.raises(AppError) as refused:
        services.subscription_share(
            actor=main_actor(main), subscription=sub, shop_nos=[second.shop_no]
        )
    assert refused.value.code == "NOT_FOUND" and shared(sub) == []


def test_only_the_main_account_may_share(client, shops):
    main, second, _third, _stranger = shops
    sub = open_service(main, balance=10)
    clerk = shop_services.sub_account_create(
        actor=main_actor(main),
        username="clerk-share",
        password="pass-12345",
        permissions=list(perms.GRANTABLE),
    )
    actor = Actor.for_membership(clerk)
    with pytest.raises(AppError) as refused:
        services.subscription_share(actor=actor, subscription=sub, shop_nos=[second.shop_no])
    assert (refused.value.code, refused.value.status) == ("PERMISSION_DENIED", 403)
    client.force_login(clerk.user)
    assert 'data-testid="share-link"' not in client.get(SERVICE_PAGE).content.decode()
    page = client.get(share_url(sub))
    assert page.status_code == 403
    assert "只有店铺主账号可以将服务共享给其他店铺。" in page.content.decode()
    assert client.post(share_url(sub), {"shops": [second.shop_no]}).status_code == 403
    # a token with every grantable scope is no main account either
    api = token_client(main).post(
        f"/api/v1/subscriptions/{sub.pk}/share/", {"shops": [second.shop_no]}, format="json"
    )
    assert api.status_code == 403 and api.json()["code"] == "PERMISSION_DENIED"
    assert shared(sub) == []


def test_a_shop_it_is_shared_with_cannot_share_it_on(client, owner, shops):
    main, second, third, _stranger = shops
    sub = open_service(main, balance=10)
    services.subscription_share(actor=main_actor(main), subscription=sub, shop_nos=[second.shop_no])
    client.force_login(owner)
    client.post("/console/switch-shop/", {"shop": second.pk})
    assert client.post(share_url(sub), {"shops": [third.shop_no]}).status_code == 403
    assert shared(sub) == [second.shop_no]


def test_another_owners_subscription_is_not_found(client, shops):
    main, _second, _third, stranger = shops
    sub = open_service(main, balance=10)
    client.force_login(stranger.memberships.get().user)
    assert client.get(share_url(sub)).status_code == 404
    assert client.post(share_url(sub), {"shops": [stranger.shop_no]}).status_code == 404
    assert shared(sub) == []
