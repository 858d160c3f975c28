"""Orders: the lifecycle actions of a merchant or buyer (pay, ready, cancel and the
buyer's cancellation request, after-sale, address change, re-route after a failed delivery).

Every status move goes through :func:`~shops.services.order_states.order_transition`; the
deadlines are in ``shops.services.order_states``.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from shops.errors import (
    OrderStateConflict,
    PaymentWindowClosed,
    RerouteAlreadyUsed,
    RerouteWindowClosed,
)
from shops.models import AfterSaleStatus, CancelRequestStatus, Order, OrderStatus, Product
from shops.services import order_outbox
from shops.services.order_intake import ReceiverInput, clean_receiver
from shops.services.order_states import (
    NOT_YET_SHIPPED,
    UNPAID_CANCEL_AFTER,
    current_time,
    order_blocked_notify,
    order_event_record,
    order_lock,
    order_transition,
    reroute_window_open,
)
from waybill_console import inputs
from waybill_console import permissions as perms
from waybill_console.crypto import blind_index, mask_name, mask_phone
from waybill_console.errors import ValidationError
from waybill_console.tenancy import Actor

S = OrderStatus

PAID_AT_IN_FUTURE = _("The payment time cannot be in the future.")
PAID_AT_BEFORE_ORDER = _("The payment time cannot be before the order was placed.")


def order_pay(
    *,
    actor: Actor,
    order: Order,
    paid_at: datetime | None = None,
    now: datetime | None = None,
) -> Order:
    """An unpaid order is paid (``paid_at``, default now): it is no longer swept at 48 h and
    its deadlines (ready to ship 48 h, in transit 120 h) count from ``paid_at``.

    Refused: a ``paid_at`` in the future or before the order was placed (400), an order that
    is not unpaid (``ORDER_STATE_CONFLICT``), a payment later than the 48 h after which an
    unpaid order is cancelled (``PAYMENT_WINDOW_CLOSED``, even if the sweep has not run yet).
    Locks the order row."""
    actor.require(perms.ORDER_MANAGE)
    at = current_time(now)
    paid = paid_at or at
    if paid_at is not None:
        if not inputs.moment_in_range(paid_at):
            raise ValidationError.for_fields(paid_at=inputs.moment_message())
        if paid_at > at:
            raise ValidationError.for_fields(paid_at=str(PAID_AT_IN_FUTURE))
    with transaction.atomic():
        order = order_lock(order)
        if order.status != S.UNPAID:
            raise OrderStateConflict(
                status=order.get_status_display(), detail={"status": order.status}
            )
        if paid < order.created_at:
            raise ValidationError.for_fields(paid_at=str(PAID_AT_BEFORE_ORDER))
        if paid > order.created_at + UNPAID_CANCEL_AFTER:
            raise PaymentWindowClosed(detail={"created_at": order.created_at.isoformat()})
        # an unpaid order may carry a stale payment time (an import line): the payment wins
        order.paid_at = paid
        return order_transition(order, "pay", actor=actor, at=at, paid_at=paid.isoformat())


def order_mark_ready(*, actor: Actor, order: Order, now: datetime | None = None) -> Order:
    """Ready to ship (a waybill is on the parcel); starts the 72 h pick-up clock."""
    actor.require(perms.SHIP)
    with transaction.atomic():
        return order_transition(order_lock(order), "ready", actor=actor, at=current_time(now))


def order_cancel_by_seller(
    *, actor: Actor, order: Order, reason: str = "", now: datetime | None = None
) -> Order:
    """The seller cancels: the order's products are delisted (stock set to zero)."""
    actor.require(perms.ORDER_MANAGE)
    at = current_time(now)
    with transaction.atomic():
        order = order_lock(order)
        order_transition(order, "cancel", actor=actor, at=at, by="seller", reason=reason[:100])
        Order.objects.filter(pk=order.pk).update(cancel_reason="seller")
        order.cancel_reason = "seller"
        for item in order.items.all():
            Product.objects.update_or_create(
                shop_id=order.shop_id,
                sku=item.sku,
                defaults={"stock": 0, "is_listed": False, "delisted_at": at},
                create_defaults={
                    "name": item.product_name,
                    "stock": 0,
                    "is_listed": False,
                    "delisted_at": at,
                },
            )
    return order


