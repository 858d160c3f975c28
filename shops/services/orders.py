"""Orders: intake, consumer-data privacy, the lifecycle with its SLAs and time rules, shipping.

Time rules (DESIGN.md, Orders):

* unpaid: payment reminders at 15 min and 16 h after creation, cancelled at 48 h;
* paid: ready to ship within 48 h of payment, picked up within 72 h after that,
  in transit within 120 h of payment (``sla_due_at`` is the next of these still open);
  a pre-sale order (预售) counts them from its promised ship date when that is later
  (:func:`sla_clock_start`);
* a buyer's cancellation request is answered within 48 h or the order is cancelled;
* a failed delivery may be re-routed once, within 12 days; after that it is returned.

All status moves go through :func:`_transition`, which refuses moves not in
``TRANSITIONS`` and records an :class:`~shops.models.OrderEvent`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shops.errors import (
    AlreadyShipped,
    OrderBlocked,
    OrderNoTaken,
    OrderStateConflict,
    PaymentWindowClosed,
    PlatformWaybillRequired,
    RerouteAlreadyUsed,
    RerouteWindowClosed,
)
from shops.models import (
    AfterSaleStatus,
    CancelRequestStatus,
    Order,
    OrderEvent,
    OrderItem,
    OrderStatus,
    Product,
)
from waybill_console import inputs
from waybill_console import permissions as perms
from waybill_console.crypto import blind_index, mask_name, mask_phone, reveal
from waybill_console.errors import BatchTooLarge, ValidationError
from waybill_console.tenancy import Actor

S = OrderStatus

REMINDER_AFTER = (timedelta(minutes=15), timedelta(hours=16))
UNPAID_CANCEL_AFTER = timedelta(hours=48)
CANCEL_REQUEST_ANSWER_WITHIN = timedelta(hours=48)
READY_TO_SHIP_WITHIN = timedelta(hours=48)
PICKUP_WITHIN = timedelta(hours=72)
IN_TRANSIT_WITHIN = timedelta(hours=120)
REROUTE_WITHIN = timedelta(days=12)
#: a pre-sale order's promised ship date is at most this long after the order is created
PRESALE_MAX_AHEAD = timedelta(days=90)
AT_RISK_WINDOW = timedelta(hours=12)
BATCH_SHIP_LIMIT = 500

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


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _event(order: Order, kind: str, *, actor: Actor | None, at: datetime, **data) -> None:
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


def _pickup_due(order: Order, start: datetime) -> datetime:
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
        return min(_pickup_due(order, start), start + IN_TRANSIT_WITHIN)
    if order.status in (S.READY_TO_SHIP, S.SHIPPED):
        return start + IN_TRANSIT_WITHIN
    return None


def _transition(order: Order, action: str, *, actor: Actor | None, at: datetime, **data) -> Order:
    allowed, target = TRANSITIONS[action]
    if order.status not in allowed:
        if action == "ship" and order.status not in NOT_YET_SHIPPED | {S.CANCELLED}:
            raise AlreadyShipped()
        raise OrderStateConflict(
            status=order.get_status_display(), detail={"status": order.status, "action": action}
        )
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
    _event(order, action, actor=actor, at=at, status_from=previous, status_to=target, **data)
    if action == "cancel":
        _blocked(order, "order_cancelled", at)
    return order


#: Called with the order locked, inside its transaction, when an event makes it impossible to
#: hand the order to a factory (after-sale opened, a cancellation requested, the order
#: cancelled): ``handler(order=…, reason=…, at=…)``. ``dropship`` registers the one that
#: cancels the order's open allocations (``dropship.apps``); shops never imports it.
ORDER_BLOCK_HANDLERS: list = []


def _blocked(order: Order, reason: str, at: datetime) -> None:
    for handler in ORDER_BLOCK_HANDLERS:
        handler(order=order, reason=reason, at=at)


def _locked(order: Order) -> Order:
    return Order.objects.select_for_update().get(pk=order.pk)


# --- intake ---------------------------------------------------------------------------------

UNKNOWN_PROVINCE = _("Not a province in the administrative-division list.")
UNKNOWN_CITY = _("Not a city of %(province)s in the administrative-division list.")
UNKNOWN_DISTRICT = _("Not a district or county of %(city)s in the administrative-division list.")

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE_RE = re.compile(r"^0\d{2,3}\d{7,8}$")


@dataclass
class ReceiverInput:
    name: str
    phone: str
    province: str
    city: str
    district: str
    detail: str


def clean_receiver(
    data: dict, errors: dict, prefix: str = "receiver.", *, check_region: bool = True
) -> ReceiverInput | None:
    """Validate a receiver; problems go into ``errors`` keyed by field. ``check_region=False``
    leaves the region to the carrier (address screening answers 1014 for a place it cannot
    parse); everywhere an order is taken in, the region must be in the division list."""
    if not isinstance(data, dict):
        errors[prefix.rstrip(".")] = "An object with name, phone, province, city, district, detail."
        return None
    values = {
        k: str(data.get(k) or "").strip()
        for k in ("name", "phone", "province", "city", "district", "detail")
    }
    for required in ("name", "phone", "province", "city", "detail"):
        if not values[required]:
            errors[f"{prefix}{required}"] = "This field is required."
    phone = re.sub(r"[\s-]", "", values["phone"])
    if phone.startswith("+86"):
        phone = phone[3:]
    if phone and not PHONE_RE.match(phone) and not LANDLINE_RE.match(phone):
        errors[f"{prefix}phone"] = "Not a valid mobile or landline number."
    if len(values["name"]) > 40:
        errors[f"{prefix}name"] = "At most 40 characters."
    if len(values["detail"]) > 200:
        errors[f"{prefix}detail"] = "At most 200 characters."
    values["phone"] = phone
    if check_region:
        _clean_region(values, errors, prefix)
    return ReceiverInput(**values)


def _clean_region(values: dict, errors: dict, prefix: str) -> None:
    """Province, city and district must be divisions of each other in the division list
    (names, short names or codes); they are stored by their full names. An order to a place
    that does not exist (火星省) is refused here, at intake, not at screening."""
    from shops import regions

    if not values["province"]:
        return
    province, city, district = regions.resolve(
        values["province"], values["city"], values["district"]
    )
    if province is None:
        errors[f"{prefix}province"] = str(UNKNOWN_PROVINCE)
        return
    values["province"] = province.name
    if not values["city"]:
        return
    if city is None:
        errors[f"{prefix}city"] = str(UNKNOWN_CITY) % {"province": province.name}
        return
    values["city"] = city.name
    if values["district"]:
        if district is None:
            errors[f"{prefix}district"] = str(UNKNOWN_DISTRICT) % {"city": city.name}
            return
        values["district"] = district.name


#: the bounds of an order item's fields, wherever items come in (the order API, the import,
#: a waybill's items, the dropship price sheet): ``OrderItem``'s column sizes, a sane
#: quantity and a sane number of items per order (a label lists them all)
ITEM_TEXT_MAX = {"sku": 64, "product_name": 200, "spec": 200}
ITEMS_MAX = 100
QUANTITY_MAX = 99_999
#: the buyer's note, printed as the label's remark
REMARK_MAX = 200


def item_text_error(field: str, value: str) -> str | None:
    """Why ``value`` cannot be an item's ``field`` (sku, product_name, spec), or None."""
    if len(value) > ITEM_TEXT_MAX[field]:
        return str(_("At most %(n)s characters.") % {"n": ITEM_TEXT_MAX[field]})
    return None


