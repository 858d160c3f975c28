"""取号 for another shop's order: a factory draws a number from **its own** subscription for
a merchant's order it was handed (代发). The factory's account is charged and the waybill
belongs to the factory's shop (its usage details and reconciliation list it); the order
stays the merchant's.

Two steps, so that the caller can hold its own locks around the write:
:func:`waybill_prepare_on_behalf` screens and issues the number (gateway calls, outside any
transaction), :func:`waybill_commit_on_behalf` inserts the waybill and draws the quota
inside the caller's transaction (the caller has locked the order row, which serialises the
package numbering of one order).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Max
from django.utils import timezone

from carriers import errors as carrier_errors
from carriers.gateways import gateway_for
from carriers.models import Subscription
from shops.errors import OrderBlocked
from shops.models import AfterSaleStatus, Order, OrderStatus
from waybill_console import permissions as perms
from waybill_console.tenancy import Actor
from waybills.errors import OrderNotAllocatable
from waybills.models import LIVE_STATUSES, Waybill
from waybills.services.allocation import (
    ALLOCATABLE,
    USABLE,
    _build,
    _draw,
    _receiver,
    _sender,
    resolve_subscription,
)

#: items of one order at two factories ship independently: once one factory's part has
#: shipped (the order is shipped), the other factory still takes its number
ON_BEHALF_STATUSES = ALLOCATABLE | {OrderStatus.SHIPPED}


def _check_order(order: Order) -> None:
    if order.status not in ON_BEHALF_STATUSES:
        raise OrderNotAllocatable(status=order.get_status_display())
    if order.after_sale_status == AfterSaleStatus.IN_PROGRESS:
        raise OrderBlocked(reason=str(AfterSaleStatus.IN_PROGRESS.label))


#: a factory's numbers for an order are its packages 101, 102, … (one per factory part),
#: apart from the merchant's own 1…20, so neither ever takes the other's package slot
PACKAGE_BASE = 100


def waybill_prepare_on_behalf(
    *,
    actor: Actor,
    order: Order,
    sender: dict | None,
    items: list,
    subscription: int | Subscription | None = None,
    carrier: str = "",
    now: datetime | None = None,
) -> tuple[Waybill, Subscription]:
    """Screen the receiver and issue one number from the actor's own (or shared)
    subscription; nothing is written. The caller has checked it may act on ``order``."""
    actor.require(perms.WAYBILL_ALLOCATE)
    shop = actor.require_shop()
    sub = resolve_subscription(actor=actor, subscription=subscription, carrier=carrier)
    if sub.status not in USABLE:
        raise carrier_errors.SubscriptionNotActive(status=sub.get_status_display())
    _check_order(order)
    gateway = gateway_for(sub.carrier.code)
    screen = gateway.screen(subscription=sub, receiver=_receiver(order), services=None)
    number = gateway.issue_numbers(subscription=sub, count=1)[0]
    at = now or timezone.now()
    waybill = _build(
        order=order,
        sub=sub,
        screen=screen,
        number=number,
        package_no=1,
        at=at,
        actor=actor,
        sender=sender or _sender(sub),  # none given: the subscription's shipping address
        items=items,
    )
    waybill.shop_id = shop.pk
    waybill.shop = shop
    return waybill, sub


def waybill_commit_on_behalf(
    *, actor: Actor, waybill: Waybill, subscription: Subscription
) -> Waybill:
    """Insert the prepared waybill as the order's next package and draw the quota, last
    (inside the caller's transaction, with the order row locked)."""
    top = (
        Waybill.objects.filter(
            order_id=waybill.order_id, status__in=LIVE_STATUSES, package_no__gt=PACKAGE_BASE
        )
        .aggregate(top=Max("package_no"))
        .get("top")
    )
    waybill.package_no = (top or PACKAGE_BASE) + 1
    waybill.save(force_insert=True)
    _draw(
        sub=subscription,
        count=1,
        at=waybill.allocated_at,
        actor=actor,
        reference=f"order:{waybill.order_id}",
    )
    return waybill
