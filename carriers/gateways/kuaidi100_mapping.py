"""Kuaidi100 (快递100): the pure mapping of an order package onto ``method=order``'s
``param`` and of Kuaidi100's answer back onto our numbers and routing.

No I/O here; the adapter (:mod:`carriers.gateways.kuaidi100`) describes the contract with
its sources, and the codes and the carrier catalog are in
:mod:`carriers.gateways.kuaidi100_codes`.
"""

from __future__ import annotations

import hashlib
import json

from django.conf import settings

from carriers.gateways.base import Issued, IssueRequest, ScreenResult
from carriers.gateways.kuaidi100_codes import unknown_outcome
from waybill_console.crypto import mask_address, mask_code, mask_name, mask_phone, open_secret

PUSH_PATH = "/api/v1/carrier/push/kuaidi100/"

#: what the carrier calls its routing fields, as :class:`ScreenResult` names them
ROUTING_KEYS = ("bulkpen", "pkgCode", "pkgName", "destSortingCode", "road")
NUMBER_KEYS = ("kuaidinum", "childNum")
#: answer fields not kept in the call log (label links and print commands)
UNLOGGED_KEYS = ("printData", "printDatas", "label", "backTemplate")
#: our column widths (waybills.Waybill) for the carrier's routing values
SORT_CODE_MAX, CODE_MAX, NAME_MAX = 20, 20, 40


# --- signatures ------------------------------------------------------------------------------


def sign(param: str, t: str, key: str, secret: str) -> str:
    """``upper(md5(param + t + key + secret))``: the request signature."""
    return hashlib.md5((param + t + key + secret).encode("utf-8")).hexdigest().upper()  # nosec B324


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --- our request -> their param ----------------------------------------------------------


def _man(name: str, phone: str, province: str, city: str, district: str, detail: str) -> dict:
    phone = (phone or "").strip()
    mobile = phone.isdigit() and len(phone) == 11 and phone.startswith("1")
    return {
        "name": name or "",
        "mobile" if mobile else "tel": phone,
        "printAddr": f"{province}{city}{district}{detail or ''}",
    }


def _masked_man(man: dict, province: str, city: str, district: str) -> dict:
    phone = man.get("mobile") or man.get("tel") or ""
    return {
        "name": mask_name(man["name"]),
        "phone": mask_phone(phone),
        "printAddr": mask_address(province, city, district, "x"),
    }


def callback_url() -> str:
    base = getattr(settings, "PUBLIC_BASE_URL", "")
    return f"{base}{PUSH_PATH}" if base else ""


def order_param(
    request: IssueRequest, *, kuaidicom: str, receiver: dict, callback: str = "", salt: str = ""
) -> dict:
    """``param`` of ``method=order`` for one order package (``receiver``: name, phone and
    street in full)."""
    sub, r, s = request.subscription, request.receiver, request.sender or {}
    param = {
        "printType": "NON",
        "kuaidicom": kuaidicom,
        "partnerId": sub.monthly_account,
        "net": sub.branch.code,
        "orderId": request.carrier_order_id,
        "reorder": False,
        "payType": "MONTHLY",
        "sendMan": _man(
            s.get("name", ""),
            s.get("phone", ""),
            s.get("province", ""),
            s.get("city", ""),
            s.get("district", ""),
            s.get("detail", ""),
        ),
        "recMan": _man(
            receiver.get("name", ""),
            receiver.get("phone", ""),
            r.province,
            r.city,
            r.district,
            receiver.get("detail", ""),
        ),
        "count": request.package_count,
    }
    partner_key = open_secret(sub.secret_key)
    if partner_key:
        param["partnerKey"] = partner_key
    if request.package_count > 1:
        param["needChild"] = "1"
    if request.weight_grams:
        param["weight"] = round(request.weight_grams / 1000, 3)
    names = [
        str(i.get("name") or i.get("product_name") or "")
        for i in request.items or []
        if isinstance(i, dict)
    ]
    cargo = "、".join(dict.fromkeys(n for n in names if n))
    if cargo:
        param["cargo"] = cargo[:100]
    if callback and salt:
        param.update(needSubscribe=True, pollCallBackUrl=callback, salt=salt, resultv2="1")
    return param


def masked_order(param: dict, request: IssueRequest) -> dict:
    """What the call log keeps of an order: no consumer data, no partner key, no salt."""
    r, s = request.receiver, request.sender or {}
    return {
        "method": "order",
        "kuaidicom": param["kuaidicom"],
        "orderId": param["orderId"],
        "partnerId": mask_code(param["partnerId"]),
        "net": param["net"],
        "count": param["count"],
        "needChild": param.get("needChild", ""),
        "weight": param.get("weight"),
        "needSubscribe": bool(param.get("needSubscribe")),
        "sendMan": _masked_man(
            param["sendMan"], s.get("province", ""), s.get("city", ""), s.get("district", "")
        ),
        "recMan": _masked_man(param["recMan"], r.province, r.city, r.district),
    }


# --- their answer -> ours ---------------------------------------------------------------------


def answer_body(text: str) -> dict | None:
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


def answer_code(body: dict):
    try:
        return int(body.get("code"))
    except (TypeError, ValueError):
        return None


def answer_data(body: dict) -> dict:
    data = body.get("data")
    if isinstance(data, list):  # lenient: one order answered in a list
        data = data[0] if data else None
    return data if isinstance(data, dict) else {}


def logged_answer(text: str) -> str:
    """The answer as the call log keeps it: without label links or print commands."""
    body = answer_body(text)
    if body is None:
        return text[:200]
    data = {k: v for k, v in answer_data(body).items() if k not in UNLOGGED_KEYS}
    return dumps({"code": body.get("code"), "message": body.get("message"), "data": data})


def _fit(value, width: int) -> str:
    return str(value or "")[:width]


def routing(data: dict, screened: ScreenResult | None) -> ScreenResult | None:
    """The carrier's routing over our screening's (None: the carrier gave none)."""
    if not any(data.get(k) for k in ROUTING_KEYS):
        return None
    base = screened or ScreenResult("", "", "", "", "", "")
    sort_code = data.get("destSortingCode") or data.get("road")
    centre = (
        (_fit(data.get("pkgCode"), CODE_MAX), _fit(data.get("pkgName"), NAME_MAX))
        if data.get("pkgCode") or data.get("pkgName")
        else (base.package_center_code, base.package_center_name)
    )
    short = (
        ("", _fit(data["bulkpen"], NAME_MAX))
        if data.get("bulkpen")
        else (base.short_address_code, base.short_address_name)
    )
    return ScreenResult(
        sort_code=_fit(sort_code, SORT_CODE_MAX) if sort_code else base.sort_code,
        package_center_code=centre[0],
        package_center_name=centre[1],
        short_address_code=short[0],
        short_address_name=short[1],
        region_code=base.region_code,
        services=list(base.services),
    )


def issued_from(request: IssueRequest, body: dict) -> Issued:
    data = answer_data(body)
    parent = str(data.get("kuaidinum") or "").strip()
    children = [n.strip() for n in str(data.get("childNum") or "").split(",") if n.strip()]
    numbers = [parent, *children] if parent else []
    if len(numbers) != request.package_count:
        raise unknown_outcome(
            f"{len(numbers)} numbers answered for {request.package_count} packages"
        )
    print_data = {
        k: v for k, v in data.items() if k not in NUMBER_KEYS and v not in (None, "", [], {})
    }
    return Issued(
        carrier_order_id=request.carrier_order_id,
        numbers=numbers,
        routing=routing(data, request.screen),
        print_data=print_data,
    )