def clean_items(
    items, errors: dict, prefix: str = "items", *, require_sku: bool = True
) -> list[dict]:
    """The one validator of order items (:data:`ITEM_TEXT_MAX`, :data:`ITEMS_MAX`,
    :data:`QUANTITY_MAX`); every problem goes into ``errors`` keyed by field
    (``items[0].product_name``). Nothing is cut short: a value over its bound is refused.
    ``require_sku=False`` for what only a label lists (a waybill's own items)."""
    clean = []
    if not items:
        errors[prefix] = "At least one item."
        return clean
    if not isinstance(items, list | tuple):
        errors[prefix] = "A list of items."
        return clean
    if len(items) > ITEMS_MAX:
        errors[prefix] = str(_("At most %(n)s items per order.") % {"n": ITEMS_MAX})
        return clean
    for i, item in enumerate(items):
        key = f"{prefix}[{i}]"
        if not isinstance(item, dict):
            errors[key] = "An object with sku, product_name, spec, quantity, unit_price."
            continue
        try:
            quantity = int(item.get("quantity", 1))
            price = inputs.finite_decimal(item.get("unit_price", "0") or "0")
        except (TypeError, ValueError):
            errors[key] = "quantity must be an integer, unit_price a number."
            continue
        if quantity < 1:
            errors[f"{key}.quantity"] = "At least 1."
        elif quantity > QUANTITY_MAX:
            errors[f"{key}.quantity"] = str(_("At most %(n)s.") % {"n": QUANTITY_MAX})
        if price < 0 or price > inputs.MONEY_MAX or price.as_tuple().exponent < -2:
            errors[f"{key}.unit_price"] = "A non-negative amount with at most 2 decimals."
        texts = {f: str(item.get(f) or "").strip() for f in ITEM_TEXT_MAX}
        for field, value in texts.items():
            if not value and (field == "product_name" or field == "sku" and require_sku):
                errors[f"{key}.{field}"] = "This field is required."
            elif problem := item_text_error(field, value):
                errors[f"{key}.{field}"] = problem
        clean.append({**texts, "quantity": quantity, "unit_price": price})
    if not errors.keys() & {prefix} and not any(k.startswith(f"{prefix}[") for k in errors):
        total = sum((it["unit_price"] * it["quantity"] for it in clean), Decimal("0"))
        if total > inputs.MONEY_MAX:
            errors[prefix] = str(_("The order's total amount is too large."))
    return clean


