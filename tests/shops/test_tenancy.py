"""Every door is scoped to the current shop: another shop's object is a 404."""

import pytest
from django.urls import reverse

from shops import services
from shops.models import Membership
from tests.conftest import main_actor, make_order, make_shop, make_user, token_client
from waybill_console import permissions as perms

pytestmark = pytest.mark.django_db


def test_page_of_other_shops_order_is_404(client, shop_a, shop_b):
    theirs = make_order(shop_b, "B-0001")
    mine = make_order(shop_a, "A-0001")
    client.force_login(shop_a.memberships.get().user)

    assert client.get(reverse("console:order_detail", args=[mine.pk])).status_code == 200
    response = client.get(reverse("console:order_detail", args=[theirs.pk]))
    assert response.status_code == 404
    assert "B-0001" not in response.content.decode()


def test_api_of_other_shops_order_is_404_with_error_object(shop_a, shop_b):
    theirs = make_order(shop_b, "B-0002")
    api = token_client(shop_a)

    response = api.get(f"/api/v1/orders/{theirs.pk}/")

    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    assert set(response.json()) == {"code", "message", "detail"}
    listed = api.get("/api/v1/orders/").json()
    assert listed["count"] == 0


def test_reveal_of_other_shops_order_is_404_and_leaves_no_audit(shop_a, shop_b):
    from waybill_console.models import DecryptionAudit

    theirs = make_order(shop_b, "B-0003")
    response = token_client(shop_a).post(f"/api/v1/orders/{theirs.pk}/reveal/")
    assert response.status_code == 404
    assert DecryptionAudit.objects.count() == 0


def test_user_with_two_shops_sees_only_the_current_one(client, db):
    owner = make_user("owner")
    first = make_shop("100011", user=owner)
    second = make_shop("100012", user=owner)
    order_first = make_order(first, "F-1")
    order_second = make_order(second, "S-1")
    client.force_login(owner)

    assert client.get(reverse("console:order_detail", args=[order_first.pk])).status_code == 200
    assert client.get(reverse("console:order_detail", args=[order_second.pk])).status_code == 404

    client.post(reverse("console:switch_shop"), {"shop": second.pk})

    assert client.get(reverse("console:order_detail", args=[order_second.pk])).status_code == 200
    assert client.get(reverse("console:order_detail", args=[order_first.pk])).status_code == 404


def test_switching_to_a_shop_without_membership_is_refused(client, shop_a, shop_b):
    user = shop_a.memberships.get().user
    client.force_login(user)
    response = client.post(reverse("console:switch_shop"), {"shop": shop_b.pk})
    assert response.status_code == 404
    assert client.session.get("shop_id") is None


def test_sub_account_without_permission_is_refused_with_clear_message(shop_a):
    order = make_order(shop_a)
    packer = services.sub_account_create(
        actor=main_actor(shop_a),
        username="packer1",
        password="Pack-station-24",
        permissions=[perms.PRINT],
    )
    api = token_client(shop_a, scopes=[perms.PRINT], language="zh-hans")
    response = api.post(f"/api/v1/orders/{order.pk}/reveal/")

    assert packer.role == Membership.Role.SUB
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "PERMISSION_DENIED"
    assert body["message"] == "您没有“查看消费者信息”权限，请联系主账号开通。"
    assert body["detail"] == {"permission": "consumer.view"}


def test_sub_account_page_refusal_shows_the_message(client, shop_a):
    order = make_order(shop_a)
    membership = services.sub_account_create(
        actor=main_actor(shop_a),
        username="packer2",
        password="Pack-station-24",
        permissions=[perms.SHIP],
    )
    client.force_login(membership.user)

    response = client.post(reverse("console:order_reveal", args=[order.pk]), HTTP_HX_REQUEST="true")

    assert response.status_code == 403
    html = response.content.decode()
    assert "您没有“查看消费者信息”权限" in html
    assert 'data-error-code="PERMISSION_DENIED"' in html


def test_sub_account_with_permission_may_reveal(client, shop_a):
    order = make_order(shop_a, phone="13900001111")
    membership = services.sub_account_create(
        actor=main_actor(shop_a),
        username="cs1",
        password="cs-12345",
        permissions=[perms.CONSUMER_VIEW],
    )
    client.force_login(membership.user)
    response = client.post(reverse("console:order_reveal", args=[order.pk]))
    assert response.status_code == 200
    assert "13900001111" in response.content.decode()


def test_only_the_main_account_creates_sub_accounts(shop_a):
    from waybill_console.errors import PermissionDenied
    from waybill_console.tenancy import Actor

    sub = services.sub_account_create(
        actor=main_actor(shop_a),
        username="sub-x",
        password="Tenant-x-2024",
        permissions=perms.GRANTABLE,
    )
    with pytest.raises(PermissionDenied):
        services.sub_account_create(
            actor=Actor.for_membership(sub),
            username="sub-y",
            password="Tenant-y-2024",
            permissions=[],
        )
    assert not Membership.objects.filter(user__username="sub-y").exists()


def test_admin_lists_are_scoped_for_shop_staff(client, shop_a, shop_b):
    make_order(shop_a, "ADM-A")
    make_order(shop_b, "ADM-B")
    staff = shop_a.memberships.get().user
    staff.is_staff = True
    staff.save()
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(staff)

    html = client.get("/admin/shops/order/").content.decode()

    assert "ADM-A" in html
    assert "ADM-B" not in html


def test_superuser_admin_sees_every_shop(admin_client, shop_a, shop_b):
    make_order(shop_a, "ADM-A2")
    make_order(shop_b, "ADM-B2")
    html = admin_client.get("/admin/shops/order/").content.decode()
    assert "ADM-A2" in html and "ADM-B2" in html


def test_api_order_list_applies_every_filter_in_a_fixed_number_of_queries(
    shop_a, django_assert_max_num_queries
):
    paid = [make_order(shop_a, f"F-PAID-{i}") for i in range(5)]
    services.order_start_after_sale(actor=main_actor(shop_a), order=paid[0])
    api = token_client(shop_a)
    api.get("/api/v1/orders/")  # warm: the token's last-used stamp
    with django_assert_max_num_queries(4):  # token, count, page, every page's items at once
        assert api.get("/api/v1/orders/").json()["count"] == 5
    body = api.get("/api/v1/orders/?after_sale=yes").json()
    assert [o["order_no"] for o in body["results"]] == ["F-PAID-0"]
    assert api.get("/api/v1/orders/?after_sale=no").json()["count"] == 4
    assert api.get("/api/v1/orders/?has_waybill=yes").json()["count"] == 0
    refused = api.get("/api/v1/orders/?has_waybill=maybe&date_from=soon")
    assert refused.status_code == 400
    assert set(refused.json()["detail"]) == {"has_waybill", "date_from"}
