"""A stored Idempotency-Key answer belongs to the credential that got it, and a replay is
checked against the caller's permissions of the moment.

Keys used to be scoped to the shop: a token without a scope (or another user of the
shop) replaying a key got the stored 200 of a request it may not make.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from carriers.models import Subscription
from shops import services as shop_services
from shops.models import ApiToken, Membership
from tests.conftest import main_actor, make_order, make_user
from tests.waybills.conftest import open_service
from waybill_console import permissions as perms
from waybill_console.models import IdempotencyRecord
from waybills.models import Waybill
from waybills.services import waybill_allocate

pytestmark = pytest.mark.django_db

KEY = "key-1"


def token(shop, scopes=None) -> tuple[ApiToken, APIClient]:
    row, key = shop_services.api_token_create(shop=shop, scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return row, client


def session(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def sub_account(shop, username: str, permissions: list[str]):
    return shop_services.sub_account_create(
        actor=main_actor(shop), username=username, password="pass-12345", permissions=permissions
    )


def allocate(client, order, sub):
    return client.post(
        "/api/v1/waybills/",
        {"order": order.pk, "subscription": sub.pk},
        format="json",
        HTTP_IDEMPOTENCY_KEY=KEY,
    )


def refused_without(response, permission: str) -> None:
    """403, the error object only: nothing of the stored answer."""
    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"
    assert response.json()["detail"] == {"permission": permission}
    assert "waybill_no" not in response.content.decode()
    assert "Idempotent-Replayed" not in response


def test_another_token_of_the_shop_without_the_scope_replays_a_key_and_is_refused(shop_a):
    sub = open_service(shop_a, balance=5)
    order = make_order(shop_a)
    token_a, full = token(shop_a)
    _token_b, printer_only = token(shop_a, scopes=[perms.PRINT])

    first = allocate(full, order, sub)
    assert first.status_code == 201
    replay = allocate(printer_only, order, sub)

    refused_without(replay, "waybill.allocate")
    assert first.json()["waybill_no"] not in replay.content.decode()
    assert Waybill.objects.filter(order=order).count() == 1
    assert Subscription.objects.get(pk=sub.pk).balance == 4
    (record,) = IdempotencyRecord.objects.all()
    assert (record.scope, record.key, record.permissions) == (
        f"token:{token_a.pk}",
        KEY,
        ["waybill.allocate"],
    )


def test_the_same_token_replays_its_own_answer(shop_a):
    sub = open_service(shop_a, balance=5)
    order = make_order(shop_a)
    _row, api = token(shop_a)
    first = allocate(api, order, sub)
    again = allocate(api, order, sub)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Subscription.objects.get(pk=sub.pk).balance == 4


def test_a_scope_taken_away_since_is_checked_before_the_replay(
    shop_a, django_capture_on_commit_callbacks
):
    sub = open_service(shop_a, balance=5)
    order = make_order(shop_a)
    row, api = token(shop_a)
    assert allocate(api, order, sub).status_code == 201
    with django_capture_on_commit_callbacks(execute=True):  # the token caches hear of it
        row.scopes = [perms.PRINT]
        row.save()

    refused_without(allocate(api, order, sub), "waybill.allocate")
    assert Subscription.objects.get(pk=sub.pk).balance == 4


def _cancel(client, waybill):
    return client.post(
        f"/api/v1/waybills/{waybill.waybill_no}/cancel/", {}, format="json",
        HTTP_IDEMPOTENCY_KEY=KEY,
    )  # fmt: skip


def test_a_user_replaying_another_users_key_does_not_get_the_stored_answer(shop_a):
    sub = open_service(shop_a, balance=5)
    waybill = waybill_allocate(
        actor=main_actor(shop_a), order=make_order(shop_a), subscription=sub
    ).parent
    owner = shop_a.memberships.get(role="main").user
    clerk = sub_account(shop_a, "clerk", [perms.WAYBILL_CANCEL]).user
    packer = sub_account(shop_a, "packer", [perms.PRINT]).user

    first = _cancel(session(owner), waybill)
    assert first.status_code == 200 and first.json()["status"] == "cancelled"

    # the clerk may cancel: its request runs on its own, and finds the number cancelled
    other = _cancel(session(clerk), waybill)
    assert other.status_code == 409
    assert other.json()["code"] == "WAYBILL_NOT_CANCELLABLE"
    assert other.json()["detail"] == {"reason": "already_cancelled"}
    assert "Idempotent-Replayed" not in other
    # the packer may not: 403, nothing of the stored answer
    refused_without(_cancel(session(packer), waybill), "waybill.cancel")
    assert Subscription.objects.get(pk=sub.pk).cancelled_total == 1
    assert sorted(IdempotencyRecord.objects.values_list("scope", flat=True)) == [
        f"user:{owner.pk}:shop:{shop_a.pk}"
    ]


def test_a_sub_account_whose_permission_was_taken_away_gets_no_replay(shop_a):
    sub = open_service(shop_a, balance=5)
    waybill = waybill_allocate(
        actor=main_actor(shop_a), order=make_order(shop_a), subscription=sub
    ).parent
    membership = sub_account(shop_a, "clerk", [perms.WAYBILL_CANCEL])
    clerk = session(membership.user)
    assert _cancel(clerk, waybill).status_code == 200
    shop_services.sub_account_update(
        actor=main_actor(shop_a), membership_id=membership.pk, permissions=[perms.PRINT]
    )
    refused_without(_cancel(clerk, waybill), "waybill.cancel")


def test_the_same_user_in_another_shop_has_its_own_keys(shop_a, shop_b):
    """A user with two shops: a key used in one shop is its own in the other (neither
    replayed nor refused as reused)."""
    user = make_user("two-shops")
    Membership.objects.create(shop=shop_a, user=user, role="sub", permissions=["waybill.allocate"])
    Membership.objects.create(shop=shop_b, user=user, role="sub", permissions=["waybill.allocate"])
    sub_a, sub_b = open_service(shop_a, balance=5), open_service(shop_b, balance=5)
    order_a, order_b = make_order(shop_a), make_order(shop_b)
    client = session(user)
    assert allocate(client, order_a, sub_a).status_code == 201
    session_store = client.session
    session_store["shop_id"] = shop_b.pk
    session_store.save()
    response = allocate(client, order_b, sub_b)
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Waybill.objects.filter(order=order_b).count() == 1