@dataclass
class OrderInput:
    order_no: str
    items: list[dict]
    receiver: ReceiverInput
    status: str
    paid_at: datetime | None
    created_at: datetime | None
    buyer_note: str
    promised_ship_at: datetime | None = None


PRESALE_TOO_FAR = _("At most %(days)s days after the order was created.")


def clean_order(
    *,
    order_no: str,
    items,
    receiver,
    status: str = S.PAID,
    paid_at: datetime | None = None,
    created_at: datetime | None = None,
    buyer_note: str = "",
    promised_ship_at: datetime | None = None,
    errors: dict | None = None,
    prefix: str = "",
) -> OrderInput | None:
    """Validate one order; returns None (and fills ``errors``) when anything is wrong."""
    errors = {} if errors is None else errors
    before = len(errors)
    order_no = str(order_no or "").strip()
    if not order_no or len(order_no) > 64:
        errors[f"{prefix}order_no"] = "1–64 characters."
    if status not in (S.UNPAID, S.PAID):
        errors[f"{prefix}status"] = "unpaid or paid."
    if paid_at is not None and not inputs.moment_in_range(paid_at):
        errors[f"{prefix}paid_at"] = inputs.moment_message()
    if promised_ship_at is not None:
        if not inputs.moment_in_range(promised_ship_at):
            errors[f"{prefix}promised_ship_at"] = inputs.moment_message()
        elif promised_ship_at > (created_at or timezone.now()) + PRESALE_MAX_AHEAD:
            errors[f"{prefix}promised_ship_at"] = str(
                PRESALE_TOO_FAR % {"days": PRESALE_MAX_AHEAD.days}
            )
    rec = clean_receiver(receiver, errors, prefix=f"{prefix}receiver.")
    clean = clean_items(items, errors, prefix=f"{prefix}items")
    if len(str(buyer_note or "")) > REMARK_MAX:
        errors[f"{prefix}buyer_note"] = str(_("At most %(n)s characters.") % {"n": REMARK_MAX})
    if len(errors) > before:
        return None
    return OrderInput(
        order_no, clean, rec, status, paid_at, created_at, buyer_note or "", promised_ship_at
    )


