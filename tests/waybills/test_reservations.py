"""The one allocation path's reservation: reserve → ask the carrier → commit or release.

What is asserted is what a merchant and the carrier would see: numbers, balances, ledger
entries and what the sandbox carrier recorded under each carrier-side order id."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from carriers.errors import AllocationFailed, AllocationTimeout
from carriers.gateways import gateway_for
from carriers.models import LedgerEntry, Reservation, SandboxShipment
from carriers.quota import ledger_check
from tests.conftest import main_actor, make_order
from tests.waybills.conftest import open_service
from waybills.models import AllocationException, Waybill
from waybills.services import waybill_allocate, waybill_allocate_many
from waybills.services.settle import reservations_settle

pytestmark = pytest.mark.django_db(transaction=True)


def _fault(sub, fault: str) -> None:
    sub.branch.fault = fault
    sub.branch.save(update_fields=["fault"])


def _balance(sub) -> int:
    sub.refresh_from_db(fields=["balance", "allocated_total"])
    return sub.balance


def test_a_retry_after_a_lost_answer_gets_the_number_the_carrier_issued(shop_a):
    sub = open_service(shop_a, balance=10)
    order = make_order(shop_a)
    actor = main_actor(shop_a)

    _fault(sub, "lost_answer")
    with pytest.raises(AllocationTimeout):
        waybill_allocate(actor=actor, order=order.pk, subscription=sub.pk)
    held = Reservation.objects.get(order=order)
    assert held.state == "reserved" and held.last_error == "ALLOCATION_TIMEOUT"
    assert _balance(sub) == 9  # held, not lost
    assert AllocationException.objects.get(order=order).code == "ALLOCATION_TIMEOUT"
    [issued] = SandboxShipment.objects.filter(carrier_order_id=held.carrier_order_id)

    _fault(sub, "")
    allocation = waybill_allocate(actor=actor, order=order.pk, subscription=sub.pk)
    assert allocation.created
    assert allocation.parent.waybill_no == issued.numbers[0]
    assert allocation.parent.carrier_order_id == held.carrier_order_id
    held.refresh_from_db()
    assert held.state == "committed"
    assert _balance(sub) == 9  # charged once
    assert SandboxShipment.objects.count() == 1  # the carrier was not asked for a second
    assert AllocationException.objects.get(order=order).resolved_at is not None
    assert ledger_check() == []


def test_a_definite_refusal_from_the_carrier_gives_the_quota_back_at_once(shop_a):
    sub = open_service(shop_a, balance=5)
    order = make_order(shop_a)
    _fault(sub, "issue_refused")  # screening passes; the carrier then refuses the number
    with pytest.raises(AllocationFailed):
        waybill_allocate(actor=main_actor(shop_a), order=order.pk, subscription=sub.pk)
    _fault(sub, "")
    assert Reservation.objects.get(order=order).state == "released"
    assert _balance(sub) == 5
    kinds = list(
        LedgerEntry.objects.filter(subscription=sub).order_by("id").values_list("kind", "amount")
    )
    assert kinds[-2:] == [("allocation", -1), ("release", 1)]
    assert sub.allocated_total == 0
    assert ledger_check() == []


def test_the_sweep_commits_what_the_carrier_issued_and_releases_what_it_did_not(shop_a):
    sub = open_service(shop_a, balance=10)
    issued_order, unsent_order = make_order(shop_a), make_order(shop_a)
    actor = main_actor(shop_a)
    for order, fault in ((issued_order, "lost_answer"), (unsent_order, "unsent_timeout")):
        _fault(sub, fault)
        with pytest.raises(AllocationTimeout):
            waybill_allocate(actor=actor, order=order.pk, subscription=sub.pk)
    _fault(sub, "")
    assert _balance(sub) == 8

    # too young: a slow attempt may still be waiting for its answer
    assert reservations_settle()["committed"] == 0
    later = timezone.now() + timedelta(minutes=10)
    assert reservations_settle(now=later) == {"committed": 1, "released": 1, "waiting": 0}

    [waybill] = Waybill.objects.filter(order=issued_order)
    shipment = SandboxShipment.objects.get(carrier_order_id=waybill.carrier_order_id)
    assert waybill.waybill_no == shipment.numbers[0]
    issued_order.refresh_from_db()
    assert issued_order.tracking_no == waybill.waybill_no and issued_order.has_waybill
    assert not Waybill.objects.filter(order=unsent_order).exists()
    assert _balance(sub) == 9
    assert ledger_check() == []
    assert reservations_settle(now=later) == {"committed": 0, "released": 0, "waiting": 0}


def test_a_batch_continues_open_reservations_and_charges_only_new_ones(shop_a):
    sub = open_service(shop_a, balance=10)
    orders = [make_order(shop_a) for _ in range(4)]
    actor = main_actor(shop_a)
    _fault(sub, "lost_answer")
    with pytest.raises(AllocationTimeout):
        waybill_allocate(actor=actor, order=orders[0].pk, subscription=sub.pk)
    _fault(sub, "")
    first = SandboxShipment.objects.get().numbers[0]

    results = waybill_allocate_many(actor=actor, orders=orders, subscription=sub.pk)
    assert [r["ok"] for r in results] == [True] * 4
    assert results[0]["waybill_no"] == first
    assert _balance(sub) == 6  # four numbers, four charges
    assert SandboxShipment.objects.count() == 4
    assert not Reservation.objects.filter(state="reserved").exists()
    assert ledger_check() == []


def test_the_sandbox_answers_a_replay_with_its_first_numbers_and_queries_by_id(shop_a):
    from carriers.gateways.base import IssueRequest, Receiver

    sub = open_service(shop_a, balance=1)
    gateway = gateway_for("ZTO")
    receiver = Receiver("浙江省", "杭州市", "西湖区", None)
    ask = IssueRequest("TEST-1", sub, {}, receiver, package_count=2)
    first = gateway.issue(ask)
    again = gateway.issue(ask)
    assert len(first.numbers) == 2 and again.numbers == first.numbers
    assert gateway.query(subscription=sub, carrier_order_id="TEST-1").numbers == first.numbers
    assert gateway.query(subscription=sub, carrier_order_id="NEVER") is None
    gateway.cancel(subscription=sub, waybill_no=first.numbers[0], carrier_order_id="TEST-1")
    assert gateway.query(subscription=sub, carrier_order_id="TEST-1") is None


def test_a_draw_waiting_on_a_locked_order_does_not_hold_the_service_for_others(shop_a):
    """A packer's open transaction on one order (a lock on its row) stalls only that
    order's draw: the quota row is locked by the reserving statement alone, which does
    not wait on order rows, so the service's other orders keep drawing."""
    import threading

    from django.db import connection, connections

    sub = open_service(shop_a, balance=10)
    held_order, other = make_order(shop_a), make_order(shop_a)
    actor = main_actor(shop_a)
    holder = connections.create_connection("default")
    holder.set_autocommit(False)
    with holder.cursor() as cur:
        cur.execute("SELECT id FROM shops_order WHERE id = %s FOR UPDATE", [held_order.pk])
    results: dict = {}

    def draw(name, order):
        try:
            results[name] = waybill_allocate(actor=actor, order=order.pk, subscription=sub.pk)
        finally:
            connection.close()

    stalled = threading.Thread(target=draw, args=("held", held_order))
    stalled.start()
    stalled.join(timeout=2)  # it waits on the held order's row
    free = threading.Thread(target=draw, args=("other", other))
    free.start()
    free.join(timeout=30)
    try:
        assert "other" in results and results["other"].created
        assert stalled.is_alive() and "held" not in results
    finally:
        holder.rollback()
        holder.close()
        stalled.join(timeout=30)
    assert results["held"].created
    assert _balance(sub) == 8
    assert ledger_check() == []


def test_a_sandbox_draw_is_one_statement_with_nothing_left_to_settle(shop_a):
    """The sandbox issues without a network call: the quota is drawn and the numbers
    committed by one statement, so no reservation is kept and the sandbox records
    nothing; the balance, the ledger and the counters agree all the same."""
    sub = open_service(shop_a, balance=10)
    orders = [make_order(shop_a) for _ in range(3)]
    actor = main_actor(shop_a)

    assert waybill_allocate(actor=actor, order=orders[0].pk, subscription=sub.pk).created
    results = waybill_allocate_many(actor=actor, orders=orders[1:], subscription=sub.pk)

    assert all(r["ok"] and r["created"] for r in results)
    assert not Reservation.objects.exists() and not SandboxShipment.objects.exists()
    assert _balance(sub) == 7 and sub.allocated_total == 3
    drawn = LedgerEntry.objects.filter(subscription=sub, kind="allocation").order_by("id")
    assert [(e.amount, e.balance_after) for e in drawn] == [(-1, 9), (-2, 7)]
    assert Waybill.objects.filter(order__in=orders, subscription=sub).count() == 3
    assert ledger_check() == []
