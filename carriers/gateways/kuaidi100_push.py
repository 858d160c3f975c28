"""Kuaidi100 (快递100) tracking pushes: the pure reading of what Kuaidi100 posts to our
callback (``param`` + ``sign = upper(md5(param + salt))``, [off] java-demo
``api/Subscribe.java#callBackUrl``, ``response/SubscribePush*.java``) and the mapping of
its states onto our tracking statuses. The door is ``waybills/api/push_kuaidi100.py``;
the order side is :mod:`carriers.gateways.kuaidi100`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from carriers.gateways.kuaidi100_codes import CARRIER_OF, KIND
from carriers.gateways.kuaidi100_mapping import answer_body
from waybill_console.crypto import open_secret
from waybill_console.errors import NotAuthenticated, ValidationError

log = logging.getLogger("carriers.gateways")


CHINA = ZoneInfo("Asia/Shanghai")


#: tracking state / item status text -> our tracking status (see the module docstring)
TRACKING = {
    "1": "picked_up",
    "0": "in_transit",
    "5": "in_transit",
    "7": "in_transit",
    "3": "delivered",
    "2": "failed",
    "4": "failed",
    "6": "failed",
    "揽收": "picked_up",
    "在途": "in_transit",
    "派件": "in_transit",
    "转投": "in_transit",
    "签收": "delivered",
    "疑难": "failed",
    "退签": "failed",
    "退回": "failed",
}


TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def push_sign(param: str, salt: str) -> str:
    """``upper(md5(param + salt))``: the signature of a tracking push."""
    return hashlib.md5((param + salt).encode("utf-8")).hexdigest().upper()  # nosec B324


@dataclass(frozen=True)
class TrackingUpdate:
    occurred_at: datetime
    status: str  # one of waybills' tracking statuses
    description: str
    location: str


@dataclass(frozen=True)
class Push:
    carrier_code: str
    waybill_no: str
    status: str  # polling | shutdown | abort | updateall
    events: list[TrackingUpdate]


def _when(item: dict) -> datetime | None:
    text = str(item.get("ftime") or item.get("time") or "").strip()
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=CHINA)
    except ValueError:
        return None


def tracking_updates(last_result: dict) -> list[TrackingUpdate]:
    """The events of ``lastResult.data`` we can map, oldest first."""
    items = last_result.get("data")
    if not isinstance(items, list):
        return []
    updates = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        status = TRACKING.get(str(item.get("status") or "").strip())
        if status is None and index == 0:
            status = TRACKING.get(str(last_result.get("state") or "").strip())
        occurred_at = _when(item)
        if status is None or occurred_at is None:
            continue
        updates.append(
            TrackingUpdate(
                occurred_at=occurred_at,
                status=status,
                description=str(item.get("context") or "")[:200],
                location=str(item.get("areaName") or item.get("location") or "")[:80],
            )
        )
    return list(reversed(updates))


def push_salt(carrier_code: str) -> str:
    """The salt our subscriptions gave Kuaidi100 for this carrier ("" when none is set)."""
    from carriers.models import GatewayConfig

    config = GatewayConfig.objects.filter(carrier__code=carrier_code, kind=KIND).first()
    return open_secret(config.callback_salt) if config is not None else ""


def push_read(*, param: str, signature: str) -> Push:
    """A tracking push, verified: the signature is checked with the salt of the carrier the
    push names. Raises VALIDATION_ERROR (unreadable) or NOT_AUTHENTICATED (a carrier we do
    not connect through Kuaidi100, no salt set, or a wrong signature)."""
    body = answer_body(param or "")
    last = body.get("lastResult") if body else None
    if not isinstance(last, dict):
        raise ValidationError.for_fields(param="A Kuaidi100 push: JSON with lastResult.")
    number = str(last.get("nu") or "").strip()
    carrier_code = CARRIER_OF.get(str(last.get("com") or "").strip())
    salt = push_salt(carrier_code) if carrier_code else ""
    given = (signature or "").strip().upper()
    if not salt or not hmac.compare_digest(push_sign(param, salt), given):
        log.warning(
            "kuaidi100 push refused: %s",
            "bad signature" if salt else "no salt for the carrier named",
        )
        raise NotAuthenticated(detail={"sign": ["Signature check failed."]})
    if not number:
        raise ValidationError.for_fields(param="lastResult.nu: the waybill number.")
    return Push(carrier_code, number, str(body.get("status") or ""), tracking_updates(last))
