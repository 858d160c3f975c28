"""Recycling with a fixed clock: each rule, franchise only, and the re-deduction."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from carriers.models import LedgerEntry, Subscription
from carriers.services import ledger_check
from shops.models import Order
from tests.conftest import main_actor, make_order, token_client
from tests.waybills.conftest import branch_actor, open_service
from waybills import services
from waybills.models import Violation, Waybill

pytestmark = pytest.mark.django_db

T0 = timezone.make_aware(timezone.datetime(2026, 11, 1, 9, 0))


def _draw(shop, sub, at=T0):
    order = make_order(shop)
    return services.waybill_allocate(
        actor=main_actor(shop), order=order, subscription=sub, now=at
    ).parent


def _sub(sub):
    return Subscription.objects.get(pk=sub.pk)


def test_cancelled_number_recycled_after_15_natural_days_not_before(shop_a):
    sub = open_service(shop_a, balance=10)
    waybill = _draw(shop_a, sub)
    services.waybill_cancel(actor=main_actor(shop_a), waybill=waybill, now=T0)
    early = services.waybills_recycle(as_of=T0 + timedelta(days=15) - timedelta(seconds=1))
    assert early["cancelled"] == 0 and Waybill.objects.get(pk=waybill.pk).status == "cancelled"
    counts = services.waybills_recycle(as_of=T0 + timedelta(days=15))
    assert counts["cancelled"] == 1
    waybill.refresh_from_db()
    assert waybill.status == "recycled" and waybill.recycled_at == T0 + timedelta(days=15)
    sub = _sub(sub)
    assert (sub.balance, sub.allocated_total, sub.cancelled_total, sub.recycled_total) == (
        10,
        1,
        1,
        1,
    )
    entry = LedgerEntry.objects.get(subscription=sub, kind="recycle_return")
    assert (entry.amount, entry.balance_after) == (1, 10)
    assert ledger_check() == []


def test_idle_number_recycled_30_days_after_its_last_change(shop_a):
    sub = open_service(shop_a, balance=10)
    waybill = _draw(shop_a, sub)
    services.waybill_update(
        actor=main_actor(shop_a), waybill=waybill, weight_grams=500, now=T0 + timedelta(days=5)
    )
    assert services.waybills_recycle(as_of=T0 + timedelta(days=30))["idle"] == 0
    assert services.waybills_recycle(as_of=T0 + timedelta(days=35))["idle"] == 1
    assert _sub(sub).balance == 10 and _sub(sub).recycled_total == 1
    order = Order.objects.get(pk=waybill.order_id)
    assert not order.has_waybill and order.tracking_no == ""


def test_numbers_with_tracking_are_never_recycled(shop_a):
    sub = open_service(shop_a, balance=10)
    shipped = _draw(shop_a, sub)
    services.tracking_record(
        actor=branch_actor(sub),
        waybill_no=shipped.waybill_no,
        occurred_at=T0 + timedelta(hours=3),
        now=T0 + timedelta(hours=3),
        status="picked_up",
    )
    cancelled_tracked = _draw(shop_a, sub)
    services.waybill_cancel(actor=main_actor(shop_a), waybill=cancelled_tracked, now=T0)
    Waybill.objects.filter(pk=cancelled_tracked.pk).update(has_tracking=True)
    counts = services.waybills_recycle(as_of=T0 + timedelta(days=90))
    assert counts["cancelled"] == 0 and counts["idle"] == 0
    assert _sub(sub).recycled_total == 0


def test_direct_carriers_are_not_recycled(shop_a):
    sub = open_service(shop_a, "SF", monthly_account="0571888")
    waybill = _draw(shop_a, sub)
    services.waybill_cancel(actor=main_actor(shop_a), waybill=waybill, now=T0)
    counts = services.waybills_recycle(as_of=T0 + timedelta(days=60))
    assert counts["cancelled"] == 0 and counts["idle"] == 0
    assert Waybill.objects.get(pk=waybill.pk).status == "cancelled"


def test_sweep_works_in_chunks(shop_a):
    sub = open_service(shop_a, balance=30)
    orders = [make_order(shop_a) for _ in range(23)]
    services.waybill_allocate_many(
        actor=main_actor(shop_a), orders=orders, subscription=sub, now=T0
    )
    counts = services.waybills_recycle(as_of=T0 + timedelta(days=31), batch_size=5)
    assert counts["idle"] == 23
    sub = _sub(sub)
    assert (sub.balance, sub.recycled_total) == (30, 23)
    assert LedgerEntry.objects.filter(subscription=sub, kind="recycle_return").count() == 5
    assert ledger_check() == []


def test_late_tracking_on_a_recycled_number_deducts_again_and_records_a_violation(shop_a):
    sub = open_service(shop_a, balance=10)
    waybill = _draw(shop_a, sub)
    services.waybill_cancel(actor=main_actor(shop_a), waybill=waybill, now=T0)
    services.waybills_recycle(as_of=T0 + timedelta(days=16))
    assert _sub(sub).balance == 10
    services.tracking_record(
        actor=branch_actor(sub),
        waybill_no=waybill.waybill_no,
        occurred_at=T0 + timedelta(days=17),
        now=T0 + timedelta(days=17),
        status="in_transit",
    )
    assert _sub(sub).balance == 9
    violation = Violation.objects.get(waybill=waybill)
    assert violation.deducted_at is not None
    assert LedgerEntry.objects.filter(subscription=sub, kind="rededuction").get().amount == -1
    # the merchant sees it
    body = token_client(shop_a).get("/api/v1/violations/")
    assert body.json()["results"][0]["waybill_no"] == waybill.waybill_no
    # a second event does not deduct twice
    services.tracking_record(
        actor=branch_actor(sub),
        waybill_no=waybill.waybill_no,
        occurred_at=T0 + timedelta(days=18),
        now=T0 + timedelta(days=18),
        status="delivered",
    )
    assert _sub(sub).balance == 9 and Violation.objects.count() == 1
    assert ledger_check() == []


def test_a_rededuction_owed_on_an_empty_balance_is_settled_by_the_next_sweep(shop_a):
    sub = open_service(shop_a, balance=1)
    waybill = _draw(shop_a, sub)
    services.waybill_cancel(actor=main_actor(shop_a), waybill=waybill, now=T0)
    services.waybills_recycle(as_of=T0 + timedelta(days=16))
    _draw(shop_a, sub, at=T0 + timedelta(days=16))  # spends the returned number
    assert _sub(sub).balance == 0
    services.tracking_record(
        actor=branch_actor(sub),
        waybill_no=waybill.waybill_no,
        occurred_at=T0 + timedelta(days=17),
        now=T0 + timedelta(days=17),
        status="picked_up",
    )
    violation = Violation.objects.get(waybill=waybill)
    assert violation.deducted_at is None and _sub(sub).balance == 0
    from carriers.services import subscription_recharge

    subscription_recharge(actor=branch_actor(sub), subscription=_sub(sub), count=5)
    counts = services.waybills_recycle(as_of=T0 + timedelta(days=18))
    assert counts["settled"] == 1
    assert _sub(sub).balance == 4
    assert Violation.objects.get(pk=violation.pk).deducted_at is not None
    assert ledger_check() == []


def test_recycle_command_with_a_fixed_clock(shop_a):
    sub = open_service(shop_a, balance=5)
    waybill = _draw(shop_a, sub)
    services.waybill_cancel(actor=main_actor(shop_a), waybill=waybill, now=T0)
    out = StringIO()
    call_command("recycle_waybills", "--as-of", "2026-11-20T09:00:00+08:00", stdout=out)
    assert "cancelled: 1" in out.getvalue()
    assert Waybill.objects.get(pk=waybill.pk).status == "recycled"
