"""An order's history as sentences: "2026-12-06 10:02 王经理 取号 中通快递 73000000000031".

Every :class:`~shops.models.OrderEvent` (state moves, the time rules, waybill numbers taken
and cancelled, labels printed, shipping) reads as when, who (by name: the member's name,
the API token's, the branch's, 系统; :mod:`waybill_console.actors`) and what, with the
carrier by name and the number where the event has one. Events never carry consumer
data, so neither does the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from shops.models import Order, OrderEvent, Shop
from waybill_console.actors import actor_names
from waybill_console.tenancy import Actor

#: event kind -> what happened
WHAT = {
    "created": _("Order created"),
    "pay": _("Marked as paid"),
    "ready": _("Marked ready to ship"),
    "ship": pgettext_lazy("order history", "Shipped"),
    "picked_up": pgettext_lazy("order history", "Picked up"),
    "in_transit": pgettext_lazy("order history", "In transit"),
    "deliver": pgettext_lazy("order history", "Delivered"),
    "fail_delivery": _("Delivery failed"),
    "return": pgettext_lazy("order history", "Returned"),
    "returned": pgettext_lazy("order history", "Returned"),
    "cancel": _("Order cancelled"),
    "cancel_requested": _("Buyer asked to cancel"),
    "cancel_rejected": _("Cancellation rejected"),
    "after_sale_started": _("After-sale opened"),
    "after_sale_closed": _("After-sale closed"),
    "address_changed": _("Receiver changed"),
    "payment_reminder_15m": _("Payment reminder sent"),
    "payment_reminder_16h": _("Payment reminder sent"),
    "sla_at_risk": _("Deadline near"),
    "sla_breached": _("Deadline missed"),
    "waybill_allocated": _("Waybill number taken"),
    "waybill_cancelled": _("Waybill number cancelled"),
    "label_printed": _("Label printed"),
    "reprint": _("Label reprinted"),
}
REPRINTED = WHAT["reprint"]
REROUTED = _("Re-routed")
SHIPPED_BY_HAND = _("Shipped by hand")
UPDATED = _("Order updated")

#: why an order was cancelled (``data.by``)
CANCELLED_BY = {
    "seller": _("by the seller"),
    "buyer_request": _("at the buyer's request"),
    "unpaid_timeout": _("not paid within 48 hours"),
    "cancel_request_unanswered": _("cancellation request not answered within 48 hours"),
}

#: the deadlines an order can miss (``Order.sla_breaches``, ``data.deadline``)
DEADLINES = {
    "ready_to_ship": _("Ship within 48 hours of payment"),
    "pickup": _("Picked up within 72 hours"),
    "in_transit": _("In transit within 120 hours of payment"),
}


def deadline_labels(names: list[str]) -> list[str]:
    """The missed deadlines of ``Order.sla_breaches`` as a person reads them."""
    return [str(DEADLINES.get(n, n)) for n in names]


@dataclass
class HistoryLine:
    at: datetime
    who: str
    what: str
    detail: str
    kind: str


def _number(data: dict, carrier_name) -> str:
    number = data.get("waybill_no") or data.get("tracking_no") or ""
    carrier = data.get("carrier") or ""
    return " ".join(p for p in (carrier_name(carrier) if carrier else "", number) if p)


def _line(event: OrderEvent, who: str, carrier_name, factories: dict[str, str]) -> HistoryLine:
    data = event.data or {}
    what = WHAT.get(event.kind, UPDATED)
    detail = ""
    if event.kind == "label_printed" and data.get("reprint"):
        what = REPRINTED
    if event.kind == "in_transit" and data.get("reroute"):
        what = REROUTED
    if event.kind == "ship" and data.get("by_hand"):
        what = SHIPPED_BY_HAND
    if event.kind in ("ship", "waybill_allocated", "waybill_cancelled", "label_printed", "reprint"):
        detail = _number(data, carrier_name)
        if event.kind == "waybill_allocated" and data.get("packages", 1) > 1:
            detail += " " + gettext("(%(n)s packages)") % {"n": data["packages"]}
    elif event.kind == "address_changed" and data.get("waybill_no"):
        detail = gettext("also on waybill %(number)s") % {"number": data["waybill_no"]}
    elif event.kind == "cancel":
        detail = str(CANCELLED_BY.get(data.get("by", ""), ""))
    elif event.kind in ("sla_at_risk", "sla_breached"):
        detail = str(DEADLINES.get(data.get("deadline", ""), ""))
    elif event.kind == "created" and data.get("import"):
        detail = gettext("imported from %(file)s") % {"file": data["import"]}
    elif event.kind in ("cancel_requested", "after_sale_started") and data.get("reason"):
        detail = data["reason"]
    if data.get("dropship_factory"):
        who = factories.get(data["dropship_factory"], who)
    return HistoryLine(at=event.at, who=who, what=str(what), detail=detail, kind=event.kind)


def order_history(*, actor: Actor, order: Order) -> list[HistoryLine]:
    """The order's events, oldest first, as sentences (the order was scoped by the caller's
    ``order_get``; names are looked up for the actor's shop)."""
    from carriers.selectors import carrier_name
    from shops.selectors import order_events

    events = list(order_events(order=order))
    names = actor_names([e.actor for e in events], shop=actor.require_shop())
    factory_nos = {(e.data or {}).get("dropship_factory") for e in events} - {None}
    factories = {}
    if factory_nos:
        factories = {
            no: gettext("Factory %(name)s") % {"name": name}
            for no, name in Shop.objects.filter(shop_no__in=factory_nos).values_list(
                "shop_no", "name"
            )
        }
    return [_line(e, names[e.actor], carrier_name, factories) for e in events]
