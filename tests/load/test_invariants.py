"""The load test's invariant checks (``load/invariants.py``) on the test database."""

import pytest
from django.db import connection

from carriers.models import BranchAccount, Subscription
from load.invariants import check, numbers_missing
from tests.conftest import main_actor, make_order
from tests.waybills.conftest import open_service
from waybills import services
from waybills.models import Waybill

pytestmark = pytest.mark.django_db


CAP = "cancelled × 5 ≤ allocated when allocated > 50, per shop and branch"


def _without_checks() -> None:
    """Drop the counters' CHECK constraints (inside the test's transaction, rolled back
    with it) so that the counters can be made wrong on purpose."""
    with connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending
        for table in ("carriers_subscription", "carriers_branchaccount"):
            cur.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'c'",
                [table],
            )
            for (name,) in cur.fetchall():
                cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')


def _broken(checks) -> dict[str, list[str]]:
    return {c.name: c.problems for c in checks if not c.ok}


def test_clean_after_allocations_and_a_cancel_then_each_breakage_is_named(shop_a):
    sub = open_service(shop_a, balance=10)
    orders = [make_order(shop_a) for _ in range(3)]
    services.waybill_allocate_many(actor=main_actor(shop_a), orders=orders, subscription=sub)
    waybill = Waybill.objects.filter(subscription=sub).first()
    services.waybill_cancel(actor=main_actor(shop_a), waybill=waybill)
    assert _broken(check()) == {}
    numbers = list(Waybill.objects.values_list("waybill_no", flat=True))
    assert numbers_missing(numbers).ok
    assert not numbers_missing([*numbers, "NOPE"]).ok

    _without_checks()
    Subscription.objects.filter(pk=sub.pk).update(balance=-1)
    broken = _broken(check())
    assert set(broken) == {"no negative balance", "ledger = counters (ledger_check)"}
    assert broken["no negative balance"] == [f"subscription {sub.pk}: balance -1"]

    # 60 allocated (as counted), 13 cancelled, the last cancel past the free 50: over 20 %
    Subscription.objects.filter(pk=sub.pk).update(balance=7, allocated_total=60)
    BranchAccount.objects.filter(shop=shop_a).update(cancelled_total=13, cancel_basis=60)
    broken = _broken(check())
    assert broken[CAP] == [
        f"shop {shop_a.pk} branch {sub.branch_id}: 13 cancelled of 60 allocated (last cancel at 60)"
    ]
    assert "allocated_total = count(waybills), per subscription" in broken


def test_cancels_made_while_at_most_50_were_allocated_are_allowed(shop_a):
    sub = open_service(shop_a, balance=10)
    _without_checks()
    # what the service allows: 50 allocated, 20 cancelled, then allocation goes on
    Subscription.objects.filter(pk=sub.pk).update(allocated_total=60, cancelled_total=20)
    BranchAccount.objects.create(
        shop=shop_a, branch_id=sub.branch_id, cancelled_total=20, cancel_basis=50
    )
    names = {c.name for c in check() if not c.ok}
    assert CAP not in names