def order_build(*, shop, data: OrderInput, now: datetime) -> Order:
    """An unsaved Order (receiver encrypted, masked forms and blind index computed)."""
    created = data.created_at or now
    paid_at = data.paid_at or (created if data.status == S.PAID else None)
    rec = data.receiver
    order = Order(
        shop=shop,
        order_no=data.order_no,
        status=data.status,
        created_at=created,
        paid_at=paid_at,
        promised_ship_at=data.promised_ship_at,
        buyer_note=data.buyer_note[:200],
        total_amount=sum((i["unit_price"] * i["quantity"] for i in data.items), Decimal("0")),
        receiver_name=rec.name,
        receiver_phone=rec.phone,
        receiver_detail=rec.detail,
        receiver_name_masked=mask_name(rec.name),
        receiver_phone_masked=mask_phone(rec.phone),
        receiver_phone_index=blind_index(rec.phone),
        receiver_province=rec.province,
        receiver_city=rec.city,
        receiver_district=rec.district,
    )
    order.sla_due_at = sla_next_due(order)
    return order


def order_create(
    *,
    actor: Actor,
    order_no: str,
    items: list[dict],
    receiver: dict,
    status: str = S.PAID,
    paid_at: datetime | None = None,
    created_at: datetime | None = None,
    buyer_note: str = "",
    promised_ship_at: datetime | None = None,
) -> Order:
    """Create an order with its items; refuses the whole order on any bad field.
    ``promised_ship_at`` makes it a pre-sale order (预售)."""
    actor.require(perms.ORDER_MANAGE)
    shop = actor.require_shop()
    errors: dict[str, str] = {}
    data = clean_order(
        order_no=order_no,
        items=items,
        receiver=receiver,
        status=status,
        paid_at=paid_at,
        created_at=created_at,
        buyer_note=buyer_note,
        promised_ship_at=promised_ship_at,
        errors=errors,
    )
    if data is None:
        raise ValidationError.for_fields(**errors)
    now = timezone.now()
    try:
        with transaction.atomic():
            order = order_build(shop=shop, data=data, now=now)
            order.save()
            OrderItem.objects.bulk_create(OrderItem(order=order, **it) for it in data.items)
            _event(order, "created", actor=actor, at=now, status=order.status)
    except IntegrityError:
        raise OrderNoTaken(order_no=data.order_no, detail={"order_no": [data.order_no]}) from None
    return order


def order_reveal_receiver(*, actor: Actor, order: Order, purpose: str = "view") -> dict:
    """The audited "show" action: full receiver name, phone and address."""
    actor.require(perms.CONSUMER_VIEW)
    plain = reveal(
        order, ["receiver_name", "receiver_phone", "receiver_detail"], actor=actor, purpose=purpose
    )
    return {
        "name": plain["receiver_name"],
        "phone": plain["receiver_phone"],
        "province": order.receiver_province,
        "city": order.receiver_city,
        "district": order.receiver_district,
        "detail": plain["receiver_detail"],
    }


# --- lifecycle actions -------------------------------------------------------------------------


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
    at = _now(now)
    paid = paid_at or at
    if paid_at is not None:
        if not inputs.moment_in_range(paid_at):
            raise ValidationError.for_fields(paid_at=inputs.moment_message())
        if paid_at > at:
            raise ValidationError.for_fields(paid_at=str(PAID_AT_IN_FUTURE))
    with transaction.atomic():
        order = _locked(order)
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
        return _transition(order, "pay", actor=actor, at=at, paid_at=paid.isoformat())


def order_mark_ready(*, actor: Actor, order: Order, now: datetime | None = None) -> Order:
    """Ready to ship (a waybill is on the parcel); starts the 72 h pick-up clock."""
    actor.require(perms.SHIP)
    with transaction.atomic():
        return _transition(_locked(order), "ready", actor=actor, at=_now(now))


