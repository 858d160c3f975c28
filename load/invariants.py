"""What must hold in the database after the load, whatever the traffic did.

Each check is SQL over the whole database (the load test's own, throwaway one) plus the
carriers' :func:`carriers.services.ledger_check`; :func:`check` returns every check
with the rows that break it (an empty list: it holds).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Check:
    name: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _rows(sql: str, params=None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(sql, params or [])
        return cur.fetchall()


def check(*, limit: int = 10) -> list[Check]:
    """Run every check; each lists at most ``limit`` offending rows."""
    from carriers.models import CANCEL_CAP_FREE_UP_TO, CANCEL_CAP_RATIO
    from carriers.services import ledger_check
    from waybills.models import LIVE_STATUSES

    checks = []

    c = Check("no duplicate (carrier, waybill_no)")
    for carrier_id, number, n in _rows(
        """SELECT carrier_id, waybill_no, count(*) FROM waybills_waybill
            GROUP BY carrier_id, waybill_no HAVING count(*) > 1
            ORDER BY carrier_id, waybill_no LIMIT %s""",
        [limit],
    ):
        c.problems.append(f"carrier {carrier_id} number {number}: {n} rows")
    checks.append(c)

    c = Check("no negative balance")
    for sub_id, balance in _rows(
        "SELECT id, balance FROM carriers_subscription WHERE balance < 0 ORDER BY id LIMIT %s",
        [limit],
    ):
        c.problems.append(f"subscription {sub_id}: balance {balance}")
    checks.append(c)

    c = Check("allocated_total = count(waybills), per subscription")
    for sub_id, counter, numbers in _rows(
        """SELECT s.id, s.allocated_total, count(w.id)
             FROM carriers_subscription s
             LEFT JOIN waybills_waybill w ON w.subscription_id = s.id
            GROUP BY s.id HAVING s.allocated_total <> count(w.id)
            ORDER BY s.id LIMIT %s""",
        [limit],
    ):
        c.problems.append(f"subscription {sub_id}: allocated_total {counter}, {numbers} numbers")
    checks.append(c)

    c = Check("ledger = counters (ledger_check)")
    for problem in ledger_check()[:limit]:
        c.problems.append(
            f"subscription {problem['subscription']}: {problem['field']} counter "
            f"{problem['counter']}, ledger {problem['ledger']}"
        )
    checks.append(c)

    # The cap counts per shop per carrier branch (all the shop's subscriptions there).
    # Up to 50 drawn every number may be cancelled, so a branch account can pass 50 with
    # more than 20 % cancelled; once past 50 no further cancel is allowed until the ratio
    # holds again. ``cancel_basis`` is the numbers drawn at the last cancel: when it is
    # ≤ 50 every cancel was a free one.
    c = Check(
        f"cancelled × {CANCEL_CAP_RATIO} ≤ allocated when allocated > "
        f"{CANCEL_CAP_FREE_UP_TO}, per shop and branch"
    )
    for shop_id, branch_id, allocated, cancelled, basis in _rows(
        """SELECT a.shop_id, a.branch_id, d.n, a.cancelled_total, a.cancel_basis
             FROM carriers_branchaccount a
             JOIN (SELECT shop_id, branch_id, sum(allocated_total) AS n
                     FROM carriers_subscription GROUP BY shop_id, branch_id) d
               ON d.shop_id = a.shop_id AND d.branch_id = a.branch_id
            WHERE d.n > %s AND a.cancelled_total * %s > d.n AND a.cancel_basis > %s
            ORDER BY a.shop_id, a.branch_id LIMIT %s""",
        [CANCEL_CAP_FREE_UP_TO, CANCEL_CAP_RATIO, CANCEL_CAP_FREE_UP_TO, limit],
    ):
        c.problems.append(
            f"shop {shop_id} branch {branch_id}: {cancelled} cancelled of {allocated} "
            f"allocated (last cancel at {basis})"
        )
    checks.append(c)

    c = Check("at most one live number per order package")
    for order_id, package_no, n in _rows(
        """SELECT order_id, package_no, count(*) FROM waybills_waybill
            WHERE status = ANY(%s)
            GROUP BY order_id, package_no HAVING count(*) > 1
            ORDER BY order_id, package_no LIMIT %s""",
        [[s.value for s in LIVE_STATUSES], limit],
    ):
        c.problems.append(f"order {order_id} package {package_no}: {n} live numbers")
    checks.append(c)
    return checks


def numbers_missing(numbers: list[str], *, limit: int = 10) -> Check:
    """Every number the API answered 201 for is in the database."""
    c = Check("every number answered 201 is in the database")
    if numbers:
        found = {
            n
            for (n,) in _rows(
                "SELECT waybill_no FROM waybills_waybill WHERE waybill_no = ANY(%s)", [numbers]
            )
        }
        missing = [n for n in dict.fromkeys(numbers) if n not in found]
        if missing:
            c.problems.append(f"{len(missing)} missing, e.g. {', '.join(missing[:limit])}")
    return c
