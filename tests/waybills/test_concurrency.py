"""Concurrency rules proven with several processes on PostgreSQL: quota, cancel cap,
idempotency and one number per order package."""

import pytest
from django.db import IntegrityError, transaction

from carriers.models import BranchAccount, Subscription
from carriers.services import ledger_check
from shops.models import Order, Shop
from tests.conftest import main_actor, make_order, make_shop, make_user, token_client
from tests.waybills.conftest import open_service
from tests.waybills.parallel import run_in_processes
from waybill_console.errors import AppError
from waybills import services
from waybills.models import Waybill

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def _allocate_orders(shop_id: int, sub_id: int, order_ids: list[int]) -> list:
    shop = Shop.objects.get(pk=shop_id)
    out = []
    for order in Order.objects.filter(pk__in=order_ids).order_by("pk"):
        try:
            allocation = services.waybill_allocate(
                actor=main_actor(shop), order=order, subscription=sub_id
            )
            out.append(("ok", allocation.parent.waybill_no))
        except AppError as err:
            out.append(("refused", err.code))
    return out


def test_eight_processes_against_a_balance_of_20_get_exactly_20_numbers():
    shop = make_shop(user=make_user())
    sub = open_service(shop, balance=20)
    orders = [make_order(shop).pk for _ in range(48)]
    chunks = [(shop.pk, sub.pk, orders[i::8]) for i in range(8)]
    outcomes = [o for part in run_in_processes(_allocate_orders, chunks) for o in part]
    numbers = [value for state, value in outcomes if state == "ok"]
    refusals = [value for state, value in outcomes if state == "refused"]
    assert len(numbers) == 20 and len(set(numbers)) == 20
    assert refusals == ["QUOTA_INSUFFICIENT"] * 28
    sub.refresh_from_db()
    assert (sub.balance, sub.allocated_total) == (0, 20)
    assert Waybill.objects.count() == 20
    assert ledger_check() == []


def _allocate_same_order(shop_id: int, sub_id: int, order_id: int) -> str:
    shop = Shop.objects.get(pk=shop_id)
    order = Order.objects.get(pk=order_id)
    allocation = services.waybill_allocate(actor=main_actor(shop), order=order, subscription=sub_id)
    return allocation.parent.waybill_no


def test_one_order_package_gets_one_number_however_many_ask_at_once():
    shop = make_shop(user=make_user())
    sub = open_service(shop, balance=50)
    order = make_order(shop)
    numbers = run_in_processes(_allocate_same_order, [(shop.pk, sub.pk, order.pk)] * 8)
    assert len(set(numbers)) == 1
    sub.refresh_from_db()
    assert (sub.balance, sub.allocated_total) == (49, 1)
    assert ledger_check() == []


def _cancel(shop_id: int, waybill_id: int) -> str:
    shop = Shop.objects.get(pk=shop_id)
    try:
        services.waybill_cancel(actor=main_actor(shop), waybill=Waybill.objects.get(pk=waybill_id))
        return "cancelled"
    except AppError as err:
        return err.code


def _allocated(shop, sub, count: int) -> list[Waybill]:
    orders = [make_order(shop) for _ in range(count)]
    services.waybill_allocate_many(actor=main_actor(shop), orders=orders, subscription=sub)
    return list(Waybill.objects.filter(subscription=sub).order_by("pk"))


def test_concurrent_cancels_at_the_20_percent_boundary_never_exceed_it():
    shop = make_shop(user=make_user())
    sub = open_service(shop, balance=100)
    waybills = _allocated(shop, sub, 60)  # cap: 60 // 5 = 12 cancels
    for waybill in waybills[:10]:
        services.waybill_cancel(actor=main_actor(shop), waybill=waybill)
    outcomes = run_in_processes(_cancel, [(shop.pk, w.pk) for w in waybills[10:18]])
    assert sorted(outcomes) == ["CANCEL_LIMIT_REACHED"] * 6 + ["cancelled"] * 2
    sub.refresh_from_db()
    assert (sub.allocated_total, sub.cancelled_total) == (60, 12)
    account = BranchAccount.objects.get(shop=shop, branch_id=sub.branch_id)
    assert (account.cancelled_total, account.cancel_basis) == (12, 60)
    assert Waybill.objects.filter(subscription=sub, status="cancelled").count() == 12


