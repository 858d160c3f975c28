"""Kuaidi100 (快递100) e-waybill V2: one gateway for every carrier of the catalog.

Pure mapping (our request ↔ their ``param``, their codes → our errors, their pushes → our
tracking statuses) plus one I/O function (:meth:`Kuaidi100Gateway._call`, through
:func:`carriers.gateways.transport.post_form`). Contract notes with sources:
``shared/contracts/kuaidi100.md``; what was checked against the official SDKs is named
below ([off] = the vendor's own SDK or page, [3p] = third party).

**Calls.** ``POST <config.url>`` (``https://api.kuaidi100.com/label/order``), form fields
``method``, ``key``, ``t`` (epoch ms), ``param`` (JSON text) and
``sign = upper(md5(param + t + key + secret))`` over the exact ``param`` sent ([off]
java-demo ``utils/SignUtils.java#printSign``, python-demo ``code/eorder_create.py``).
``key``/``secret`` are the operator's (:class:`carriers.models.GatewayConfig`); the
account that issues numbers is the subscription's: ``partnerId`` = ``monthly_account``,
``partnerKey`` = ``secret_key``, ``net`` = the branch code.

**Order** (``method=order``; fields of [off] java-demo ``request/labelV2/OrderReq.java``):
``printType=NON`` (numbers only: our labels print themselves), ``orderId`` = the
reservation's carrier-side order id with ``reorder=false`` (Kuaidi100 answers a repeat of
the same ``orderId`` with the first result for 48 h: a retry, or the settling sweep, never
gets a second number; the sweep runs every minute, far inside the 48 h), ``payType``
``MONTHLY`` (the SDK's default), ``count`` = packages and ``needChild="1"`` when more than
one (子母件: the sub numbers come back in ``childNum``, comma-separated), ``weight`` in kg
when known, ``cargo`` from the items' names when there are items (none is made up).
Not sent: ``expType`` (the carrier's default product), value-added amounts (insured/COD:
screening checks the services; their amounts are not part of our request), ``code``,
``partnerSecret``, ``partnerName``, ``checkMan`` (no field of ours holds them). Packages
appended to an existing parent get numbers of their own (the API adds sub numbers only
in the order that creates the parent).

**Tracking subscription: at order time.** ``needSubscribe=true`` with ``pollCallBackUrl``
= ``PUBLIC_BASE_URL`` + ``/api/v1/carrier/push/kuaidi100/``, ``salt`` = the configuration's
push salt and ``resultv2="1"`` (each track item then carries its ``status`` text): one
call per package, no second round trip (``OrderReq``: "是否开启订阅功能 … 开启订阅功能时：
pollCallBackUrl必须填入"; "salt … 推送数据将包含该加密签名，加密方式：md5(param+salt)"; a
[3p] integration sets ``salt`` with ``needSubscribe`` the same way). Without
``PUBLIC_BASE_URL`` or without a salt nothing is subscribed (an unsigned push is never
accepted). A number whose subscription was lost (issued before the URL was set, or
``abort`` after 3 days without tracking, re-subscribable 30 min later) can be subscribed
again with :meth:`Kuaidi100Gateway.track` (``POST <config.poll_url>``, unsigned: [off]
python-demo ``code/subscribe.py``).

**Answer** ``{code, message, time, data}`` ([off] ``response/labelV2/Result.java``,
``OrderResult.java``): numbers = ``kuaidinum`` then ``childNum``. Routing: ``bulkpen``
(大头笔) → the short address name, ``pkgCode``/``pkgName`` (集包地) → the package centre,
and for the sort code — Kuaidi100 has no 三段码 field — ``destSortingCode`` (目的分拣编码),
else ``road`` (路区); what the carrier leaves out keeps our screening's value (the carrier
screens again at order time; ours stays as a fallback, never mixed inside one pair:
a carrier's name never gets our code). Every other non-empty field (``kdComOrderNum``,
``qrCode``, ``twoDimensionCode``, ``destRouteLabel``, ``orgCode``… and the routing fields
as sent) goes into ``print_data``. A value longer than our column is cut there (the full
value stays in ``print_data``).

**Codes → our errors**: :mod:`carriers.gateways.kuaidi100_codes` (with the carrier-code
catalog, ``kuaidicom``); the pure mapping of requests and answers is
:mod:`carriers.gateways.kuaidi100_mapping`, the pushes :mod:`carriers.gateways.kuaidi100_push`.

**Settling** (:meth:`settle`): the order again with the same ``orderId``. A refusal that
says nothing was issued under that id (30001: the same request was refused; 30004: no
quota) answers None (the sweep releases); one about our configuration (30002, 30003) or
an unknown outcome waits for the next sweep. :meth:`query` is not offered by the API for
an ``orderId``: it answers None, and the sweep uses :meth:`settle`.

**Cancel** (``method=cancel``, same URL: [off] java-demo ``BaseServiceTest#testLabelCancel``
and the cancel page; java-demo ``api/LabelCancel.java`` still points at the old
``eorderapi.do``): ``kuaidicom``, ``kuaidinum``, the partner fields sent at order time and
``orderId`` = ``kdComOrderNum`` ("对应下单时返回的kdComOrderNum，如果没有可以不传，否则必传").
The protocol gives us the carrier-side order id only, so ``kdComOrderNum`` is read back
from our own call log of that order (the logged answer keeps it); when none is found
(no such field returned, or the log purged) ``orderId`` is left out. 30009 查无此单 counts
as cancelled (nothing left to cancel at the carrier); other refusals → CARRIER_REFUSED
with the carrier's words, 30002/30003 as for an order.

**A cancel covers one number** (:attr:`Kuaidi100Gateway.cancels_whole_order` is False).
Checked against the official cancel page (api.kuaidi100.com/document/dianzimiandanquxiao:
"对已经提交过的面单但没有寄发的面单号进行取消", ``kuaidinum`` 快递单号 required), [off]
java-demo ``request/LabelCancelParam.java`` and php-demo ``src/ele_cancel.php``: the
cancel names the waybill number, ``orderId`` (``kdComOrderNum``) only accompanies it, and
nothing says the other numbers of a 子母件 go with it. So a sub number may be cancelled
alone here, unlike SF's own API (:mod:`carriers.gateways.sf`). Not documented either way:
what a carrier that itself cancels per order (SF, ``shunfeng``) does when reached through
Kuaidi100.

**Batches** (:meth:`issue_many`): the packages are asked at once, at most
``CARRIER_CONCURRENCY`` calls in flight (threads; each closes its database connections
when it ends: the transport logs every call).

**Pushes** (:func:`push_read`): form ``param`` + ``sign = upper(md5(param + salt))``
([off] ``api/Subscribe.java#callBackUrl``, ``response/SubscribePush*.java``), compared
case-insensitively in constant time with the salt of the configuration of the carrier
named by ``lastResult.com``. ``state``/item ``status``: 1 揽收 → picked_up; 0 在途,
5 派件, 7 转投 → in_transit (we have no "out for delivery"); 3 签收 → delivered;
2 疑难, 4 退签, 6 退回 → failed (we have no "returned"). Items come newest first; an item
without a status of its own takes ``lastResult.state`` if it is the newest, else it is
skipped (its status is unknown). Times are China time (``ftime``, ``YYYY-MM-DD HH:MM:SS``).
"""