def order_cancel_by_seller(
    *, actor: Actor, order: Order, reason: str = "", now: datetime | None = None
) -> Order:
    """The seller cancels: the order's products are delisted (stock set to zero)."""
    actor.require(perms.ORDER_MANAGE)
    at = _now(now)
    with transaction.atomic():
        order = _locked(order)
        _transition(order, "cancel", actor=actor, at=at, by="seller", reason=reason[:100])
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
    at = _now(now)
    with transaction.atomic():
        order = _locked(order)
        if order.status not in NOT_YET_SHIPPED:
            raise OrderStateConflict(status=order.get_status_display())
        if order.cancel_request_status == CancelRequestStatus.PENDING:
            return order
        order.cancel_request_status = CancelRequestStatus.PENDING
        order.cancel_requested_at = at
        order.save(update_fields=["cancel_request_status", "cancel_requested_at", "updated_at"])
        _event(order, "cancel_requested", actor=actor, at=at, reason=reason[:100])
        _blocked(order, "under_review", at)
    return order


def order_answer_cancel(
    *, actor: Actor, order: Order, approve: bool, now: datetime | None = None
) -> Order:
    actor.require(perms.ORDER_MANAGE)
    at = _now(now)
    with transaction.atomic():
        order = _locked(order)
        if order.cancel_request_status != CancelRequestStatus.PENDING:
            raise OrderStateConflict(status=order.get_cancel_request_status_display())
        order.cancel_request_status = (
            CancelRequestStatus.APPROVED if approve else CancelRequestStatus.REJECTED
        )
        order.save(update_fields=["cancel_request_status", "updated_at"])
        if approve:
            order.cancel_reason = "buyer_request"
            _transition(order, "cancel", actor=actor, at=at, by="buyer_request")
        else:
            _event(order, "cancel_rejected", actor=actor, at=at)
    return order


def order_start_after_sale(
    *, actor: Actor, order: Order, reason: str = "", now: datetime | None = None
) -> Order:
    """A refund / after-sale case opens: printing and dropship allocation are blocked."""
    actor.require(perms.ORDER_MANAGE)
    at = _now(now)
    with transaction.atomic():
        order = _locked(order)
        if order.status in (S.UNPAID, S.CANCELLED):
            raise OrderStateConflict(status=order.get_status_display())
        order.after_sale_status = AfterSaleStatus.IN_PROGRESS
        order.save(update_fields=["after_sale_status", "updated_at"])
        _event(order, "after_sale_started", actor=actor, at=at, reason=reason[:100])
        _blocked(order, "after_sale", at)
    return order