def order_request_cancel(
    *, actor: Actor, order: Order, reason: str = "", now: datetime | None = None
) -> Order:
    """The buyer asks to cancel; the seller answers within 48 h or the order is cancelled."""
    actor.require(perms.ORDER_MANAGE)
    at = current_time(now)
    with transaction.atomic():
        order = order_lock(order)
        if order.status not in NOT_YET_SHIPPED:
            raise OrderStateConflict(status=order.get_status_display())
        if order.cancel_request_status == CancelRequestStatus.PENDING:
            return order
        order.cancel_request_status = CancelRequestStatus.PENDING
        order.cancel_requested_at = at
        order.save(update_fields=["cancel_request_status", "cancel_requested_at", "updated_at"])
        order_event_record(order, "cancel_requested", actor=actor, at=at, reason=reason[:100])
        order_blocked_notify(order, "under_review", at)
        order_outbox.order_emit(order_outbox.CANCEL_REQUESTED, order)
    return order


def order_answer_cancel(
    *, actor: Actor, order: Order, approve: bool, now: datetime | None = None
) -> Order:
    actor.require(perms.ORDER_MANAGE)
    at = current_time(now)
    with transaction.atomic():
        order = order_lock(order)
        if order.cancel_request_status != CancelRequestStatus.PENDING:
            raise OrderStateConflict(status=order.get_cancel_request_status_display())
        order.cancel_request_status = (
            CancelRequestStatus.APPROVED if approve else CancelRequestStatus.REJECTED
        )
        order.save(update_fields=["cancel_request_status", "updated_at"])
        if approve:
            order.cancel_reason = "buyer_request"
            order_transition(order, "cancel", actor=actor, at=at, by="buyer_request")
        else:
            order_event_record(order, "cancel_rejected", actor=actor, at=at)
    return order


def order_start_after_sale(
    *, actor: Actor, order: Order, reason: str = "", now: datetime | None = None
) -> Order:
    """A refund / after-sale case opens: printing and dropship allocation are blocked."""
    actor.require(perms.ORDER_MANAGE)
    at = current_time(now)
    with transaction.atomic():
        order = order_lock(order)
        if order.status in (S.UNPAID, S.CANCELLED):
            raise OrderStateConflict(status=order.get_status_display())
        order.after_sale_status = AfterSaleStatus.IN_PROGRESS
        order.save(update_fields=["after_sale_status", "updated_at"])
        order_event_record(order, "after_sale_started", actor=actor, at=at, reason=reason[:100])
        order_blocked_notify(order, "after_sale", at)
        order_outbox.order_emit(order_outbox.AFTER_SALE, order)
    return order


def order_close_after_sale(*, actor: Actor, order: Order, now: datetime | None = None) -> Order:
    actor.require(perms.ORDER_MANAGE)
    at = current_time(now)
    with transaction.atomic():
        order = order_lock(order)
        if order.after_sale_status != AfterSaleStatus.IN_PROGRESS:
            raise OrderStateConflict(status=order.get_after_sale_status_display())
        order.after_sale_status = AfterSaleStatus.CLOSED
        order.save(update_fields=["after_sale_status", "updated_at"])
        order_event_record(order, "after_sale_closed", actor=actor, at=at)
    return order


