"""Orders: intake (receiver, items and order validated, the order built and created) and
the audited reveal of the receiver."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shops.errors import OrderNoTaken
from shops.models import Order, OrderItem, OrderStatus
from shops.services import order_outbox
from shops.services.order_states import order_event_record, sla_next_due
from waybill_console import inputs
from waybill_console import permissions as perms
from waybill_console.crypto import blind_index, mask_name, mask_phone, reveal
from waybill_console.errors import ValidationError
from waybill_console.tenancy import Actor

S = OrderStatus

#: a pre-sale order's promised ship date is at most this long after the order is created
PRESALE_MAX_AHEAD = timedelta(days=90)

REQUIRED = _("This field is required.")
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
        errors[prefix.rstrip(".")] = str(
            _("An object with name, phone, province, city, district, detail.")
        )
        return None
    values = {
        k: str(data.get(k) or "").strip()
        for k in ("name", "phone", "province", "city", "district", "detail")
    }
    for required in ("name", "phone", "province", "city", "detail"):
        if not values[required]:
            errors[f"{prefix}{required}"] = str(REQUIRED)
    phone = re.sub(r"[\s-]", "", values["phone"])
    if phone.startswith("+86"):
        phone = phone[3:]
    if phone and not PHONE_RE.match(phone) and not LANDLINE_RE.match(phone):
        errors[f"{prefix}phone"] = str(_("Not a valid mobile or landline number."))
    if len(values["name"]) > 40:
        errors[f"{prefix}name"] = str(_("At most %(n)s characters.") % {"n": 40})
    if len(values["detail"]) > 200:
        errors[f"{prefix}detail"] = str(_("At most %(n)s characters.") % {"n": 200})
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
        errors[prefix] = str(_("At least one item."))
        return clean
    if not isinstance(items, list | tuple):
        errors[prefix] = str(_("A list of items."))
        return clean
    if len(items) > ITEMS_MAX:
        errors[prefix] = str(_("At most %(n)s items per order.") % {"n": ITEMS_MAX})
        return clean
    for i, item in enumerate(items):
        key = f"{prefix}[{i}]"
        if not isinstance(item, dict):
            errors[key] = str(_("An object with sku, product_name, spec, quantity, unit_price."))
            continue
        try:
            quantity = int(item.get("quantity", 1))
            price = inputs.finite_decimal(item.get("unit_price", "0") or "0")
        except (TypeError, ValueError):
            errors[key] = str(_("The quantity must be a whole number and the unit price a number."))
            continue
        if quantity < 1:
            errors[f"{key}.quantity"] = str(_("At least 1."))
        elif quantity > QUANTITY_MAX:
            errors[f"{key}.quantity"] = str(_("At most %(n)s.") % {"n": QUANTITY_MAX})
        if price < 0 or price > inputs.MONEY_MAX or price.as_tuple().exponent < -2:
            errors[f"{key}.unit_price"] = str(_("A non-negative amount with at most 2 decimals."))
        texts = {f: str(item.get(f) or "").strip() for f in ITEM_TEXT_MAX}
        for field, value in texts.items():
            if not value and (field == "product_name" or field == "sku" and require_sku):
                errors[f"{key}.{field}"] = str(REQUIRED)
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
        errors[f"{prefix}order_no"] = str(_("1 to 64 characters."))
    if status not in (S.UNPAID, S.PAID):
        errors[f"{prefix}status"] = str(_("Unpaid or paid."))
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
            order_event_record(order, "created", actor=actor, at=now, status=order.status)
            order_outbox.order_emit(order_outbox.CREATED, order)
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
