"""SF Express (丰桥) as data: the signature, our request as SF's ``msgData``, SF's answer as
ours, and what the call log may keep of either (consumer data masked). No I/O here: the
gateway (:mod:`carriers.gateways.sf`) sends and reads through the transport. Sources and
the protocol's notes: the gateway's docstring."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, replace
from urllib.parse import quote_plus

from carriers import errors
from carriers.gateways.base import Issued, IssueRequest, ScreenResult
from carriers.gateways.transport import Answer
from carriers.models import GatewayConfig
from waybill_console.crypto import mask_name, mask_phone
from waybill_console.errors import AppError

KIND = "sf"
PRODUCTION_URL = "https://bspgw.sf-express.com/std/service"
SANDBOX_URL = "https://sfapi-sbox.sf-express.com/std/service"

CREATE_ORDER = "EXP_RECE_CREATE_ORDER"
SEARCH_ORDER = "EXP_RECE_SEARCH_ORDER_RESP"
UPDATE_ORDER = "EXP_RECE_UPDATE_ORDER"

API_OK = "A1000"
DUPLICATE_ORDER = "8016"  # 重复下单
ORDER_NOT_FOUND = "8018"  # 未获取到订单信息
ALREADY_CANCELLED = "8037"  # 已消单
MONTHLY_CARD_INVALID = "8119"  # 月结卡号不存在或已失效
NOT_SERVICEABLE = "3"  # filterResult: 不可收派

LANGUAGE = "zh-CN"
PAY_SENDER = 1  # payMethod 寄方付 (the monthly card pays)
EXPRESS_STANDARD = 2  # expressTypeId 顺丰标快
DEAL_CANCEL = 2  # EXP_RECE_UPDATE_ORDER dealType
MASTER, CHILD = 1, 2  # waybillType
#: what an order package without items declares (SF requires a cargo name)
DEFAULT_CARGO_NAME = "日用品"
#: the declared weight of one parcel of a 子母件 without a weight (SF requires totalWeight)
DEFAULT_PARCEL_GRAMS = 1000

_MOBILE = re.compile(r"^1\d{10}$")


# --- the signature ------------------------------------------------------------------------------


def msg_digest(msg_data: str, timestamp: str, check_word: str) -> str:
    """SF's ``msgDigest``: Base64 of the raw MD5 of the URL-encoded (Java ``URLEncoder``)
    UTF-8 text ``msgData + timestamp + checkWord``."""
    encoded = quote_plus(msg_data + timestamp + check_word, safe="*")
    return base64.b64encode(
        hashlib.md5(encoded.encode("utf-8"), usedforsecurity=False).digest()
    ).decode("ascii")


# --- our request → SF's msgData -----------------------------------------------------------------


def _phone_fields(phone: str) -> dict:
    phone = (phone or "").strip()
    return {"mobile": phone} if _MOBILE.match(phone) else {"tel": phone}


def _contact(
    contact_type: int,
    *,
    name: str,
    phone: str,
    province: str,
    city: str,
    county: str,
    address: str,
) -> dict:
    return {
        "contactType": contact_type,
        "contact": name,
        **_phone_fields(phone),
        "country": "CN",
        "province": province,
        "city": city,
        "county": county,
        "address": address,
    }


def _cargo(items: list) -> list[dict]:
    cargo = []
    for item in items or []:
        if not isinstance(item, dict):
            continue
        name = str(item.get("product_name") or item.get("name") or "").strip()
        if not name:
            continue
        try:
            count = max(1, int(item.get("quantity") or item.get("count") or 1))
        except (TypeError, ValueError):
            count = 1
        cargo.append({"name": name[:60], "count": count, "unit": "件"})
    return cargo or [{"name": DEFAULT_CARGO_NAME, "count": 1, "unit": "件"}]


def order_msg_data(request: IssueRequest, *, receiver: dict) -> dict:
    """EXP_RECE_CREATE_ORDER's msgData for one order package. ``receiver``: the receiver's
    name, phone and street in full (``IssueRequest.reveal_receiver()``)."""
    sender, division = request.sender or {}, request.receiver
    msg = {
        "language": LANGUAGE,
        "orderId": request.carrier_order_id,
        "monthlyCard": request.subscription.monthly_account,
        "payMethod": PAY_SENDER,
        "expressTypeId": EXPRESS_STANDARD,
        "isReturnRoutelabel": 1,
        "parcelQty": request.package_count,
        "contactInfoList": [
            _contact(
                1,
                name=sender.get("name", ""),
                phone=sender.get("phone", ""),
                province=sender.get("province", ""),
                city=sender.get("city", ""),
                county=sender.get("district", ""),
                address=sender.get("detail", ""),
            ),
            _contact(
                2,
                name=receiver.get("name") or "",
                phone=receiver.get("phone") or "",
                province=division.province,
                city=division.city,
                county=division.district,
                address=receiver.get("detail") or "",
            ),
        ],
        "cargoDetails": _cargo(request.items),
    }
    if request.weight_grams or request.package_count > 1:
        grams = request.weight_grams or DEFAULT_PARCEL_GRAMS * request.package_count
        msg["totalWeight"] = round(grams / 1000, 3)
    return msg


def masked_msg_data(msg: dict) -> dict:
    """What the call log keeps of a msgData: names, phones and streets masked."""
    masked = dict(msg)
    if "contactInfoList" in msg:
        masked["contactInfoList"] = [
            {
                **c,
                "contact": mask_name(c.get("contact", "")),
                **({"mobile": mask_phone(c["mobile"])} if c.get("mobile") else {}),
                **({"tel": mask_phone(c["tel"])} if c.get("tel") else {}),
                "address": "****" if c.get("address") else "",
            }
            for c in msg["contactInfoList"]
        ]
    return masked


_CONSUMER_KEYS = {"contact", "mobile", "tel", "address", "contactInfo", "contactInfoList"}


def mask_answer(text: str) -> str:
    """SF's answer as the call log keeps it: any contact block blanked (the order and
    search answers carry ``contactInfo``/``contactInfoList`` when SF echoes them)."""
    try:
        outer = json.loads(text)
    except ValueError:
        return text
    if not isinstance(outer, dict):
        return text
    inner = outer.get("apiResultData")
    if isinstance(inner, str):
        try:
            outer = {**outer, "apiResultData": json.dumps(_blank(json.loads(inner)))}
        except ValueError:
            pass
    return json.dumps(_blank(outer), ensure_ascii=False)


def _blank(value):
    if isinstance(value, dict):
        return {k: ("***" if k in _CONSUMER_KEYS and v else _blank(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v) for v in value]
    return value


# --- SF's answer → ours -------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """The service's answer inside ``apiResultData``."""

    success: bool
    code: str
    message: str
    data: dict | None


