"""The order's waybill mark (``has_waybill``, ``carrier_code``, ``tracking_no``): the number
of its live parent package, or none. Shops owns it; the waybill engine marks through these.

``MARK_NUMBERED_CTE`` is a fragment of the engine's commit statement (CTE ``o`` over the
inserted waybills ``w``), so the mark changes in the same statement as the numbers: only a
parent package (1) drawn by the order's own shop marks it (a factory's 代发 number and
appended sub numbers do not).
"""

from __future__ import annotations

from django.db import connection

MARK_NUMBERED_CTE = """o AS (
    UPDATE shops_order o
       SET has_waybill = true, carrier_code = %s, tracking_no = w.waybill_no
      FROM w
     WHERE o.id = w.order_id AND o.shop_id = w.shop_id AND w.package_no = 1
)"""

_REFRESH_SQL = """
UPDATE shops_order o
   SET has_waybill = p.waybill_no IS NOT NULL,
       tracking_no = coalesce(p.waybill_no, ''),
       carrier_code = coalesce(p.code, '')
  FROM unnest(%(orders)s::bigint[]) AS t(id)
  LEFT JOIN LATERAL (
       SELECT w.waybill_no, c.code FROM waybills_waybill w
         JOIN carriers_carrier c ON c.id = w.carrier_id
        WHERE w.order_id = t.id AND w.status = ANY(%(live)s)
        ORDER BY w.package_no LIMIT 1) p ON true
 WHERE o.id = t.id
   AND NOT (o.shipped_at IS NOT NULL AND o.tracking_no <> '' AND p.waybill_no IS NULL)
   AND (o.has_waybill, o.tracking_no, o.carrier_code)
       IS DISTINCT FROM (p.waybill_no IS NOT NULL, coalesce(p.waybill_no, ''),
                         coalesce(p.code, ''))
"""


def order_marks_refresh(*, order_ids: list[int], live_statuses: list[str]) -> int:
    """Each order shows the number of its live parent, or none; a shipped order keeps the
    number it shipped under when none is live any more. Returns the orders changed."""
    if not order_ids:
        return 0
    with connection.cursor() as cur:
        cur.execute(_REFRESH_SQL, {"orders": sorted(set(order_ids)), "live": live_statuses})
        return cur.rowcount
