"""``POST /api/v1/waybills/bulk/``: 取号 for up to 50 orders in one synchronous request.

One result per order in request order; a refusal for one order never stops the others;
``Idempotency-Key`` replays the first answer without drawing again; another shop's order
refuses the whole request as ``waybills/batch/`` does; more than 50 is BATCH_TOO_LARGE;
nothing is written by a refused request.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from carriers.models import LedgerEntry, Subscription
from carriers.services import ledger_check
from shops.models import Order
from tests.conftest import make_order, token_client
from tests.waybill_console.test_openapi_contract import conforms
from tests.waybills.conftest import open_service
from waybill_console import permissions as perms
from waybill_console.models import IdempotencyRecord
from waybills.models import AllocationException, Waybill

pytestmark = pytest.mark.django_db

URL = "/api/v1/waybills/bulk/"


def _post(api, body, **headers):
    return api.post(URL, body, format="json", **headers)


def _state(sub: Subscription) -> tuple:
    """What a refused request must leave as it was."""
    sub.refresh_from_db()
    return (
        sub.balance,
        sub.allocated_total,
        Waybill.objects.count(),
        LedgerEntry.objects.filter(subscription=sub).count(),
        Order.objects.filter(has_waybill=True).count(),
    )


def test_fifty_orders_get_their_numbers_in_request_order(shop_a):
    sub = open_service(shop_a, balance=60)
    orders = [make_order(shop_a) for _ in range(50)]
    ids = [o.pk for o in reversed(orders)]  # request order, not id order

    response = _post(token_client(shop_a), {"orders": ids, "subscription": sub.pk})

    assert response.status_code == 200, response.content
    results = conforms(response, URL, "post")["results"]
    numbers = dict(Waybill.objects.values_list("order_id", "waybill_no"))
    sort_codes = dict(Waybill.objects.values_list("order_id", "sort_code"))
    assert results == [
        {
            "order": i,
            "ok": True,
            "waybill_no": numbers[i],
            "sort_code": sort_codes[i],
            "created": True,
        }
        for i in ids
    ]
    assert len(set(numbers.values())) == 50
    sub.refresh_from_db()
    assert (sub.balance, sub.allocated_total) == (10, 50)
    assert Order.objects.filter(pk__in=ids, has_waybill=True, carrier_code="ZTO").count() == 50
    assert ledger_check() == []


def test_one_refused_order_does_not_stop_the_others(shop_a):
    sub = open_service(shop_a, balance=10)
    first, second = make_order(shop_a), make_order(shop_a)
    unpaid = make_order(shop_a, status="unpaid")

    response = _post(
        token_client(shop_a), {"orders": [first.pk, unpaid.pk, second.pk], "carrier": "ZTO"}
    )

    assert response.status_code == 200, response.content
    results = conforms(response, URL, "post")["results"]
    assert [(r["order"], r["ok"]) for r in results] == [
        (first.pk, True),
        (unpaid.pk, False),
        (second.pk, True),
    ]
    assert results[1]["error"]["code"] == "ORDER_NOT_ALLOCATABLE"
    assert results[1]["error"]["message"]
    assert not Waybill.objects.filter(order=unpaid).exists()
    assert [results[0]["waybill_no"], results[2]["waybill_no"]] == [
        Waybill.objects.get(order=first).waybill_no,
        Waybill.objects.get(order=second).waybill_no,
    ]
    assert AllocationException.objects.get(order=unpaid).code == "ORDER_NOT_ALLOCATABLE"
    assert Subscription.objects.get(pk=sub.pk).balance == 8
    assert ledger_check() == []


def test_a_repeated_order_id_counts_once(shop_a):
    sub = open_service(shop_a, balance=10)
    one, two = make_order(shop_a), make_order(shop_a)

    response = _post(
        token_client(shop_a), {"orders": [one.pk, two.pk, one.pk, one.pk], "carrier": "ZTO"}
    )

    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [(r["order"], r["created"]) for r in results] == [(one.pk, True), (two.pk, True)]
    assert Waybill.objects.count() == 2
    assert Subscription.objects.get(pk=sub.pk).balance == 8


def test_an_idempotent_replay_returns_the_same_numbers_and_draws_nothing(shop_a):
    sub = open_service(shop_a, balance=10)
    orders = [make_order(shop_a) for _ in range(3)]
    api = token_client(shop_a)
    body = {"orders": [o.pk for o in orders], "subscription": sub.pk}

    first = _post(api, body, HTTP_IDEMPOTENCY_KEY="erp-run-1")
    assert first.status_code == 200, first.content
    assert [r["created"] for r in first.json()["results"]] == [True, True, True]
    after_first = _state(sub)
    assert after_first[:2] == (7, 3)

    replay = _post(api, body, HTTP_IDEMPOTENCY_KEY="erp-run-1")

    assert replay.status_code == 200
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert _state(sub) == after_first
    assert ledger_check() == []
    # the same key with another body is refused, and draws nothing either
    other = _post(api, {"orders": [orders[0].pk]}, HTTP_IDEMPOTENCY_KEY="erp-run-1")
    assert other.status_code == 422 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert _state(sub) == after_first


def test_asking_again_without_a_key_returns_the_numbers_already_drawn(shop_a):
    sub = open_service(shop_a, balance=10)
    orders = [make_order(shop_a) for _ in range(2)]
    api = token_client(shop_a)
    body = {"orders": [o.pk for o in orders], "subscription": sub.pk}
    first = _post(api, body).json()["results"]
    after_first = _state(sub)

    again = _post(api, body)

    assert again.status_code == 200
    assert again.json()["results"] == [{**r, "created": False} for r in first]
    assert _state(sub) == after_first


def test_another_shops_order_refuses_the_whole_request(shop_a, shop_b):
    sub = open_service(shop_a, balance=10)
    open_service(shop_b, balance=10)
    mine = make_order(shop_a)
    theirs = make_order(shop_b)
    before = _state(sub)

    response = _post(token_client(shop_a), {"orders": [mine.pk, theirs.pk], "subscription": sub.pk})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["detail"] == {"orders": [f"以下订单不属于本店铺：{theirs.pk}。"]}
    assert _state(sub) == before
    assert not Waybill.objects.exists()
    assert not AllocationException.objects.exists()
    theirs.refresh_from_db()
    assert theirs.has_waybill is False


def test_more_than_fifty_orders_is_refused_with_nothing_written(shop_a):
    sub = open_service(shop_a, balance=100)
    orders = [make_order(shop_a) for _ in range(51)]
    before = _state(sub)

    response = _post(
        token_client(shop_a),
        {"orders": [o.pk for o in orders], "subscription": sub.pk},
        HTTP_IDEMPOTENCY_KEY="too-many",
    )

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["detail"]) == ("BATCH_TOO_LARGE", {"count": 51})
    assert "50" in body["message"]
    assert _state(sub) == before
    assert not IdempotencyRecord.objects.exists()  # a refusal leaves no stored answer


def test_an_empty_list_is_refused(shop_a):
    sub = open_service(shop_a, balance=5)
    response = _post(token_client(shop_a), {"orders": [], "subscription": sub.pk})
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert "orders" in response.json()["detail"]


def test_without_credentials_or_the_allocate_scope_nothing_is_drawn(shop_a):
    sub = open_service(shop_a, balance=5)
    order = make_order(shop_a)
    body = {"orders": [order.pk], "subscription": sub.pk}
    before = _state(sub)

    anonymous = _post(APIClient(), body)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "NOT_AUTHENTICATED"

    narrow = _post(token_client(shop_a, scopes=[perms.PRINT, perms.SHIP]), body)
    assert narrow.status_code == 403
    assert narrow.json()["code"] == "PERMISSION_DENIED"

    carrier_branch = _post(token_client(branch=sub.branch), body)
    assert carrier_branch.status_code == 403

    assert _state(sub) == before
    assert not AllocationException.objects.exists()
    allowed = _post(token_client(shop_a, scopes=[perms.WAYBILL_ALLOCATE]), body)
    assert allowed.status_code == 200 and allowed.json()["results"][0]["ok"] is True