from __future__ import annotations

import logging
import time

from carriers import errors
from carriers.gateways.base import (
    Issued,
    IssueRequest,
    Receiver,
    ScreenResult,
    issue_concurrently,
)
from carriers.gateways.builtin import BuiltinGateway
from carriers.gateways.kuaidi100_codes import (
    ACCOUNT_WRONG,
    KIND,
    NOT_FOUND,
    NOTHING_ISSUED,
    OK,
    SIGNATURE_WRONG,
    kuaidicom_for,
    refusal,
    unknown_outcome,
)
from carriers.gateways.kuaidi100_mapping import (
    PUSH_PATH,
    answer_body,
    answer_code,
    answer_data,
    callback_url,
    dumps,
    issued_from,
    logged_answer,
    masked_order,
    order_param,
    sign,
)
from carriers.gateways.kuaidi100_push import (  # the push side, where callers have always found it
    CHINA,
    TRACKING,
    Push,
    TrackingUpdate,
    push_read,
    push_salt,
    push_sign,
    tracking_updates,
)
from carriers.gateways.transport import post_form
from waybill_console.crypto import mask_code, open_secret

log = logging.getLogger("carriers.gateways")

DEFAULT_URL = "https://api.kuaidi100.com/label/order"
DEFAULT_POLL_URL = "https://poll.kuaidi100.com/poll"