def test_the_database_itself_refuses_a_cancel_past_the_cap():
    """Even a writer that skips the service cannot pass: the CHECK constraint holds on the
    branch account, where the cap is counted."""
    shop = make_shop(user=make_user())
    sub = open_service(shop, balance=100)
    waybills = _allocated(shop, sub, 60)
    services.waybill_cancel(actor=main_actor(shop), waybill=waybills[0])
    account = BranchAccount.objects.filter(shop=shop, branch_id=sub.branch_id)
    account.update(cancelled_total=12, cancel_basis=60)
    with pytest.raises(IntegrityError), transaction.atomic():
        account.update(cancelled_total=13, cancel_basis=60)
    assert account.values_list("cancelled_total", "cancel_basis").get() == (12, 60)


def _post_with_key(shop_key: str, order_id: int, sub_id: int, key: str) -> tuple:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {shop_key}")
    response = client.post(
        "/api/v1/waybills/",
        {"order": order_id, "subscription": sub_id},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    body = response.json()
    return response.status_code, body.get("waybill_no") or body.get("code")


def test_a_retried_request_with_the_same_key_returns_the_same_number_and_draws_once():
    from shops.services import api_token_create

    shop = make_shop(user=make_user())
    sub = open_service(shop, balance=10)
    order = make_order(shop)
    _, key = api_token_create(shop=shop)
    outcomes = run_in_processes(_post_with_key, [(key, order.pk, sub.pk, "retry-1")] * 6)
    numbers = {value for status, value in outcomes if status in (200, 201)}
    conflicts = [value for status, value in outcomes if status == 409]
    assert len(numbers) == 1
    assert set(conflicts) <= {"IDEMPOTENCY_CONFLICT"}
    # the caller retries once the first answer is stored: the same number, replayed
    status, again = _post_with_key(key, order.pk, sub.pk, "retry-1")
    assert status in (200, 201) and again == numbers.pop()
    sub.refresh_from_db()
    assert (sub.balance, sub.allocated_total) == (9, 1)
    assert ledger_check() == []


def test_token_client_replay_header(shop_a):
    sub = open_service(shop_a, balance=5)
    order = make_order(shop_a)
    api = token_client(shop_a)
    first = api.post(
        "/api/v1/waybills/",
        {"order": order.pk, "subscription": sub.pk},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    second = api.post(
        "/api/v1/waybills/",
        {"order": order.pk, "subscription": sub.pk},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert first.status_code == 201 and second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json()["waybill_no"] == first.json()["waybill_no"]
    assert Subscription.objects.get(pk=sub.pk).balance == 4


def _ship(shop_id: int, order_id: int, waybill_no: str) -> str:
    shop = Shop.objects.get(pk=shop_id)
    try:
        services.waybill_ship(
            actor=main_actor(shop), order=Order.objects.get(pk=order_id), waybill_no=waybill_no
        )
        return "shipped"
    except AppError as err:
        return err.code


def test_an_order_shipped_from_several_processes_at_once_ships_exactly_once():
    shop = make_shop(user=make_user())
    sub = open_service(shop, balance=5)
    order = make_order(shop)
    waybill = services.waybill_allocate(actor=main_actor(shop), order=order, subscription=sub)
    outcomes = run_in_processes(_ship, [(shop.pk, order.pk, waybill.parent.waybill_no)] * 6)
    assert sorted(outcomes) == ["ALREADY_SHIPPED"] * 5 + ["shipped"]
    order.refresh_from_db()
    assert order.status == "shipped"
    assert order.events.filter(kind="ship").count() == 1