def order_close_after_sale(*, actor: Actor, order: Order, now: datetime | None = None) -> Order:
    actor.require(perms.ORDER_MANAGE)
    at = _now(now)
    with transaction.atomic():
        order = _locked(order)
        if order.after_sale_status != AfterSaleStatus.IN_PROGRESS:
            raise OrderStateConflict(status=order.get_after_sale_status_display())
        order.after_sale_status = AfterSaleStatus.CLOSED
        order.save(update_fields=["after_sale_status", "updated_at"])
        _event(order, "after_sale_closed", actor=actor, at=at)
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
    at = _now(now)
    with transaction.atomic():
        order = _locked(order)
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
        _event(
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


def _refuse_if_blocked(order: Order) -> None:
    if order.after_sale_status == AfterSaleStatus.IN_PROGRESS:
        raise OrderBlocked(
            reason=str(AfterSaleStatus.IN_PROGRESS.label),
            detail={"after_sale_status": order.after_sale_status},
        )
    if order.cancel_request_status == CancelRequestStatus.PENDING:
        raise OrderBlocked(
            reason=str(CancelRequestStatus.PENDING.label),
            detail={"cancel_request_status": order.cancel_request_status},
        )


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
        errors["carrier"] = "Unknown carrier code."
    if not re.fullmatch(r"[A-Z0-9]{8,30}", tracking_no):
        errors["tracking_no"] = "8–30 letters and digits."
    address = None
    if return_address_id:
        address = Address.objects.filter(shop=shop, pk=return_address_id).first()
        if address is None:
            errors["return_address"] = "Not one of this shop's addresses."
    if errors:
        raise ValidationError.for_fields(**errors)
    at = _now(now)
    with transaction.atomic():
        order = _locked(order)
        if order.status in SHIPPABLE:
            _refuse_if_blocked(order)
        order.carrier_code, order.tracking_no = carrier_code, tracking_no
        order.shipped_by_hand = True
        order.return_address = address or order.return_address
        _transition(
            order,
            "ship",
            actor=actor,
            at=at,
            carrier=carrier_code,
            tracking_no=tracking_no,
            by_hand=True,
        )
    return order


def order_ship_batch_by_hand(
    *, actor: Actor, shipments: list[dict], return_address_id: int | None = None
) -> list[dict]:
    """Up to 500 orders; each gets its own result and one failure never stops the rest."""
    from shops.selectors import order_get
    from waybill_console.errors import AppError

    if len(shipments) > BATCH_SHIP_LIMIT:
        raise BatchTooLarge(limit=BATCH_SHIP_LIMIT, detail={"count": len(shipments)})
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
        order = _locked(order)
        if status == "picked_up":
            if order.picked_up_at is None:
                order.picked_up_at = at
                order.sla_due_at = sla_next_due(order)
                order.save(update_fields=["picked_up_at", "sla_due_at", "updated_at"])
                _event(order, "picked_up", actor=actor, at=at)
            return order
        action = {"in_transit": "in_transit", "delivered": "deliver", "failed": "fail_delivery"}[
            status
        ]
        if action == "in_transit" and order.picked_up_at is None:
            order.picked_up_at = at
        return _transition(order, action, actor=actor, at=at)


POSTCODE_RE = re.compile(r"^\d{6}$")
POSTCODE_INVALID = _("A postcode is 6 digits.")


def reroute_window_open(*, failed_at: datetime, at: datetime) -> bool:
    """The 12 days (included) after a failed delivery in which it may be re-routed; the
    sweep returns the parcel once this is over."""
    return at - failed_at <= REROUTE_WITHIN


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
        errors["postcode"] = "This field is required."
    elif not POSTCODE_RE.match(postcode):
        errors["postcode"] = str(POSTCODE_INVALID)
    if errors:
        raise ValidationError.for_fields(**errors)
    at = _now(now)
    with transaction.atomic():
        order = _locked(order)
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
        _transition(order, "in_transit", actor=actor, at=at, reroute=True)
    return order


# --- the time-rule sweep ---------------------------------------------------------------


def orders_apply_time_rules(*, as_of: datetime | None = None, batch_size: int = 5000) -> dict:
    """One sweep of every time rule, set-based and in batches. Safe to run twice."""
    at = _now(as_of)
    counts = {
        "reminded_15m": 0,
        "reminded_16h": 0,
        "cancelled_unpaid": 0,
        "cancelled_no_answer": 0,
        "returned": 0,
        "sla_breaches": 0,
    }
    counts["reminded_15m"] = _remind(at - REMINDER_AFTER[0], 0, at, "payment_reminder_15m")
    counts["reminded_16h"] = _remind(at - REMINDER_AFTER[1], 1, at, "payment_reminder_16h")
    counts["cancelled_unpaid"] = _bulk_cancel(
        Order.objects.filter(status=S.UNPAID, created_at__lte=at - UNPAID_CANCEL_AFTER),
        at,
        reason="unpaid_timeout",
        batch_size=batch_size,
    )
    counts["cancelled_no_answer"] = _bulk_cancel(
        Order.objects.filter(
            cancel_request_status=CancelRequestStatus.PENDING,
            cancel_requested_at__lte=at - CANCEL_REQUEST_ANSWER_WITHIN,
            status__in=NOT_YET_SHIPPED,
        ),
        at,
        reason="cancel_request_unanswered",
        batch_size=batch_size,
        extra={"cancel_request_status": CancelRequestStatus.APPROVED},
    )
    counts["returned"] = _bulk_move(
        # the same 12 days (included) as :func:`reroute_window_open`
        Order.objects.filter(status=S.DELIVERY_FAILED, failed_at__lt=at - REROUTE_WITHIN),
        at,
        status=S.RETURNED,
        kind="returned",
        batch_size=batch_size,
    )
    counts["sla_breaches"] = _mark_breaches(at, batch_size=batch_size)
    return counts


def _ids_in_batches(qs, batch_size: int):
    last = 0
    while True:
        ids = list(qs.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return
        yield ids
        last = ids[-1]


def _remind(created_before: datetime, sent: int, at: datetime, kind: str) -> int:
    total = 0
    qs = Order.objects.filter(status=S.UNPAID, reminders_sent=sent, created_at__lte=created_before)
    for ids in _ids_in_batches(qs, 5000):
        with transaction.atomic():
            updated = list(
                Order.objects.filter(pk__in=ids, status=S.UNPAID, reminders_sent=sent)
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)
            )
            Order.objects.filter(pk__in=updated).update(reminders_sent=sent + 1, updated_at=at)
            OrderEvent.objects.bulk_create(
                OrderEvent(order_id=pk, at=at, kind=kind, actor="system") for pk in updated
            )
        total += len(updated)
    return total


def _bulk_cancel(qs, at: datetime, *, reason: str, batch_size: int, extra=None) -> int:
    return _bulk_move(
        qs,
        at,
        status=S.CANCELLED,
        kind="cancel",
        batch_size=batch_size,
        fields={"cancelled_at": at, "cancel_reason": reason, **(extra or {})},
        data={"by": reason},
    )


def _bulk_move(
    qs,
    at: datetime,
    *,
    status: str,
    kind: str,
    batch_size: int,
    fields: dict | None = None,
    data: dict | None = None,
) -> int:
    """Move the matching orders to ``status`` in batches, one event each (sweeps only)."""
    total = 0
    for ids in _ids_in_batches(qs, batch_size):
        with transaction.atomic():
            rows = list(
                qs.filter(pk__in=ids)
                .select_for_update(skip_locked=True)
                .values_list("pk", "status")
            )
            Order.objects.filter(pk__in=[pk for pk, _ in rows]).update(
                status=status, sla_due_at=None, updated_at=at, **(fields or {})
            )
            OrderEvent.objects.bulk_create(
                OrderEvent(
                    order_id=pk,
                    at=at,
                    kind=kind,
                    actor="system",
                    data={"status_from": st, "status_to": status, **(data or {})},
                )
                for pk, st in rows
            )
        total += len(rows)
    return total


def _breach_name(order: Order) -> str:
    if order.status == S.PAID:
        return "ready_to_ship"
    if order.picked_up_at is None:
        if order.sla_due_at == _pickup_due(order, sla_clock_start(order)):
            return "pickup"
    return "in_transit"


def _mark_breaches(at: datetime, *, batch_size: int) -> int:
    """Record each missed deadline once (an event, and its name in ``sla_breaches``)."""
    total = 0
    qs = Order.objects.filter(sla_due_at__lte=at)
    for ids in _ids_in_batches(qs, batch_size):
        with transaction.atomic():
            orders = list(
                Order.objects.filter(pk__in=ids, sla_due_at__lte=at)
                .select_for_update(skip_locked=True)
                .only(
                    "pk",
                    "status",
                    "paid_at",
                    "promised_ship_at",
                    "ready_to_ship_at",
                    "shipped_at",
                    "picked_up_at",
                    "sla_due_at",
                    "sla_breaches",
                )
            )
            events = []
            for order in orders:
                name = _breach_name(order)
                if name in order.sla_breaches:
                    continue
                order.sla_breaches = [*order.sla_breaches, name]
                events.append(
                    OrderEvent(
                        order_id=order.pk,
                        at=at,
                        kind="sla_breached",
                        actor="system",
                        data={"deadline": name, "due_at": order.sla_due_at.isoformat()},
                    )
                )
            Order.objects.bulk_update([o for o in orders if o.sla_breaches], ["sla_breaches"])
            OrderEvent.objects.bulk_create(events)
        total += len(events)
    return total
