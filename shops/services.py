"""Shops, accounts, tokens and orders: every write goes through here."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from shops.errors import LoginLocked, OrderNoTaken, ShopNotAvailable
from shops.models import ApiToken, Membership, Order, OrderItem, OrderStatus, Shop, ShopType
from waybill_console import permissions as perms
from waybill_console.crypto import blind_index, mask_name, mask_phone, reveal
from waybill_console.errors import ValidationError
from waybill_console.tenancy import Actor

User = get_user_model()

# --- shops and accounts -----------------------------------------------------------------


def shop_create(
    *,
    shop_no: str,
    name: str,
    main_user,
    shop_type: str = ShopType.ENTERPRISE,
    no_source_risk: bool = False,
) -> Shop:
    with transaction.atomic():
        shop = Shop.objects.create(
            shop_no=shop_no, name=name, shop_type=shop_type, no_source_risk=no_source_risk
        )
        Membership.objects.create(user=main_user, shop=shop, role=Membership.Role.MAIN)
    return shop


def sub_account_create(
    *, actor: Actor, username: str, password: str, permissions: list[str], display_name: str = ""
) -> Membership:
    """The main account adds a sub-account with the given named permissions."""
    actor.require(perms.ACCOUNT_MANAGE)
    shop = actor.require_shop()
    errors = {}
    if not re.fullmatch(r"[\w.@+-]{3,150}", username or ""):
        errors["username"] = "3–150 letters, digits or . @ + - _"
    elif User.objects.filter(username=username).exists():
        errors["username"] = "This username is taken."
    if len(password or "") < 8:
        errors["password"] = "At least 8 characters."
    unknown = [p for p in permissions if p not in perms.GRANTABLE]
    if unknown:
        errors["permissions"] = f"Unknown permissions: {', '.join(unknown)}"
    if errors:
        raise ValidationError.for_fields(**errors)
    with transaction.atomic():
        user = User.objects.create_user(username=username, password=password)
        return Membership.objects.create(
            user=user,
            shop=shop,
            role=Membership.Role.SUB,
            permissions=sorted(set(permissions)),
            display_name=display_name,
        )


def session_switch_shop(*, request, shop_id: int) -> Membership:
    from shops.selectors import membership_list_for_user
    from waybill_console.tenancy import SESSION_SHOP_KEY

    membership = membership_list_for_user(user=request.user).filter(shop_id=shop_id).first()
    if membership is None:
        raise ShopNotAvailable()
    request.session[SESSION_SHOP_KEY] = membership.shop_id
    return membership


def _login_key(username: str) -> str:
    return "login-fail:" + hashlib.sha256(username.lower().encode()).hexdigest()[:32]


def login_check_allowed(*, username: str) -> None:
    """At most LOGIN_FAILURE_LIMIT_PER_HOUR failed logins per account per hour."""
    if (cache.get(_login_key(username)) or 0) >= settings.LOGIN_FAILURE_LIMIT_PER_HOUR:
        raise LoginLocked()


def login_record_failure(*, username: str) -> None:
    key = _login_key(username)
    cache.add(key, 0, timeout=3600)
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=3600)


# --- API tokens ------------------------------------------------------------------------------


def api_token_create(
    *,
    shop: Shop | None = None,
    branch=None,
    scopes: list[str] | None = None,
    name: str = "",
    created_by=None,
) -> tuple[ApiToken, str]:
    """Create a token for one shop or one branch; returns the token and its key (shown once)."""
    if (shop is None) == (branch is None):
        raise ValidationError.for_fields(shop="A token belongs to exactly one shop or branch.")
    if scopes is None:
        scopes = sorted(perms.GRANTABLE) if shop else []
    unknown = [s for s in scopes if s not in perms.ALL]
    if unknown:
        raise ValidationError.for_fields(scopes=f"Unknown scopes: {', '.join(unknown)}")
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        name=name,
        prefix=key[:8],
        key_hash=hashlib.sha256(key.encode()).hexdigest(),
        shop=shop,
        branch=branch,
        scopes=sorted(set(scopes)),
        created_by=created_by,
    )
    return token, key


def api_token_revoke(*, actor: Actor, token_id: int) -> None:
    actor.require(perms.ACCOUNT_MANAGE)
    ApiToken.objects.filter(shop=actor.require_shop(), pk=token_id).update(
        revoked_at=timezone.now()
    )


# --- orders --------------------------------------------------------------------------------

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


@dataclass
class ReceiverInput:
    name: str
    phone: str
    province: str
    city: str
    district: str
    detail: str


def _clean_receiver(data: dict, errors: dict) -> ReceiverInput | None:
    if not isinstance(data, dict):
        errors["receiver"] = "An object with name, phone, province, city, district, detail."
        return None
    values = {
        k: str(data.get(k) or "").strip()
        for k in ("name", "phone", "province", "city", "district", "detail")
    }
    for required in ("name", "phone", "province", "city", "detail"):
        if not values[required]:
            errors[f"receiver.{required}"] = "This field is required."
    phone = values["phone"].replace(" ", "").replace("-", "")
    if phone and not PHONE_RE.match(phone) and not re.fullmatch(r"0\d{2,3}\d{7,8}", phone):
        errors["receiver.phone"] = "Not a valid mobile or landline number."
    values["phone"] = phone
    return ReceiverInput(**values)


def order_create(
    *,
    actor: Actor,
    order_no: str,
    items: list[dict],
    receiver: dict,
    status: str = OrderStatus.PAID,
    paid_at: datetime | None = None,
) -> Order:
    """Create an order with its items; refuses the whole order on any bad field."""
    actor.require(perms.ORDER_MANAGE)
    shop = actor.require_shop()
    errors: dict[str, str] = {}
    order_no = (order_no or "").strip()
    if not order_no or len(order_no) > 64:
        errors["order_no"] = "1–64 characters."
    if status not in (OrderStatus.UNPAID, OrderStatus.PAID):
        errors["status"] = "unpaid or paid."
    rec = _clean_receiver(receiver, errors)
    clean_items = []
    if not items:
        errors["items"] = "At least one item."
    for i, item in enumerate(items or []):
        try:
            quantity = int(item.get("quantity", 1))
            price = Decimal(str(item.get("unit_price", "0")))
        except (TypeError, ValueError, InvalidOperation):
            errors[f"items[{i}]"] = "quantity must be an integer, unit_price a number."
            continue
        if quantity < 1:
            errors[f"items[{i}].quantity"] = "At least 1."
        if price < 0:
            errors[f"items[{i}].unit_price"] = "Not negative."
        if not str(item.get("sku") or "").strip():
            errors[f"items[{i}].sku"] = "This field is required."
        if not str(item.get("product_name") or "").strip():
            errors[f"items[{i}].product_name"] = "This field is required."
        clean_items.append(
            dict(
                sku=str(item.get("sku", "")).strip(),
                product_name=str(item.get("product_name", "")).strip(),
                spec=str(item.get("spec") or "").strip(),
                quantity=quantity,
                unit_price=price,
            )
        )
    if errors:
        raise ValidationError.for_fields(**errors)
    if status == OrderStatus.PAID and paid_at is None:
        paid_at = timezone.now()
    try:
        with transaction.atomic():
            order = Order.objects.create(
                shop=shop,
                order_no=order_no,
                status=status,
                paid_at=paid_at,
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
            OrderItem.objects.bulk_create(OrderItem(order=order, **it) for it in clean_items)
    except IntegrityError:
        raise OrderNoTaken(order_no=order_no, detail={"order_no": [order_no]}) from None
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
