"""The order history's waybill events (取号, 取消面单, 打印面单): written here, by the app
that owns ``OrderEvent``, for the waybill engine and printing.

``WAYBILL_ALLOCATED_CTE`` is a fragment of the engine's commit statement (CTE ``ev`` over
the inserted waybills ``w``, parameters: the time, the actor string, the carrier code), so
the event is written in the same statement as the numbers: one event per order and commit
naming its first number and how many packages it took, and only for numbers the order's
own shop drew (a factory's 代发 number is the factory's business). Cancels and prints go
through :func:`order_waybill_events_record`. No event carries consumer data.
"""

from __future__ import annotations

from datetime import datetime

from shops.models import Order, OrderEvent

WAYBILL_ALLOCATED = "waybill_allocated"
WAYBILL_CANCELLED = "waybill_cancelled"
LABEL_PRINTED = "label_printed"

WAYBILL_ALLOCATED_CTE = f"""ev AS (
    INSERT INTO shops_orderevent (order_id, at, kind, actor, data)
    SELECT w.order_id, %s::timestamptz, '{WAYBILL_ALLOCATED}', left(%s::text, 60),
           jsonb_build_object(
               'waybill_no', (array_agg(w.waybill_no ORDER BY w.package_no))[1],
               'carrier', %s::text,
               'packages', count(*))
      FROM w JOIN shops_order so ON so.id = w.order_id AND so.shop_id = w.shop_id
     GROUP BY w.order_id
)"""  # nosec B608


def order_waybill_events_record(
    *, kind: str, waybills: list[dict], actor_name: str, at: datetime
) -> None:
    """One event per waybill (``{"order_id", "shop_id", "waybill_no", "carrier"}``, and
    ``reprint`` for a label printed before, ``packages`` for a group) on its order, for
    numbers the order's own shop holds (``shop_id``: the waybill's). ``kind``:
    :data:`WAYBILL_CANCELLED` or :data:`LABEL_PRINTED`."""
    if not waybills:
        return
    own = set(
        Order.objects.filter(pk__in={w["order_id"] for w in waybills}).values_list("pk", "shop_id")
    )
    OrderEvent.objects.bulk_create(
        OrderEvent(
            order_id=w["order_id"],
            at=at,
            kind=kind,
            actor=(actor_name or "system")[:60],
            data={k: w[k] for k in ("waybill_no", "carrier", "reprint", "packages") if w.get(k)},
        )
        for w in waybills
        if (w["order_id"], w["shop_id"]) in own
    )
