"""Shipping an order with one of its platform waybill numbers (one or a batch of up to 500)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from shops.models import Address, Order
from shops.services.order_shipping import BATCH_SHIP_LIMIT
from shops.services.order_states import SHIPPABLE, order_refuse_if_blocked, order_transition
from waybill_console import permissions as perms
from waybill_console.errors import AppError, NotFound, ValidationError
from waybill_console.tenancy import Actor
from waybills.errors import BatchShipTooLarge, WaybillOrderMismatch
from waybills.models import LIVE_STATUSES, Waybill


def waybill_ship(
    *,
    actor: Actor,
    order: Order,
    waybill_no: str,
    return_address_id: int | None = None,
    now: datetime | None = None,
) -> Order:
    """Ship the order with one of its live numbers; a second ship gets ALREADY_SHIPPED."""
    actor.require(perms.SHIP)
    shop = actor.require_shop()
    if order.shop_id != shop.pk:
        raise NotFound()
    waybill_no = (waybill_no or "").strip().upper()
    address = None
    if return_address_id:
        address = Address.objects.filter(shop=shop, pk=return_address_id).first()
        if address is None:
            raise ValidationError.for_fields(
                return_address=gettext("Not one of this shop's addresses.")
            )
    at = now or timezone.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status not in SHIPPABLE:
            order_transition(order, "ship", actor=actor, at=at)  # ALREADY_SHIPPED…
        waybill = Waybill.objects.filter(  # the order's own numbers, not a factory's (代发)
            order_id=order.pk,
            shop_id=order.shop_id,
            waybill_no=waybill_no,
            status__in=LIVE_STATUSES,
        ).first()
        if waybill is None:
            raise WaybillOrderMismatch(detail={"waybill_no": waybill_no})
        order_refuse_if_blocked(order, purpose="ship")
        order.carrier_code, order.tracking_no = waybill.carrier.code, waybill.waybill_no
        order.has_waybill, order.shipped_by_hand = True, False
        order.return_address = address or order.return_address
        order_transition(
            order, "ship", actor=actor, at=at, carrier=waybill.carrier.code, waybill_no=waybill_no
        )
    return order


def waybill_ship_batch_refuse_if_too_large(count: int) -> None:
    """批量发货 takes at most 500 orders: more is refused before anything ships (and
    before a page asks to confirm), naming how many were selected."""
    if count > BATCH_SHIP_LIMIT:
        raise BatchShipTooLarge(limit=BATCH_SHIP_LIMIT, count=count, detail={"count": count})


def waybill_ship_batch(
    *,
    actor: Actor,
    shipments: list[dict],
    return_address_id: int | None = None,
    selected: int | None = None,
) -> list[dict]:
    """Up to 500 orders, each ``{"order": id, "waybill_no": …}`` (no number: the order's own
    live parent number). One result per order; a failure never stops the others.

    ``selected``: how many orders the merchant selected, when the caller passes only the
    first ones of a larger selection ("all N matching"): more than 500 is refused before
    anything is shipped, naming N."""
    from shops.selectors import order_get

    waybill_ship_batch_refuse_if_too_large(max(len(shipments), selected or 0))
    actor.require(perms.SHIP)
    results = []
    for entry in shipments:
        try:
            order = order_get(actor=actor, order_id=int(entry.get("order")))
            number = entry.get("waybill_no") or order.tracking_no
            order = waybill_ship(
                actor=actor,
                order=order,
                waybill_no=number,
                return_address_id=return_address_id,
            )
            results.append({"order": order.pk, "ok": True, "waybill_no": order.tracking_no})
        except AppError as err:
            results.append({"order": entry.get("order"), "ok": False, "error": err.as_dict()})
        except (TypeError, ValueError):
            results.append(
                {
                    "order": entry.get("order"),
                    "ok": False,
                    "error": ValidationError.for_fields(order=gettext("An order id.")).as_dict(),
                }
            )
    return results
