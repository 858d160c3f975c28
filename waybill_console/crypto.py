"""Consumer data at rest: encrypted fields, key rotation, blind indexes, masking, audit.

* :class:`EncryptedTextField` stores a Fernet token (AES-128-CBC + HMAC). Its Python
  value is a :class:`Sealed` that never prints its content; assigning a ``str``
  encrypts it on save.
* :func:`reveal` is the only way back to the plain text, and every call writes a
  :class:`~waybill_console.models.DecryptionAudit` row.
* Keys come from ``FIELD_ENCRYPTION_KEYS`` (newest first); tokens made with an older
  key still decrypt, and ``manage.py rotate_encryption`` re-encrypts them with the newest.
* :func:`blind_index` is a keyed HMAC of the normalised value, so that a phone number
  can be searched for without storing it in clear (a plain hash of an 11-digit
  number would be reversible by enumeration).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plain: str) -> str:
    return fernet().encrypt(plain.encode("utf-8")).decode("ascii")


def _decrypt(token: str) -> str:
    return fernet().decrypt(token.encode("ascii")).decode("utf-8")


def open_secret(value) -> str:
    """An operator's credential (a carrier API key, a webhook secret) for the one call that
    uses it. Not consumer data: no audit row; never logged, never shown again."""
    if isinstance(value, Sealed):
        return _decrypt(value.token)
    return value or ""


def rotate_token(token: str) -> str:
    """Re-encrypt ``token`` with the newest key (no plain text leaves this function)."""
    return fernet().rotate(token.encode("ascii")).decode("ascii")


class Sealed:
    """An encrypted value as loaded from the database. ``str()`` never shows the content."""

    __slots__ = ("token",)

    def __init__(self, token: str):
        self.token = token

    def __repr__(self) -> str:
        return "<Sealed>"

    __str__ = __repr__

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Sealed) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)


class EncryptedTextField(models.TextField):
    """Ciphertext column. Assign ``str`` (encrypted on save) or a :class:`Sealed`."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return Sealed(value)

    def to_python(self, value):
        return value

    def get_prep_value(self, value):
        if value is None or value == "":
            return value
        if isinstance(value, Sealed):
            return value.token
        return encrypt(str(value))

    def value_to_string(self, obj):
        value = self.value_from_object(obj)
        return value.token if isinstance(value, Sealed) else ""


def reveal(obj: models.Model, fields: list[str] | tuple[str, ...], *, actor, purpose: str) -> dict:
    """Decrypt ``fields`` of ``obj`` for ``purpose`` and record who saw what.

    The caller has already checked that the actor may see them (a service does).
    """
    from waybill_console.models import DecryptionAudit

    values: dict[str, str] = {}
    for name in fields:
        value = getattr(obj, name)
        if isinstance(value, Sealed):
            try:
                values[name] = _decrypt(value.token)
            except InvalidToken:
                values[name] = ""
        elif isinstance(value, str):
            values[name] = value  # not yet saved: the caller's own input
        else:
            values[name] = ""
    DecryptionAudit.objects.create(
        shop_id=getattr(actor, "shop_id", None),
        user=actor.user if getattr(actor, "user", None) and actor.user.is_authenticated else None,
        token_prefix=getattr(getattr(actor, "token", None), "prefix", "") or "",
        purpose=purpose,
        model=obj._meta.label,
        object_pk=str(obj.pk),
        fields=list(fields),
    )
    return values


# --- blind index ----------------------------------------------------------------------

_NON_DIGITS = re.compile(r"\D+")


def normalize_phone(phone: str) -> str:
    digits = _NON_DIGITS.sub("", phone or "")
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def blind_index(value: str, *, kind: str = "phone") -> str:
    normalized = normalize_phone(value) if kind == "phone" else (value or "").strip()
    key = settings.BLIND_INDEX_KEY.encode("utf-8")
    return hmac.new(key, f"{kind}:{normalized}".encode(), hashlib.sha256).hexdigest()[:40]


# --- masking ----------------------------------------------------------------------------


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***, Alice → A****."""
    name = (name or "").strip()
    if not name:
        return ""
    return name[0] + "*" * max(len(name) - 1, 1)


def mask_phone(phone: str) -> str:
    """13812341234 → 138****1234; short numbers keep only their last 2 digits."""
    digits = normalize_phone(phone)
    if len(digits) >= 11:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) > 4:
        return "*" * (len(digits) - 2) + digits[-2:]
    return "*" * len(digits)


def mask_code(value: str) -> str:
    """An order number or shop id shown to another party: 2411230001234 → 2411*****1234,
    100001 → 10**01 (a short value keeps only its first and last character)."""
    value = (value or "").strip()
    if len(value) >= 10:
        return f"{value[:4]}{'*' * (len(value) - 8)}{value[-4:]}"
    if len(value) > 4:
        return f"{value[:2]}{'*' * (len(value) - 4)}{value[-2:]}"
    if len(value) > 2:
        return f"{value[0]}{'*' * (len(value) - 2)}{value[-1]}"
    return "*" * len(value)


def mask_address(province: str = "", city: str = "", district: str = "", detail: str = "") -> str:
    """District-level address; the street detail is replaced by ``****``."""
    head = "".join(p for p in (province, city, district) if p)
    return f"{head}****" if detail else head
