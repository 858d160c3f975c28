"""Waybill rows as the engine's commit statement inserts them: plain values, no model
instances (a batch commits 50 at a time, thousands a second), each placeholder cast to its
column's type so the statement can be prepared once per connection."""

from __future__ import annotations

import json
import re
from datetime import datetime

from django.db import connection
from django.db import models as m

from carriers.gateways.base import ScreenResult
from carriers.models import Subscription
from shops.models import Order
from waybill_console.crypto import EncryptedTextField, Sealed, encrypt
from waybills.models import Waybill

FIELDS = [f for f in Waybill._meta.concrete_fields if not f.primary_key]
ATTNAMES = tuple(f.attname for f in FIELDS)
COLUMNS = ", ".join(f.column for f in FIELDS)
_DEFAULTS = {f.attname: f.get_default() for f in FIELDS}


def _to_text(field):
    """How a column's value (not None) goes to the statement: as text, which
    :func:`select_sql` casts back to the column's type."""
    if isinstance(field, EncryptedTextField):
        return lambda v: v.token if isinstance(v, Sealed) else (encrypt(v) if v else v)
    if isinstance(field, m.JSONField):
        return _json_text
    if isinstance(field, m.BooleanField):
        return lambda v: "true" if v else "false"
    if isinstance(field, m.DateTimeField):
        return datetime.isoformat
    return str


def _json_text(value) -> str:
    if not value and isinstance(value, list | dict):  # most rows' items and print data
        return "[]" if isinstance(value, list) else "{}"
    return json.dumps(value, ensure_ascii=False)


_TO_TEXT = [(f.attname, _to_text(f)) for f in FIELDS]
_UNSET = object()


def _cast(field) -> str:
    if isinstance(field, m.ForeignKey):
        return field.target_field.rel_db_type(connection)
    # no length: an explicit cast to varchar(n) would cut a value silently
    return re.sub(r"\(\d+\)", "", field.db_type(connection))


def unnest_sql() -> str:
    """``unnest(%s::text[], …) AS v(columns…, reservation_key)``: any number of rows as one
    text array per column, so the statement's text (and its prepared plan) is the same for
    one row and for fifty. :func:`select_sql` casts each column back to its type."""
    arrays = ", ".join(["%s::text[]"] * (len(FIELDS) + 1))
    return f"unnest({arrays}) AS v({COLUMNS}, reservation_key)"


def select_sql() -> str:
    """The waybill's columns from :func:`unnest_sql`'s text, each cast to its type."""
    return ", ".join(f"v.{f.column}::{_cast(f)}" for f in FIELDS)


def column_arrays(rows: list[dict], keys: list[str]) -> list[list]:
    """Rows (:func:`row_values`) and each row's reservation key as one text list per column,
    in :func:`unnest_sql`'s order. A value shared by consecutive rows (the sender, the
    time, the subscription's ids: most columns of a batch) is converted once."""
    out = []
    for name, convert in _TO_TEXT:
        column = []
        last_in = last_out = _UNSET
        for values in rows:
            value = values[name]
            if value is None:
                column.append(None)
                continue
            if value is not last_in:
                last_in, last_out = value, convert(value)
            column.append(last_out)
        out.append(column)
    out.append(keys)
    return out


def sender_of(sub: Subscription) -> dict:
    """The sender printed on the label: the subscription's contact at its address."""
    a = sub.address
    return {
        "name": sub.contact_name or a.contact_name,
        "phone": sub.contact_phone or a.phone,
        "province": a.province,
        "city": a.city,
        "district": a.district,
        "detail": f"{a.street}{a.detail}",
    }


def row_values(
    *,
    shop_id: int,
    order: Order,
    sub: Subscription,
    screen: ScreenResult,
    number: str,
    package_no: int,
    at: datetime,
    actor_name: str,
    sender: dict,
    items: list | None = None,
    weight_grams: int | None = None,
    parent_id: int | None = None,
    carrier_order_id: str = "",
    print_data: dict | None = None,
) -> dict:
    return {
        **_DEFAULTS,
        "shop_id": shop_id,
        "subscription_id": sub.pk,
        "carrier_id": sub.carrier_id,
        "branch_id": sub.branch_id,
        "order_id": order.pk,
        "package_no": package_no,
        "parent_id": parent_id,
        "waybill_no": number,
        "sort_code": screen.sort_code,
        "package_center_code": screen.package_center_code,
        "package_center_name": screen.package_center_name,
        "short_address_code": screen.short_address_code,
        "short_address_name": screen.short_address_name,
        "services": screen.services,
        "sender": sender,
        "receiver_name": order.receiver_name,
        "receiver_phone": order.receiver_phone,
        "receiver_detail": order.receiver_detail,
        "receiver_name_masked": order.receiver_name_masked,
        "receiver_phone_masked": order.receiver_phone_masked,
        "receiver_province": order.receiver_province,
        "receiver_city": order.receiver_city,
        "receiver_district": order.receiver_district,
        "weight_grams": weight_grams,
        "items": items or [],
        "allocated_at": at,
        "last_changed_at": at,
        "actor": actor_name,
        "carrier_order_id": carrier_order_id,
        "print_data": print_data or {},
    }
