"""What the orders tell the shops that listen (``events``): an order taken in
(``order.created``), a buyer's cancellation request, an after-sale opened, a deadline near
or missed (``sla.at_risk`` / ``sla.missed``).

Each is written in the transaction of its change (the transactional outbox,
``events.services.outbox``), with the order as ``GET /api/v1/orders/`` shows it (receiver
masked) and a link to its page. Nothing is built for a shop nobody listens to
(``order.created`` goes to endpoints only; the others tell people too).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.urls import reverse

from events.services.outbox import emit_many, wanted
from events.services.outbox_sql import api_json
from shops.models import Order

CREATED = "order.created"
CANCEL_REQUESTED = "order.cancel_requested"
AFTER_SALE = "order.after_sale"
SLA_AT_RISK = "sla.at_risk"
SLA_MISSED = "sla.missed"


def order_data(order: Order) -> dict:
    """The order as the API shows it to its shop."""
    from shops.api.serializers import OrderSerializer

    return api_json(OrderSerializer(order).data)


def order_link(order_id: int) -> str:
    return reverse("console:order_detail", args=[order_id])


def orders_emit(type_name: str, orders: Iterable[Order] | Iterable[int]) -> int:
    """One event per order (objects or ids) for the shops that listen, in the caller's
    transaction; the orders are read again with their items, once (a 10,000-line import
    is two queries)."""
    ids = [o.pk if isinstance(o, Order) else o for o in orders]
    if not ids:
        return 0
    shops = set(Order.objects.filter(pk__in=ids).values_list("shop_id", flat=True).distinct())
    listening = [s for s in shops if wanted(s, type_name)]
    if not listening:
        return 0
    rows = (
        Order.objects.filter(pk__in=ids, shop_id__in=listening)
        .prefetch_related("items")
        .order_by("pk")
    )
    return emit_many(type_name, [(o.shop_id, order_data(o), order_link(o.pk)) for o in rows])


def order_emit(type_name: str, order: Order) -> int:
    """One order's event (its shop known: no query to learn whether it listens)."""
    if not wanted(order.shop_id, type_name):
        return 0
    return emit_many(type_name, [(order.shop_id, order_data(order), order_link(order.pk))])
