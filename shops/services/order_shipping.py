"""Orders: shipping with a hand-typed number (one or a batch of up to 500) and the
carrier's progress (picked up, in transit, delivered, failed)."""

from __future__ import annotations

import re
from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext

from shops.errors import PlatformWaybillRequired
from shops.models import Order
from shops.services.order_states import (
    SHIPPABLE,
    current_time,
    order_event_record,
    order_lock,
    order_refuse_if_blocked,
    order_transition,
    sla_next_due,
)
from waybill_console import permissions as perms
from waybill_console.errors import BatchTooLarge, ValidationError
from waybill_console.tenancy import Actor

BATCH_SHIP_LIMIT = 500


def order_ship_by_hand(
    *,
    actor: Actor,
    order: Order,
    carrier_code: str,
    tracking_no: str,
    return_address_id: int | None = None,
    now: datetime | None = None,
) -> Order:
    """Ship with a hand-typed tracking number (not allowed for no-source-risk shops)."""
    from carriers.models import Carrier
    from shops.models import Address

    actor.require(perms.SHIP)
    shop = actor.require_shop()
    if shop.no_source_risk:
        raise PlatformWaybillRequired()
    errors = {}
    carrier_code = (carrier_code or "").strip().upper()
    tracking_no = re.sub(r"\s", "", tracking_no or "").upper()
    if not Carrier.objects.filter(code=carrier_code).exists():
        errors["carrier"] = gettext("Unknown carrier code.")
    if not re.fullmatch(r"[A-Z0-9]{8,30}", tracking_no):
        errors["tracking_no"] = gettext("8 to 30 letters and digits.")
    address = None
    if return_address_id:
        address = Address.objects.filter(shop=shop, pk=return_address_id).first()
        if address is None:
            errors["return_address"] = gettext("Not one of this shop's addresses.")
    if errors:
        raise ValidationError.for_fields(**errors)
    at = current_time(now)
    with transaction.atomic():
        order = order_lock(order)
        if order.status in SHIPPABLE:
            order_refuse_if_blocked(order, purpose="ship")
        order.carrier_code, order.tracking_no = carrier_code, tracking_no
        order.shipped_by_hand = True
        order.return_address = address or order.return_address
        order_transition(
            order,
            "ship",
            actor=actor,
            at=at,
            carrier=carrier_code,
            tracking_no=tracking_no,
            by_hand=True,
        )
    return order


def order_ship_batch_refuse_if_too_large(count: int) -> None:
    """At most 500 orders shipped by hand at once: more is refused before anything ships
    (and before a page asks to confirm)."""
    if count > BATCH_SHIP_LIMIT:
        raise BatchTooLarge(limit=BATCH_SHIP_LIMIT, detail={"count": count})


def order_ship_batch_by_hand(
    *, actor: Actor, shipments: list[dict], return_address_id: int | None = None
) -> list[dict]:
    """Up to 500 orders; each gets its own result and one failure never stops the rest."""
    from shops.selectors import order_get
    from waybill_console.errors import AppError

    order_ship_batch_refuse_if_too_large(len(shipments))
    actor.require(perms.SHIP)
    if actor.require_shop().no_source_risk:
        raise PlatformWaybillRequired()
    results = []
    for entry in shipments:
        try:
            order = order_get(actor=actor, order_id=int(entry.get("order")))
            order_ship_by_hand(
                actor=actor,
                order=order,
                carrier_code=entry.get("carrier", ""),
                tracking_no=entry.get("tracking_no", ""),
                return_address_id=return_address_id,
            )
            results.append({"order": order.pk, "ok": True})
        except (AppError, TypeError, ValueError) as err:
            error = (
                err.as_dict()
                if isinstance(err, AppError)
                else {"code": "VALIDATION_ERROR", "message": "order must be an id", "detail": {}}
            )
            results.append({"order": entry.get("order"), "ok": False, "error": error})
    return results


def order_record_logistics(
    *, order: Order, status: str, at: datetime, actor: Actor | None = None
) -> Order:
    """Carrier-side progress: picked_up, in_transit, delivered, failed."""
    with transaction.atomic():
        order = order_lock(order)
        if status == "picked_up":
            if order.picked_up_at is None:
                order.picked_up_at = at
                order.sla_due_at = sla_next_due(order)
                order.save(update_fields=["picked_up_at", "sla_due_at", "updated_at"])
                order_event_record(order, "picked_up", actor=actor, at=at)
            return order
        action = {"in_transit": "in_transit", "delivered": "deliver", "failed": "fail_delivery"}[
            status
        ]
        if action == "in_transit" and order.picked_up_at is None:
            order.picked_up_at = at
        return order_transition(order, action, actor=actor, at=at)
