"""修改收件信息: the console's one door to change an order's receiver.

It decides nothing itself: an order that carries a live number of its own shop changes its
receiver on that number (:func:`~waybills.services.changes.waybill_update`: re-screened,
written to the order and to all its packages in one transaction, refused once the parcel
was picked up); any other order (no number yet, or a factory's number for it, 代发) goes
through :func:`~shops.services.orders.order_change_address` (before shipping only; a
factory's label then waits for its own reprint rule). Both record the order's
``address_changed`` event, with no consumer data.
"""

from __future__ import annotations

from datetime import datetime

from carriers import errors as carrier_errors
from shops.models import Order
from shops.services.orders import order_change_address
from waybill_console import permissions as perms
from waybill_console.errors import NotFound
from waybill_console.tenancy import Actor
from waybills.services.changes import waybill_update
from waybills.services.resolve import live_waybills

#: 面单异常 a corrected receiver can clear: the screening refusals of an address
RECEIVER_PROBLEM_CODES = frozenset(
    cls.code
    for cls in (
        carrier_errors.AddressUnparseable,
        carrier_errors.ScreenNoAttribute,
        carrier_errors.ScreenPartialDelivery,
        carrier_errors.ScreenNotFullTerritory,
        carrier_errors.OutOfRange,
    )
)


def order_receiver_change(
    *, actor: Actor, order: Order, receiver: dict, now: datetime | None = None
) -> Order:
    """Change the receiver of one of the actor's shop's orders; returns the order as saved.

    Needs ``order.manage`` (the permission that guards an order's address); an order with
    a number also needs ``waybill.allocate`` (the number's own rule). Refusals
    (``VALIDATION_ERROR`` with the fields, ``ORDER_STATE_CONFLICT``,
    ``WAYBILL_NOT_UPDATABLE``, a screening refusal of the new address) write nothing."""
    actor.require(perms.ORDER_MANAGE)
    if order.shop_id != actor.require_shop().pk:
        raise NotFound()
    numbered = [w for w in live_waybills(order.pk, order.shop_id) if w.parent_id is None]
    if numbered:
        waybill_update(actor=actor, waybill=numbered[0], receiver=receiver, now=now)
        return Order.objects.get(pk=order.pk)
    return order_change_address(actor=actor, order=order, receiver=receiver, now=now)
