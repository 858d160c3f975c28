"""SF Express (顺丰丰桥) direct: numbers, routing and the 丰密 label data from SF's own API.

Pure mapping (our request ↔ SF's ``msgData``, SF's codes → ours) plus one I/O function,
:meth:`SFGateway._call`, which posts through :mod:`carriers.gateways.transport` (time-outs,
retries of the very same request, the circuit breaker, the call log with consumer data
masked). The contract with its sources is ``shared/contracts/sf.md``; what is written here
was checked against these sources ([3p] = a third party's code, not SF's own document):

* **URL**: ``GatewayConfig.url``; blank is production, :data:`PRODUCTION_URL`
  (``bspgw``); SF's sandbox is :data:`SANDBOX_URL` (``sfapi-sbox``).
* **Request** (form-encoded POST to ``/std/service``): ``partnerID`` (顾客编码,
  ``GatewayConfig.key``), ``requestID`` (a UUID), ``serviceCode``, ``timestamp`` (ms),
  ``msgDigest``, ``msgData`` (a JSON string). gzbw79/sfexpress_sdk ``src/Handler.php``.
* **msgDigest** = ``base64(md5(urlencode(msgData + timestamp + checkWord)))`` with Java's
  ``URLEncoder`` rules (``quote_plus(…, safe="*")``), the raw digest Base64-encoded; the
  official worked example (contract notes) is reproduced in ``tests/carriers/test_sf.py``.
  ``checkWord`` is ``GatewayConfig.secret``, opened for each call, never logged.
* **Answer**: ``{apiResultCode, apiErrorMsg, apiResponseID, apiResultData}``;
  ``apiResultCode`` ``A1000`` means SF's gateway took the request, and ``apiResultData`` is
  a JSON string ``{success, errorCode, errorMsg, msgData}`` (gzbw79 ``examples/*.php``).
  Any other A-code is a refusal by SF's gateway before the service ran (nothing created):
  ``A1006`` 数字签名无效 and ``A1004`` 无对应服务权限 are seen in a third-party client
  (find_string hit 56401490879); all of them become GATEWAY_SIGNATURE_INVALID, a matter of
  the platform's partner id / check word / enabled services, with SF's code in the detail.
* **EXP_RECE_CREATE_ORDER** ([3p] PyPI sf-sdk ``sf/order/order.py``, gzbw79
  ``src/CreateOrder.php``): ``orderId`` = our carrier-side order id (unique: asking again
  with it is answered 8016 重复下单), ``monthlyCard`` = the subscription's monthly account,
  ``payMethod`` 1 (寄方付), ``expressTypeId`` 2 (标快), ``isReturnRoutelabel`` 1,
  ``contactInfoList`` (contactType 1 the sender, 2 the receiver, opened for this call and
  audited), ``cargoDetails`` (our items; SF requires one, so an order package without
  items declares :data:`DEFAULT_CARGO_NAME`), ``parcelQty`` = the package count: >1 gives a
  master number and N−1 child numbers (子母件), for which SF requires ``totalWeight``:
  the package's weight, else :data:`DEFAULT_PARCEL_GRAMS` per parcel (a declaration only:
  SF bills on what it weighs at pickup).
* **Numbers**: ``waybillNoInfoList`` — ``waybillType`` 1 the master (first), 2 the
  children; 3 (签回单, a return receipt) is not a package and is left out. An answer with
  fewer numbers than packages is refused (ALLOCATION_FAILED) and the SF order cancelled.
* **Routing and label data** (sample answer in gzbw79 ``examples/search_order.php``):
  ``routeLabelInfo[].routeLabelData`` of the master number: ``destRouteLabel`` is the sort
  code (三段码) and the label's ``route_code``, ``destTransferCode`` the package centre
  code; ``codingMapping``, ``proName``, ``twoDimensionCode`` (the 丰密 QR), … go into
  ``print_data`` under the keys :mod:`printing.services` reads (``qr``, ``route_code``,
  ``coding_mapping``, ``pro_name``); ``qr_by_number`` keeps each number's own QR (a child
  label's 丰密 code names the child number). ``filterResult`` 3 (不可收派) is OUT_OF_RANGE.
* **EXP_RECE_SEARCH_ORDER_RESP** (订单结果查询; gzbw79 ``src/SearchOrder.php``:
  ``{orderId, searchType: 1, language}``) answers the same ``msgData`` as the order. An
  order SF does not know is ``8018`` 未获取到订单信息 ([3p] SF error table in
  littlebossERP/erp_opensource ``common/api/carrierAPI/LB_SFCarrierAPI.php``, the same
  table that lists 8016 and 8037): :meth:`SFGateway.query` answers None. It settles an
  unknown outcome (a time-out after the order left) and answers 8016 with the first
  numbers, so a package never gets two.
* **EXP_RECE_UPDATE_ORDER** ``dealType`` 2 cancels the SF order by ``orderId`` (gzbw79
  ``src/UpdateOrder.php``; a repeat answers ``8037`` 已消单, ``examples/update_order.php``,
  which counts as cancelled here). SF cancels per order: cancelling one number of a 子母件
  cancels the order (every number of it) at SF: :attr:`SFGateway.cancels_whole_order`,
  by which ``waybill_cancel`` cancels a live group whole, with one call, or not at all.
* **Errors**: ``8119`` 月结卡号不存在或已失效 → MONTHLY_ACCOUNT_INVALID (商家编码不存在/月结账号
  失效,请与物流公司核实); any other refusal → ALLOCATION_FAILED with SF's code and text in
  the detail; an answer that cannot be read after the request left → ALLOCATION_TIMEOUT
  (the outcome is unknown: asked again later with the same order id).

Batches: :meth:`SFGateway.issue_many` asks for up to ``CARRIER_CONCURRENCY`` packages at
once from a thread pool (each worker thread closes its own database connection when done).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, replace
from urllib.parse import quote_plus

from carriers import errors
from carriers.gateways.base import (
    Issued,
    IssueRequest,
    Receiver,
    ScreenResult,
    issue_concurrently,
)
from carriers.gateways.builtin import BuiltinGateway
from carriers.gateways.transport import Answer, post_form
from carriers.models import GatewayConfig
from waybill_console.crypto import mask_name, mask_phone, open_secret
from waybill_console.errors import AppError

log = logging.getLogger(__name__)

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


def _refusal(reply: Reply, *, error: type[AppError] = errors.AllocationFailed) -> AppError:
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


# --- the gateway --------------------------------------------------------------------------------


class SFGateway:
    """One operator account with SF (``GatewayConfig`` of kind ``sf``)."""

    #: EXP_RECE_UPDATE_ORDER cancels the SF order: every number of a 子母件 at once
    cancels_whole_order = True

    def __init__(self, config):
        self.partner_id = config.key
        self._sealed_check_word = config.secret
        self.url = config.url or PRODUCTION_URL
        self._screening = BuiltinGateway()

    # -- I/O

    def _call(self, service: str, msg: dict, *, operation: str, carrier_order_id: str) -> Reply:
        """Post one service call through the transport and read SF's reply."""
        msg_data = json.dumps(msg, ensure_ascii=False, separators=(",", ":"))
        timestamp = str(int(time.time() * 1000))
        request_id = uuid.uuid4().hex
        form = {
            "partnerID": self.partner_id,
            "requestID": request_id,
            "serviceCode": service,
            "timestamp": timestamp,
            "msgDigest": msg_digest(msg_data, timestamp, open_secret(self._sealed_check_word)),
            "msgData": msg_data,
        }
        answer = post_form(
            kind=KIND,
            account=self.partner_id,
            operation=operation,
            url=self.url,
            data=form,
            masked={
                "serviceCode": service,
                "requestID": request_id,
                "timestamp": timestamp,
                "msgData": masked_msg_data(msg),
            },
            carrier_order_id=carrier_order_id,
            mask_response=mask_answer,
        )
        return read_reply(answer)

    # -- the protocol

    def screen(
        self, *, subscription, receiver: Receiver, services: list[str] | None = None
    ) -> ScreenResult:
        """Screening (筛单) from the branch's delivery range, as the built-in gateway does:
        it runs before anything is charged and needs no call to SF."""
        return self._screening.screen(
            subscription=subscription, receiver=receiver, services=services
        )

    def issue(self, request: IssueRequest) -> Issued:
        receiver = request.reveal_receiver() if request.reveal_receiver else {}
        if not receiver:
            r = request.receiver
            receiver = {"name": r.name or "", "phone": r.phone or "", "detail": r.detail or ""}
        reply = self._call(
            CREATE_ORDER,
            order_msg_data(request, receiver=receiver),
            operation="order",
            carrier_order_id=request.carrier_order_id,
        )
        if reply.code == DUPLICATE_ORDER:
            # asked before with this order id (an earlier answer was lost): its numbers
            issued = self.query(
                subscription=request.subscription, carrier_order_id=request.carrier_order_id
            )
            if issued is None:  # SF knows the order but shows none: ask again later
                raise errors.AllocationTimeout(detail=_refusal(reply).detail)
            return self._checked(issued, request)
        if reply.code == MONTHLY_CARD_INVALID:
            raise _refusal(reply, error=errors.MonthlyAccountInvalid)
        if not reply.success or reply.data is None:
            raise _refusal(reply)
        issued = issued_from(
            reply.data, carrier_order_id=request.carrier_order_id, screen=request.screen
        )
        if str(reply.data.get("filterResult") or "") == NOT_SERVICEABLE:
            self._cancel_quietly(request)
            raise errors.OutOfRange(detail={"carrier_code": "filterResult 3"})
        return self._checked(issued, request)

    def _checked(self, issued: Issued, request: IssueRequest) -> Issued:
        if len(issued.numbers) != request.package_count:
            self._cancel_quietly(request)
            raise errors.AllocationFailed(
                detail={"expected_numbers": request.package_count, "got": len(issued.numbers)}
            )
        return issued

    def _cancel_quietly(self, request: IssueRequest) -> None:
        """Cancel an SF order we will not use (its numbers are never committed)."""
        try:
            self.cancel(
                subscription=request.subscription,
                waybill_no="",
                carrier_order_id=request.carrier_order_id,
            )
        except AppError as err:
            log.warning("could not cancel an unused SF order: %s", err.code)

    def issue_many(self, requests: list[IssueRequest]) -> list[Issued | Exception]:
        """One answer (or the error) per request, in order; up to ``CARRIER_CONCURRENCY``
        requests in flight at once."""
        return issue_concurrently(self, requests, prefix="sf-issue")

    def query(self, *, subscription, carrier_order_id: str) -> Issued | None:
        reply = self._call(
            SEARCH_ORDER,
            {"orderId": carrier_order_id, "searchType": 1, "language": LANGUAGE},
            operation="query",
            carrier_order_id=carrier_order_id,
        )
        if reply.code == ORDER_NOT_FOUND:
            return None
        if not reply.success or reply.data is None:
            raise _refusal(reply)
        return issued_from(reply.data, carrier_order_id=carrier_order_id, screen=None)

    def cancel(self, *, subscription, waybill_no: str, carrier_order_id: str = "") -> None:
        """Cancel the SF order, every number of it (SF cancels per order id; ``waybill_no``
        is not sent); a repeat, 8037 已消单, is done."""
        if not carrier_order_id:
            raise errors.AllocationFailed(detail={"carrier_order_id": "missing: SF cancels by it"})
        reply = self._call(
            UPDATE_ORDER,
            {"orderId": carrier_order_id, "dealType": DEAL_CANCEL, "language": LANGUAGE},
            operation="cancel",
            carrier_order_id=carrier_order_id,
        )
        if reply.code == ALREADY_CANCELLED or reply.success:
            return
        raise _refusal(reply)


# --- route pushes (the door: waybills/api/push_sf.py) -------------------------------------------

#: opCode -> our tracking status (sources in the push door's docstring); others: in transit
PICKED_UP = frozenset({"50", "54"})
DELIVERED = frozenset({"80", "8080"})
RETURNED = frozenset({"648", "99"})


def op_code_status(op_code: str) -> str:
    if op_code in PICKED_UP:
        return "picked_up"
    if op_code in DELIVERED:
        return "delivered"
    if op_code in RETURNED:
        return "failed"
    return "in_transit"
