"""Orders: the states, the moves between them and the deadlines (SLAs).

Time rules (DESIGN.md, Orders):

* unpaid: payment reminders at 15 min and 16 h after creation, cancelled at 48 h;
* paid: ready to ship within 48 h of payment, picked up within 72 h after that,
  in transit within 120 h of payment (``sla_due_at`` is the next of these still open);
  a pre-sale order (预售) counts them from its promised ship date when that is later
  (:func:`sla_clock_start`);
* a buyer's cancellation request is answered within 48 h or the order is cancelled;
* a failed delivery may be re-routed once, within 12 days; after that it is returned.

All status moves go through :func:`order_transition`, which refuses moves not in
``TRANSITIONS`` and records an :class:`~shops.models.OrderEvent`. The actions live in
``shops.services.orders`` (pay, cancel, after-sale, address, re-route),
``shops.services.order_shipping`` (ship, carrier progress) and the time-rule sweep in
``shops.services.order_sweep``; order intake in ``shops.services.order_intake``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shops.errors import (
    AlreadyShipped,
    OrderBlocked,
    OrderNotAllocatable,
    OrderNotDropshippable,
    OrderStateConflict,
)
from shops.models import AfterSaleStatus, CancelRequestStatus, Order, OrderEvent, OrderStatus
from waybill_console.tenancy import Actor

S = OrderStatus

REMINDER_AFTER = (timedelta(minutes=15), timedelta(hours=16))
UNPAID_CANCEL_AFTER = timedelta(hours=48)
CANCEL_REQUEST_ANSWER_WITHIN = timedelta(hours=48)
READY_TO_SHIP_WITHIN = timedelta(hours=48)
PICKUP_WITHIN = timedelta(hours=72)
IN_TRANSIT_WITHIN = timedelta(hours=120)
REROUTE_WITHIN = timedelta(days=12)
AT_RISK_WINDOW = timedelta(hours=12)

#: action -> (allowed from, to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "pay": (frozenset({S.UNPAID}), S.PAID),
    "ready": (frozenset({S.PAID}), S.READY_TO_SHIP),
    "ship": (frozenset({S.PAID, S.READY_TO_SHIP}), S.SHIPPED),
    "in_transit": (frozenset({S.SHIPPED, S.DELIVERY_FAILED}), S.IN_TRANSIT),
    "deliver": (frozenset({S.SHIPPED, S.IN_TRANSIT}), S.DELIVERED),
    "fail_delivery": (frozenset({S.SHIPPED, S.IN_TRANSIT}), S.DELIVERY_FAILED),
    "return": (frozenset({S.DELIVERY_FAILED}), S.RETURNED),
    "cancel": (frozenset({S.UNPAID, S.PAID, S.READY_TO_SHIP}), S.CANCELLED),
}
SHIPPABLE = TRANSITIONS["ship"][0]
NOT_YET_SHIPPED = frozenset({S.UNPAID, S.PAID, S.READY_TO_SHIP})


def current_time(now: datetime | None) -> datetime:
    return now or timezone.now()


def order_event_record(
    order: Order, kind: str, *, actor: Actor | None, at: datetime, **data
) -> None:
    OrderEvent.objects.create(
        order=order, at=at, kind=kind, actor=actor.describe() if actor else "system", data=data
    )


def sla_clock_start(order: Order) -> datetime | None:
    """When the logistics clocks start: the payment, or a pre-sale order's promised ship
    date (预售发货时间) when that is later. Every deadline counts from here (the one rule)."""
    if order.paid_at is None:
        return None
    promised = order.promised_ship_at
    return promised if promised is not None and promised > order.paid_at else order.paid_at


def sla_pickup_due(order: Order, start: datetime) -> datetime:
    """Picked up within 72 h of being ready (or shipped), never counted from before the
    clock start (a pre-sale parcel labelled early is due 72 h after the promised date)."""
    base = max(order.ready_to_ship_at or order.shipped_at or start, start)
    return base + PICKUP_WITHIN


def sla_next_due(order: Order) -> datetime | None:
    """The earliest logistics deadline the order still has to meet, if any."""
    start = sla_clock_start(order)
    if start is None or order.status in (S.UNPAID, S.CANCELLED):
        return None
    if order.status == S.PAID:
        return start + READY_TO_SHIP_WITHIN
    if order.status in (S.READY_TO_SHIP, S.SHIPPED) and order.picked_up_at is None:
        return min(sla_pickup_due(order, start), start + IN_TRANSIT_WITHIN)
    if order.status in (S.READY_TO_SHIP, S.SHIPPED):
        return start + IN_TRANSIT_WITHIN
    return None


def order_refuse_transition(order: Order, action: str) -> None:
    """Refuse a move the ``TRANSITIONS`` table does not allow from the order's status: a
    second ship is ALREADY_SHIPPED, any other ORDER_STATE_CONFLICT (``detail.status``).
    :func:`order_transition` applies it; a door may ask it first (the scan page)."""
    allowed, _target = TRANSITIONS[action]
    if order.status not in allowed:
        if action == "ship" and order.status not in NOT_YET_SHIPPED | {S.CANCELLED}:
            raise AlreadyShipped()
        raise OrderStateConflict(
            status=order.get_status_display(), detail={"status": order.status, "action": action}
        )


def order_transition(
    order: Order, action: str, *, actor: Actor | None, at: datetime, **data
) -> Order:
    order_refuse_transition(order, action)
    target = TRANSITIONS[action][1]
    previous = order.status
    order.status = target
    stamp = {
        "pay": "paid_at",
        "ready": "ready_to_ship_at",
        "ship": "shipped_at",
        "in_transit": "in_transit_at",
        "deliver": "delivered_at",
        "fail_delivery": "failed_at",
        "cancel": "cancelled_at",
    }.get(action)
    if stamp and (getattr(order, stamp) is None or action in ("fail_delivery",)):
        setattr(order, stamp, at)
    order.sla_due_at = sla_next_due(order)
    order.save()
    order_event_record(
        order, action, actor=actor, at=at, status_from=previous, status_to=target, **data
    )
    if action == "cancel":
        order_blocked_notify(order, "order_cancelled", at)
    return order


#: Called with the order locked, inside its transaction, when an event makes it impossible to
#: hand the order to a factory (after-sale opened, a cancellation requested, the order
#: cancelled): ``handler(order=…, reason=…, at=…)``. ``dropship`` registers the one that
#: cancels the order's open allocations (``dropship.apps``); shops never imports it.
ORDER_BLOCK_HANDLERS: list = []


def order_blocked_notify(order: Order, reason: str, at: datetime) -> None:
    for handler in ORDER_BLOCK_HANDLERS:
        handler(order=order, reason=reason, at=at)


def order_lock(order: Order) -> Order:
    return Order.objects.select_for_update().get(pk=order.pk)


#: what an order is checked for before it is used (:func:`order_refuse_if_blocked`):
#:
#: ``allocate``            取号 for the shop's own order (every door: page, API, batch, 子母件);
#: ``allocate_on_behalf``  a factory's 取号 for a merchant's order (代发);
#: ``hand_to_factory``     the merchant hands items or the order to a factory (分配);
#: ``print``               a label of a live number is rendered or sent to a printer;
#: ``ship``                the order ships (with a platform number, by hand, or a factory's part).
PURPOSES = frozenset({"allocate", "allocate_on_behalf", "hand_to_factory", "print", "ship"})
#: paid and not yet shipped: the orders numbers are drawn for and handed to factories
ALLOCATABLE = frozenset({S.PAID, S.READY_TO_SHIP})
#: the reasons ORDER_BLOCKED gives, as the merchant and the factory read them (审核中 is the
#: platform's word for an order whose buyer asked to cancel)
AFTER_SALE_REASON = AfterSaleStatus.IN_PROGRESS.label
UNDER_REVIEW_REASON = _("under review (cancellation requested)")


def order_refuse_if_blocked(order: Order, *, purpose: str, also_shipped: bool = False) -> None:
    """The one rule of "this order is blocked", for every door that uses an order.

    In this order (the lasting reason first):

    * The order's status: ``allocate`` and ``allocate_on_behalf`` need a paid order not
      yet shipped (ORDER_NOT_ALLOCATABLE); ``allocate_on_behalf`` also takes a shipped
      order when ``also_shipped`` (another factory's part went out: items at two factories
      ship independently; only the caller knows that). ``hand_to_factory`` needs the same
      statuses (ORDER_STATE_CONFLICT, ``detail.status``). ``print`` has no status rule (a
      live number prints) and ``ship``'s is the ``TRANSITIONS`` table's
      (:func:`order_transition`).
    * After-sale in progress (售后中) refuses every purpose (ORDER_BLOCKED,
      ``detail.after_sale_status``).
    * A buyer's cancellation request waiting for its answer (审核中) refuses every purpose
      too, printing included: a printed label goes on a parcel the courier takes away,
      so it waits for the answer like shipping does (ORDER_BLOCKED,
      ``detail.cancel_request_status``).

    The caller passes the order as it will act on it: read with the order row locked where
    the action writes under that lock. Rules of one door only (a receiver changed after the
    number was drawn, for printing) stay with that door."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}; one of {sorted(PURPOSES)}")
    if also_shipped and purpose != "allocate_on_behalf":
        raise ValueError("also_shipped is for purpose='allocate_on_behalf' only")
    if purpose in ("allocate", "allocate_on_behalf"):
        allowed = ALLOCATABLE | {S.SHIPPED} if also_shipped else ALLOCATABLE
        if order.status not in allowed:
            raise OrderNotAllocatable(status=order.get_status_display())
    elif purpose == "hand_to_factory" and order.status not in ALLOCATABLE:
        raise OrderNotDropshippable(
            status=order.get_status_display(), detail={"status": order.status}
        )
    blocked = order_block(order)
    if blocked is not None:
        raise blocked


def order_block(order: Order) -> OrderBlocked | None:
    """The ORDER_BLOCKED refusal :func:`order_refuse_if_blocked` gives the order for every
    purpose (after-sale in progress first, then a cancellation request under review), or
    None. Pages show it up front instead of offering 取号 or 发货 (``detail`` says which
    one: ``after_sale_status`` or ``cancel_request_status``)."""
    if order.after_sale_status == AfterSaleStatus.IN_PROGRESS:
        return OrderBlocked(
            reason=str(AFTER_SALE_REASON),
            detail={"after_sale_status": order.after_sale_status},
        )
    if order.cancel_request_status == CancelRequestStatus.PENDING:
        return OrderBlocked(
            reason=str(UNDER_REVIEW_REASON),
            detail={"cancel_request_status": order.cancel_request_status},
        )
    return None


def reroute_window_open(*, failed_at: datetime, at: datetime) -> bool:
    """The 12 days (included) after a failed delivery in which it may be re-routed; the
    sweep returns the parcel once this is over."""
    return at - failed_at <= REROUTE_WITHIN