# --- the gateway ------------------------------------------------------------------------------


class Kuaidi100Gateway:
    """One carrier's gateway through Kuaidi100 (see the module docstring)."""

    #: a cancel names one number (the module docstring: "A cancel covers one number")
    #: the subscription's account fields this gateway orders numbers on
    account_fields = frozenset({"monthly_account", "secret_key"})  # partnerId / partnerKey
    cancels_whole_order = False

    def __init__(self, config):
        self.key = config.key
        self._secret = config.secret  # sealed: opened for each call only
        self._salt = config.callback_salt
        self.url = config.url or DEFAULT_URL
        self.poll_url = config.poll_url or DEFAULT_POLL_URL
        self._screening = BuiltinGateway()

    def screen(
        self, *, subscription, receiver: Receiver, services: list[str] | None = None
    ) -> ScreenResult:
        """Our screening from the branch's coverage (the carrier screens again when the
        number is ordered)."""
        return self._screening.screen(
            subscription=subscription, receiver=receiver, services=services
        )

    def _call(
        self, method: str, param: dict, *, masked: dict, carrier_order_id: str = ""
    ) -> tuple[int, dict | None]:
        """The one I/O function: the HTTP status and the answer's body (None: unreadable)."""
        text = dumps(param)
        t = str(int(time.time() * 1000))
        answer = post_form(
            kind=KIND,
            account=self.key,
            operation=method,
            url=self.url,
            data={
                "method": method,
                "key": self.key,
                "t": t,
                "param": text,
                "sign": sign(text, t, self.key, open_secret(self._secret)),
            },
            masked=masked,
            carrier_order_id=carrier_order_id,
            mask_response=logged_answer,
        )
        return answer.status, answer_body(answer.text)

    def issue(self, request: IssueRequest) -> Issued:
        sub = request.subscription
        if not sub.monthly_account:  # Kuaidi100 needs the partnerId: refused, nothing sent
            raise errors.MonthlyAccountInvalid(detail={"monthly_account": "missing"})
        reveal = request.reveal_receiver
        r = request.receiver
        receiver = reveal() if reveal else {"name": r.name, "phone": r.phone, "detail": r.detail}
        param = order_param(
            request,
            kuaidicom=kuaidicom_for(sub.carrier.code),
            receiver=receiver,
            callback=callback_url(),
            salt=open_secret(self._salt),
        )
        status, body = self._call(
            "order",
            param,
            masked=masked_order(param, request),
            carrier_order_id=request.carrier_order_id,
        )
        if status >= 400:  # not an answer of the API (a wrong URL, a proxy): refused
            raise errors.AllocationFailed(detail={"error": f"HTTP {status}"})
        if body is None:
            raise unknown_outcome("unreadable answer")
        code = answer_code(body)
        if code is None:
            raise unknown_outcome("no code in the answer")
        if code != OK:
            raise refusal(code, body.get("message"))
        return issued_from(request, body)

    def issue_many(self, requests: list[IssueRequest]) -> list[Issued | Exception]:
        """Each package asked in its own call, at most ``CARRIER_CONCURRENCY`` at once."""
        return issue_concurrently(self, requests, prefix="kuaidi100")

    def settle(self, request: IssueRequest) -> Issued | None:
        """The order replayed with the same ``orderId`` (``reorder=false``): the number
        issued the first time, or None when the carrier says it issued nothing."""
        try:
            return self.issue(request)
        except errors.MonthlyAccountInvalid as err:
            if err.detail.get("monthly_account") == "missing":
                return None  # never sent: nothing was ever issued
            raise
        except (errors.QuotaInsufficient, errors.AllocationFailed) as err:
            if err.outcome_unknown or err.detail.get("carrier_code") not in NOTHING_ISSUED:
                raise
            return None

    def query(self, *, subscription, carrier_order_id: str) -> Issued | None:
        """Not offered by Kuaidi100 for an ``orderId``: :meth:`settle` replays instead."""
        return None

    def cancel(self, *, subscription, waybill_no: str, carrier_order_id: str = "") -> None:
        param = {
            "kuaidicom": kuaidicom_for(subscription.carrier.code),
            "kuaidinum": waybill_no,
            "partnerId": subscription.monthly_account,
            "net": subscription.branch.code,
        }
        partner_key = open_secret(subscription.secret_key)
        if partner_key:
            param["partnerKey"] = partner_key
        ordered = self._carrier_order_number(carrier_order_id, waybill_no)
        if ordered:
            param["orderId"] = ordered
        masked = {"method": "cancel", **{k: v for k, v in param.items() if k != "partnerKey"}}
        masked["partnerId"] = mask_code(param["partnerId"])
        status, body = self._call("cancel", param, masked=masked, carrier_order_id=carrier_order_id)
        if status >= 400 or body is None:
            problem = f"HTTP {status}" if status >= 400 else "unreadable answer"
            raise errors.CarrierRefused(reason=problem, detail={"error": problem})
        code = answer_code(body)
        if code in (OK, NOT_FOUND):
            return
        if code in (SIGNATURE_WRONG, ACCOUNT_WRONG):
            raise refusal(code, body.get("message"))
        message = str(body.get("message") or "")[:200]
        raise errors.CarrierRefused(
            reason=message or str(code), detail={"carrier_code": code, "carrier_message": message}
        )

    def _carrier_order_number(self, carrier_order_id: str, waybill_no: str) -> str:
        """``kdComOrderNum`` of the order that issued ``waybill_no``, from our call log."""
        if not carrier_order_id:
            return ""
        from carriers.models import GatewayCall

        logged = GatewayCall.objects.filter(
            kind=KIND, operation="order", carrier_order_id=carrier_order_id, ok=True
        ).order_by("-at", "-id")
        for text in logged.values_list("response", flat=True)[:5]:
            data = answer_data(answer_body(text) or {})
            numbers = [data.get("kuaidinum"), *str(data.get("childNum") or "").split(",")]
            if waybill_no in numbers:
                return str(data.get("kdComOrderNum") or "")
        return ""

    def track(self, *, subscription, waybill_no: str, phone: str = "") -> None:
        """Subscribe one number to tracking pushes again (``poll``; ``phone`` is needed for
        SF). Accepted or already tracked (501) is done; anything else is CARRIER_REFUSED
        (600/601: the operator's key, GATEWAY_SIGNATURE_INVALID)."""
        callback, salt = callback_url(), open_secret(self._salt)
        if not callback or not salt:
            raise errors.CarrierRefused(
                reason="PUBLIC_BASE_URL / salt", detail={"error": "no callback configured"}
            )
        parameters = {"callbackurl": callback, "salt": salt, "resultv2": "1"}
        if phone:
            parameters["phone"] = phone
        param = {
            "company": kuaidicom_for(subscription.carrier.code),
            "number": waybill_no,
            "key": self.key,
            "parameters": parameters,
        }
        answer = post_form(
            kind=KIND,
            account=self.key,
            operation="subscribe",
            url=self.poll_url,
            data={"schema": "json", "param": dumps(param)},
            masked={"method": "subscribe", "company": param["company"], "number": waybill_no},
        )
        body = answer_body(answer.text) or {}
        code = str(body.get("returnCode") or "")
        if body.get("result") is True or code in ("200", "501"):
            return
        if code in ("600", "601"):
            raise errors.GatewaySignatureInvalid(gateway="快递100", detail={"carrier_code": code})
        message = str(body.get("message") or "")[:200]
        raise errors.CarrierRefused(
            reason=message or code, detail={"carrier_code": code, "carrier_message": message}
        )


__all__ = [
    "CHINA",
    "KIND",
    "PUSH_PATH",
    "TRACKING",
    "Kuaidi100Gateway",
    "Push",
    "TrackingUpdate",
    "push_read",
    "push_salt",
    "push_sign",
    "sign",
    "tracking_updates",
]