def order_change_address(
    *,
    actor: Actor,
    order: Order,
    receiver: dict,
    now: datetime | None = None,
    waybill_no: str = "",
) -> Order:
    """The buyer's new address replaces the old one (re-encrypted) before shipping.

    ``waybill_no``: the change is made on that number of the order (``waybill_update``,
    which holds the number's lock and writes the same receiver to its snapshot). A number
    may change its receiver until the carrier picks the parcel up, so an order already
    marked shipped with that very number follows too while it was not picked up. The
    event names the number, never the receiver."""
    actor.require(perms.ORDER_MANAGE)
    errors: dict[str, str] = {}
    rec = clean_receiver(receiver, errors)
    if errors:
        raise ValidationError.for_fields(**errors)
    at = current_time(now)
    with transaction.atomic():
        order = order_lock(order)
        shipped_with_it = (
            bool(waybill_no)
            and order.status == S.SHIPPED
            and order.tracking_no == waybill_no
            and order.picked_up_at is None
        )
        if order.status not in NOT_YET_SHIPPED and not shipped_with_it:
            raise OrderStateConflict(status=order.get_status_display())
        _set_receiver(order, rec)
        order.address_changed_at = at
        order.save()
        order_event_record(
            order,
            "address_changed",
            actor=actor,
            at=at,
            **({"waybill_no": waybill_no} if waybill_no else {}),
        )
    return order


def _set_receiver(order: Order, rec: ReceiverInput, postcode: str | None = None) -> None:
    """Write a cleaned receiver to the order: name, phone and street encrypted (the model's
    fields), the masked forms and the phone's blind index recomputed. Not saved."""
    order.receiver_name, order.receiver_phone = rec.name, rec.phone
    order.receiver_detail = rec.detail
    order.receiver_name_masked = mask_name(rec.name)
    order.receiver_phone_masked = mask_phone(rec.phone)
    order.receiver_phone_index = blind_index(rec.phone)
    order.receiver_province, order.receiver_city = rec.province, rec.city
    order.receiver_district = rec.district
    if postcode is not None:
        order.receiver_postcode = postcode


POSTCODE_RE = re.compile(r"^\d{6}$")
POSTCODE_INVALID = _("A postcode is 6 digits.")


def order_reroute(
    *,
    actor: Actor,
    order: Order,
    receiver: dict,
    postcode: str,
    now: datetime | None = None,
) -> Order:
    """A failed delivery goes out again to a new receiver, once, within 12 days (included)
    of the failure (seed: 每个订单支持改派一次, 12 天内(含)).

    The receiver is validated like an order's (:func:`clean_receiver`) plus a 6-digit
    ``postcode``; name, phone and street are stored encrypted, the masked forms and the
    blind index recomputed. The event records the re-route, never the receiver. Refused:
    not a failed delivery (``ORDER_STATE_CONFLICT``), already re-routed
    (``REROUTE_ALREADY_USED``), past the 12 days (``REROUTE_WINDOW_CLOSED``); nothing is
    written then. Locks the order row."""
    actor.require(perms.SHIP)
    errors: dict[str, str] = {}
    rec = clean_receiver(receiver, errors)
    postcode = re.sub(r"\s", "", str(postcode or ""))
    if not postcode:
        errors["postcode"] = str(_("This field is required."))
    elif not POSTCODE_RE.match(postcode):
        errors["postcode"] = str(POSTCODE_INVALID)
    if errors:
        raise ValidationError.for_fields(**errors)
    at = current_time(now)
    with transaction.atomic():
        order = order_lock(order)
        if order.status != S.DELIVERY_FAILED:
            raise OrderStateConflict(
                status=order.get_status_display(), detail={"status": order.status}
            )
        window = {"failed_at": order.failed_at.isoformat()}
        if order.rerouted_at is not None:
            raise RerouteAlreadyUsed(
                detail={**window, "rerouted_at": order.rerouted_at.isoformat()}
            )
        if not reroute_window_open(failed_at=order.failed_at, at=at):
            raise RerouteWindowClosed(detail=window)
        _set_receiver(order, rec, postcode)
        order.rerouted_at = at
        order_transition(order, "in_transit", actor=actor, at=at, reroute=True)
    return order