def read_reply(answer: Answer) -> Reply:
    """The service's reply, once SF's gateway took the request. Raises
    GATEWAY_SIGNATURE_INVALID for a gateway refusal (an A-code), ALLOCATION_FAILED for an
    HTTP 4xx (refused before anything ran), ALLOCATION_TIMEOUT for an answer that cannot be
    read (the request left: its outcome is unknown)."""
    if answer.status >= 400:
        raise errors.AllocationFailed(detail={"http_status": answer.status})
    try:
        outer = json.loads(answer.text)
        api_code = str(outer.get("apiResultCode") or "")
    except (ValueError, AttributeError):
        raise errors.AllocationTimeout(detail={"error": "unreadable answer"}) from None
    if api_code != API_OK:
        raise errors.GatewaySignatureInvalid(
            gateway=GatewayConfig.Kind.SF.label,
            detail={"api_result_code": api_code, "api_error_msg": outer.get("apiErrorMsg") or ""},
        )
    try:
        inner = outer.get("apiResultData")
        inner = json.loads(inner) if isinstance(inner, str) else inner
        data = inner.get("msgData")
        return Reply(
            success=bool(inner.get("success")),
            code=str(inner.get("errorCode") or ""),
            message=str(inner.get("errorMsg") or ""),
            data=data if isinstance(data, dict) else None,
        )
    except (ValueError, AttributeError):
        raise errors.AllocationTimeout(detail={"error": "unreadable answer"}) from None


def refusal(reply: Reply, *, error: type[AppError] = errors.AllocationFailed) -> AppError:
    return error(detail={"carrier_code": reply.code, "carrier_message": reply.message})


def issued_from(data: dict, *, carrier_order_id: str, screen: ScreenResult | None) -> Issued:
    """Numbers (the master first, then the children), routing and label data from an
    order's ``msgData``."""
    infos = [i for i in data.get("waybillNoInfoList") or [] if isinstance(i, dict)]
    numbers = [
        str(i.get("waybillNo"))
        for kind in (MASTER, CHILD)
        for i in infos
        if int(i.get("waybillType") or 0) == kind and i.get("waybillNo")
    ]
    labels = {}
    for info in data.get("routeLabelInfo") or []:
        label = (info or {}).get("routeLabelData") or {}
        if label.get("waybillNo"):
            labels[str(label["waybillNo"])] = label
    master = labels.get(numbers[0]) if numbers else None
    if master is None and labels:
        master = next(iter(labels.values()))
    master = master or {}
    route_code = str(master.get("destRouteLabel") or "")
    print_data = {
        key: str(master[source])
        for key, source in (
            ("qr", "twoDimensionCode"),
            ("route_code", "destRouteLabel"),
            ("coding_mapping", "codingMapping"),
            ("coding_mapping_out", "codingMappingOut"),
            ("pro_name", "proName"),
            ("pro_code", "proCode"),
            ("dest_team_code", "destTeamCode"),
            ("dest_dept_code", "destDeptCode"),
            ("dest_transfer_code", "destTransferCode"),
            ("source_transfer_code", "sourceTransferCode"),
            ("print_icon", "printIcon"),
            ("ab_flag", "abFlag"),
            ("xb_flag", "xbFlag"),
            ("check_code", "checkCode"),
        )
        if master.get(source)
    }
    for key, source in (("origin_code", "origincode"), ("dest_code", "destcode")):
        if data.get(source):
            print_data[key] = str(data[source])
    qr_by_number = {
        number: str(labels[number]["twoDimensionCode"])
        for number in numbers
        if labels.get(number, {}).get("twoDimensionCode")
    }
    if qr_by_number:
        print_data["qr_by_number"] = qr_by_number
    routing = None
    if route_code:
        base = screen or ScreenResult("", "", "", "", "", "")
        routing = replace(
            base,
            sort_code=route_code,
            package_center_code=str(master.get("destTransferCode") or base.package_center_code),
        )
    return Issued(carrier_order_id, numbers, routing=routing, print_data=print_data)
