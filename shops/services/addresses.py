"""Shipping addresses (发货地址): at most 100 per shop, regions from the division list."""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from shops import regions
from shops.errors import AddressInUse, AddressLimit
from shops.models import Address, Shop
from waybill_console import permissions as perms
from waybill_console.errors import NotFound, ValidationError
from waybill_console.tenancy import Actor

ADDRESS_LIMIT = 100
PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
FIELDS = ("contact_name", "phone", "province", "city", "district", "street", "detail")


def _clean(data: dict) -> dict:
    values = {k: str(data.get(k) or "").strip() for k in FIELDS}
    errors: dict[str, str] = {}
    for required in ("contact_name", "phone", "province", "city", "detail"):
        if not values[required]:
            errors[required] = _("This field is required.")
    phone = re.sub(r"\s", "", values["phone"])
    if phone and not PHONE_RE.match(phone):
        errors["phone"] = _("Not a valid mobile (11 digits) or landline (0xx-xxxxxxxx) number.")
    if len(values["contact_name"]) > 40:
        errors["contact_name"] = _("At most %(n)s characters.") % {"n": 40}
    if len(values["detail"]) > 120:
        errors["detail"] = _("At most %(n)s characters.") % {"n": 120}
    if len(values["street"]) > 40:
        errors["street"] = _("At most %(n)s characters.") % {"n": 40}
    province, city, district = regions.resolve(
        values["province"], values["city"], values["district"]
    )
    if values["province"] and province is None:
        errors["province"] = _("Not a province in the administrative-division list.")
    elif values["city"] and city is None:
        errors["city"] = _("Not a city of this province.")
    elif city is not None:
        if values["district"] and district is None:
            errors["district"] = _("Not a district of this city.")
        elif not values["district"] and regions.children(city.code):
            errors["district"] = _("This field is required.")
    if errors:
        raise ValidationError.for_fields(**errors)
    return {
        "contact_name": values["contact_name"],
        "phone": phone,
        "province": province.name,
        "province_code": province.code,
        "city": city.name,
        "city_code": city.code,
        "district": district.name if district else "",
        "district_code": district.code if district else "",
        "street": values["street"],
        "detail": values["detail"],
    }


def _set_defaults(address: Address, *, sender: bool | None, ret: bool | None) -> None:
    shop_addresses = Address.objects.filter(shop_id=address.shop_id).exclude(pk=address.pk)
    if sender:
        shop_addresses.filter(is_default_sender=True).update(is_default_sender=False)
    if ret:
        shop_addresses.filter(is_default_return=True).update(is_default_return=False)
    if sender is not None:
        address.is_default_sender = sender
    if ret is not None:
        address.is_default_return = ret


def address_create(*, actor: Actor, data: dict) -> Address:
    """Add an address; the 100-address cap holds under concurrency (the shop row is locked)."""
    actor.require(perms.ADDRESS_MANAGE)
    shop = actor.require_shop()
    clean = _clean(data)
    with transaction.atomic():
        Shop.objects.select_for_update().filter(pk=shop.pk).first()
        count = Address.objects.filter(shop=shop).count()
        if count >= ADDRESS_LIMIT:
            raise AddressLimit(limit=ADDRESS_LIMIT, detail={"count": count})
        address = Address(shop=shop, **clean)
        first = count == 0
        _set_defaults(
            address,
            sender=bool(data.get("is_default_sender")) or first,
            ret=bool(data.get("is_default_return")) or first,
        )
        address.save()
    return address


def _get(actor: Actor, address_id: int) -> Address:
    address = Address.objects.filter(shop=actor.require_shop(), pk=address_id).first()
    if address is None:
        raise NotFound()
    return address


def address_update(*, actor: Actor, address_id: int, data: dict) -> Address:
    actor.require(perms.ADDRESS_MANAGE)
    with transaction.atomic():
        address = _get(actor, address_id)
        merged = {k: data.get(k, getattr(address, k)) for k in FIELDS}
        for k, v in _clean(merged).items():
            setattr(address, k, v)
        _set_defaults(
            address,
            sender=data.get("is_default_sender") if "is_default_sender" in data else None,
            ret=data.get("is_default_return") if "is_default_return" in data else None,
        )
        address.save()
    return address


def address_delete(*, actor: Actor, address_id: int) -> None:
    """Refused while a subscription names the address (its sender address)."""
    actor.require(perms.ADDRESS_MANAGE)
    try:
        _get(actor, address_id).delete()
    except ProtectedError:
        raise AddressInUse()
