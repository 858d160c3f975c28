"""Numbers going back to a balance (recycling, 回收) and coming off it again (re-deduction
of a recycled number that showed tracking after all).

Recycling moves neither count of the cancel cap (:mod:`carriers.quota.cancel_cap`):
``allocated_total`` and the branch account stay as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.db import connection, transaction

from carriers.errors import QuotaInsufficient
from carriers.models import LedgerEntry, Subscription
from carriers.quota.ledger import ledger_post

#: one statement: every subscription's balance and ``recycled_total`` move up by its count
#: and one ledger entry per subscription records it (the balance after, as the UPDATE left
#: it). The ids are passed sorted; the planner, not the array, decides the order in which
#: the rows are locked (a sweep runs alone, under its advisory lock).
_RETURN_SQL = """
WITH per_sub AS (
    SELECT subscription_id, n
      FROM unnest(%(ids)s::bigint[], %(counts)s::integer[]) AS t(subscription_id, n)
), returned AS (
    UPDATE carriers_subscription s
       SET balance = s.balance + per_sub.n, recycled_total = s.recycled_total + per_sub.n
      FROM per_sub
     WHERE s.id = per_sub.subscription_id
 RETURNING s.id, s.balance, per_sub.n
)
INSERT INTO carriers_ledgerentry (subscription_id, kind, amount, balance_after, at, actor,
                                  note, reference)
SELECT id, %(kind)s, n, balance, %(at)s, 'system', %(note)s, %(reference)s
  FROM returned
"""


def quota_return_recycled(
    *, per_subscription: Mapping[int, int], at: datetime, note: str, reference: str
) -> int:
    """Give recycled numbers back: ``per_subscription`` maps a subscription id to how many
    of its numbers were recycled. Returns the ledger entries written (one per subscription).

    Set-based, one statement, in the caller's transaction (the one that marked the numbers
    recycled), so the numbers and the balances move together or not at all."""
    returns = {sub: n for sub, n in sorted(per_subscription.items()) if n > 0}
    if not returns:
        return 0
    with transaction.atomic(savepoint=False), connection.cursor() as cur:
        cur.execute(
            _RETURN_SQL,
            {
                "ids": list(returns),
                "counts": list(returns.values()),
                "kind": LedgerEntry.Kind.RECYCLE_RETURN.value,
                "at": at,
                "note": note[:200],
                "reference": reference[:64],
            },
        )
        return cur.rowcount


def quota_rededuct(
    *, subscription: Subscription, count: int, reference: str, note: str = ""
) -> bool:
    """Deduct ``count`` numbers again (a recycled number showed tracking: the parcel was
    handed over after all). False, and nothing changed, while the balance cannot cover it:
    the deduction is owed and the caller tries again later."""
    try:
        ledger_post(
            subscription=subscription,
            kind=LedgerEntry.Kind.REDEDUCTION,
            amount=-count,
            note=note,
            reference=reference,
        )
    except QuotaInsufficient:
        return False
    return True
