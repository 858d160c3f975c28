"""Recycling (回收) of unused numbers, franchise carriers only, set-based and chunked.

* cancelled by the merchant, no tracking, 15 natural days after the cancel;
* never cancelled (still ``allocated``), no tracking, 30 natural days after its last change.

Each chunk is its own transaction of three statements. The first picks up to
``batch_size`` candidates in id order over a partial index (``FOR UPDATE SKIP LOCKED``,
so a tracking event being written is simply left for the next sweep), marks them
recycled and counts them per subscription; the second is the quota owner's
(:func:`carriers.quota.quota_return_recycled`): it returns each subscription's count to
its balance and ``recycled_total`` with one ledger entry per subscription and chunk; the
third clears the waybill mark of the orders left without a live number; then, for the
shops that listen, one ``waybill.recycled`` event per number (one INSERT). Recycling moves
neither count of the cancel cap.
A second sweep at the same time does nothing (advisory lock).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from carriers.models import Carrier
from carriers.quota import quota_return_recycled
from shops.services.order_marks import order_marks_refresh
from waybill_console.locks import advisory_lock
from waybills.models import LIVE_STATUSES, Violation
from waybills.services.waybill_outbox import recycled_emit

CANCELLED_RECYCLE_AFTER = timedelta(days=15)
IDLE_RECYCLE_AFTER = timedelta(days=30)
BATCH_SIZE = 5000

_CHUNK_SQL = """
WITH c AS (
    SELECT id FROM waybills_waybill
     WHERE status = %(status)s AND NOT has_tracking AND id > %(after)s
       AND {column} <= %(cutoff)s AND carrier_id = ANY(%(carriers)s)
     ORDER BY id
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
), u AS (
    UPDATE waybills_waybill w
       SET status = 'recycled', recycled_at = %(at)s
      FROM c
     WHERE w.id = c.id
 RETURNING w.id, w.subscription_id, w.order_id, w.shop_id
), per_sub AS (
    SELECT subscription_id, count(*) AS n FROM u GROUP BY subscription_id
)
SELECT (SELECT max(id) FROM c), (SELECT count(*) FROM u), (SELECT array_agg(order_id) FROM u),
       (SELECT array_agg(subscription_id ORDER BY subscription_id) FROM per_sub),
       (SELECT array_agg(n ORDER BY subscription_id) FROM per_sub),
       (SELECT array_agg(id) FROM u), (SELECT array_agg(DISTINCT shop_id) FROM u)
"""

RULES = (
    # (name, status, column holding the start of the wait, wait)
    ("cancelled", "cancelled", "cancelled_at", CANCELLED_RECYCLE_AFTER),
    ("idle", "allocated", "last_changed_at", IDLE_RECYCLE_AFTER),
)


def waybills_recycle(*, as_of: datetime | None = None, batch_size: int = BATCH_SIZE) -> dict:
    """One sweep; returns how many numbers each rule recycled (and owed deductions settled)."""
    at = as_of or timezone.now()
    carriers = list(Carrier.objects.filter(network_type="franchise").values_list("pk", flat=True))
    counts = {"cancelled": 0, "idle": 0, "settled": 0}
    with advisory_lock("waybills.recycle") as acquired:
        if not acquired:
            return {**counts, "skipped": True}
        for name, status, column, wait in RULES:
            after = 0
            while True:
                with transaction.atomic(), connection.cursor() as cur:
                    cur.execute(
                        _CHUNK_SQL.format(column=column),
                        {
                            "status": status,
                            "after": after,
                            "cutoff": at - wait,
                            "carriers": carriers,
                            "limit": batch_size,
                            "at": at,
                        },
                    )
                    last_id, recycled, order_ids, sub_ids, sub_counts, ids, shops = cur.fetchone()
                    if sub_ids:
                        quota_return_recycled(
                            per_subscription=dict(zip(sub_ids, sub_counts, strict=True)),
                            at=at,
                            note=f"recycling sweep ({name})",
                            reference=f"recycle:{at:%Y%m%d%H%M}",
                        )
                    if order_ids:  # orders left without a live number lose their mark
                        order_marks_refresh(
                            order_ids=order_ids, live_statuses=[st.value for st in LIVE_STATUSES]
                        )
                    if ids:
                        recycled_emit(ids=ids, shop_ids=shops)
                if last_id is None:
                    break
                counts[name] += recycled
                after = last_id
        counts["settled"] = violations_settle_owed(at=at)
    return counts


def violations_settle_owed(*, at: datetime) -> int:
    """Deduct re-deductions that were owed because the balance was empty."""
    from waybills.services.tracking import violation_settle

    settled = 0
    owed = Violation.objects.filter(deducted_at=None).select_related("subscription", "waybill")
    for violation in owed.order_by("id").iterator(chunk_size=500):
        settled += violation_settle(violation=violation, at=at)
    return settled
