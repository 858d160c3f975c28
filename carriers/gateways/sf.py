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

import json
import logging
import time
import uuid

from carriers import errors
from carriers.gateways.base import (
    Issued,
    IssueRequest,
    Receiver,
    ScreenResult,
    issue_concurrently,
)
from carriers.gateways.builtin import BuiltinGateway
from carriers.gateways.sf_mapping import (  # noqa: F401 (the protocol's names, re-exported)
    ALREADY_CANCELLED,
    CREATE_ORDER,
    DEAL_CANCEL,
    DEFAULT_CARGO_NAME,
    DEFAULT_PARCEL_GRAMS,
    DUPLICATE_ORDER,
    KIND,
    LANGUAGE,
    MONTHLY_CARD_INVALID,
    NOT_SERVICEABLE,
    ORDER_NOT_FOUND,
    PRODUCTION_URL,
    SANDBOX_URL,
    SEARCH_ORDER,
    UPDATE_ORDER,
    Reply,
    issued_from,
    mask_answer,
    masked_msg_data,
    msg_digest,
    order_msg_data,
    read_reply,
    refusal,
)
from carriers.gateways.transport import post_form
from waybill_console.crypto import open_secret
from waybill_console.errors import AppError

log = logging.getLogger(__name__)


# --- the gateway --------------------------------------------------------------------------------


class SFGateway:
    """One operator account with SF (``GatewayConfig`` of kind ``sf``)."""

    #: EXP_RECE_UPDATE_ORDER cancels the SF order: every number of a 子母件 at once
    #: the subscription's account fields this gateway orders numbers on
    account_fields = frozenset({"monthly_account"})  # the monthly card (月结卡号)
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
                raise errors.AllocationTimeout(detail=refusal(reply).detail)
            return self._checked(issued, request)
        if reply.code == MONTHLY_CARD_INVALID:
            raise refusal(reply, error=errors.MonthlyAccountInvalid)
        if not reply.success or reply.data is None:
            raise refusal(reply)
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
            raise refusal(reply)
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
        raise refusal(reply)


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
