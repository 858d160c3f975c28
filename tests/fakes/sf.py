"""A local stand-in for SF Express's 丰桥 API (``/std/service``) over real HTTP.

It speaks the published protocol (``shared/contracts/sf.md``): form-encoded requests whose
``msgDigest`` it checks with its own copy of the check word (a wrong one is answered
``A1006`` 数字签名无效), answers ``{apiResultCode, apiErrorMsg, apiResponseID,
apiResultData}`` with the service's reply as a JSON string inside, and keeps the orders it
took:

* ``EXP_RECE_CREATE_ORDER``: numbers in SF's format (``SF`` + 12 digits + our check digit,
  :mod:`carriers.gateways.builtin`), a master and ``parcelQty - 1`` children, with
  ``routeLabelData`` per number (``destRouteLabel``, ``codingMapping``,
  ``twoDimensionCode``…, as in gzbw79's sample answer); ``8016`` 重复下单 for an order id
  it already has; ``8119`` 月结卡号不存在或已失效 for a monthly card it does not know;
* ``EXP_RECE_SEARCH_ORDER_RESP``: the order's answer again, ``8018`` 未获取到订单信息 for
  an unknown order id;
* ``EXP_RECE_UPDATE_ORDER`` ``dealType`` 2: cancels the order (``resStatus`` 2), ``8037``
  已消单 on a repeat.

Failures are scripted per service (:meth:`FakeSF.script`): ``"http500"``,
``"malformed"`` (HTTP 200, not JSON), ``("slow", seconds)`` (sleep, then answer as usual),
``("answer_late", seconds)`` (take the order at once, answer after ``seconds``: the
client's read time-out after the carrier acted), ``("error", code, text)``.

Every request is recorded (:attr:`FakeSF.calls`), and :meth:`FakeSF.push_routes` pushes
a route (RoutePushService: ``{"Body": {"WaybillRoute": [...]}}`` as JSON) to a URL.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import random
import threading
import time
import uuid
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote_plus

import httpx

from carriers.gateways.builtin import FORMATS, check_digit

PARTNER_ID = "WBCSFTEST"
CHECK_WORD = "wbcFakeCheckWord0123456789abcdef"
MONTHLY_CARD = "7551234567"


def digest(msg_data: str, timestamp: str, check_word: str) -> str:
    """SF's msgDigest, written out again here (the fake does not borrow our client's)."""
    text = quote_plus(msg_data + timestamp + check_word, safe="*")
    return base64.b64encode(hashlib.md5(text.encode(), usedforsecurity=False).digest()).decode()


class FakeSF:
    def __init__(
        self,
        *,
        partner_id: str = PARTNER_ID,
        check_word: str = CHECK_WORD,
        monthly_cards: tuple[str, ...] = (MONTHLY_CARD,),
    ):
        self.partner_id = partner_id
        self.check_word = check_word
        self.monthly_cards = set(monthly_cards)
        self.orders: dict[str, dict] = {}  # orderId -> {"msg": answer msgData, "cancelled"}
        self.calls: list[dict] = []  # every request: serviceCode, msgData, digest_ok, answer
        self._scripts: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()
        prefix, length = FORMATS["SF"]
        self._prefix, self._digits = prefix, length - 1
        self._values = itertools.count(random.randrange(10**10, 9 * 10**10))
        self._route_ids = itertools.count(random.randrange(10**11, 9 * 10**11))
        self._server: ThreadingHTTPServer | None = None
        self.in_flight = 0  # requests being handled now
        self.most_in_flight = 0  # the most handled at once

    # -- running

    def start(self) -> FakeSF:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall per answer

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                with fake._lock:
                    fake.in_flight += 1
                    fake.most_in_flight = max(fake.most_in_flight, fake.in_flight)
                try:
                    status, text, delay = fake.handle(self.path, body)
                    if delay:
                        time.sleep(delay)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1
                raw = text.encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json;charset=UTF-8")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its read time-out)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/std/service"

    def script(self, service: str, *steps) -> None:
        """The next calls of ``service`` go these ways, one step per call."""
        with self._lock:
            self._scripts[service].extend(steps)

    def calls_of(self, service: str) -> list[dict]:
        return [c for c in self.calls if c["serviceCode"] == service]

    # -- the protocol

    def handle(self, path: str, body: str) -> tuple[int, str, float]:
        """``(HTTP status, body, seconds to wait before answering)``."""
        form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        service = form.get("serviceCode", "")
        msg_data = form.get("msgData", "")
        digest_ok = form.get("partnerID") == self.partner_id and form.get("msgDigest") == digest(
            msg_data, form.get("timestamp", ""), self.check_word
        )
        try:
            msg = json.loads(msg_data)
        except ValueError:
            msg = None
        call = {"serviceCode": service, "msgData": msg, "form": form, "digest_ok": digest_ok}
        with self._lock:
            self.calls.append(call)
            step = self._scripts[service].popleft() if self._scripts[service] else None
        if path != "/std/service":
            return 404, "", 0
        if step == "http500":
            return 500, "<html>Internal Server Error</html>", 0
        if step == "malformed":
            return 200, "<html>not json</html>", 0
        if not digest_ok:
            return 200, self._api("A1006", "数字签名无效"), 0
        if not isinstance(msg, dict):
            return 200, self._reply(False, "8000", "报文参数不合法"), 0
        delay = 0.0
        if isinstance(step, tuple) and step[0] == "slow":
            time.sleep(step[1])
        elif isinstance(step, tuple) and step[0] == "answer_late":
            delay = step[1]
        elif isinstance(step, tuple) and step[0] == "error":
            return 200, self._reply(False, step[1], step[2]), 0
        handler = {
            "EXP_RECE_CREATE_ORDER": self._create,
            "EXP_RECE_SEARCH_ORDER_RESP": self._search,
            "EXP_RECE_UPDATE_ORDER": self._update,
        }.get(service)
        if handler is None:
            return 200, self._api("A1004", "无对应服务权限"), 0
        with self._lock:
            text = handler(msg)
        call["answer"] = text
        return 200, text, delay

    def _create(self, msg: dict) -> str:
        order_id = str(msg.get("orderId") or "")
        if not order_id:
            return self._reply(False, "6118", "订单号不能为空")
        if order_id in self.orders:
            return self._reply(False, "8016", "重复下单")
        if msg.get("monthlyCard") not in self.monthly_cards:
            return self._reply(False, "8119", "月结卡号不存在或已失效")
        contacts = msg.get("contactInfoList") or []
        if sorted(c.get("contactType") for c in contacts) != [1, 2] or not msg.get("cargoDetails"):
            return self._reply(False, "8000", "报文参数不合法")
        count = int(msg.get("parcelQty") or 1)
        if count > 1 and not msg.get("totalWeight"):
            return self._reply(False, "8000", "子母件须传总重量")
        numbers = [self._number() for _ in range(count)]
        answer = {
            "orderId": order_id,
            "origincode": "571",
            "destcode": "571",
            "filterResult": 2,
            "remark": "",
            "waybillNoInfoList": [
                {"waybillType": 1 if i == 0 else 2, "waybillNo": n} for i, n in enumerate(numbers)
            ],
            "routeLabelInfo": [
                {"code": "1000", "routeLabelData": self._label(n), "message": f"{n}:"}
                for n in numbers
            ],
            "contactInfoList": None,
        }
        self.orders[order_id] = {"msg": answer, "request": msg, "cancelled": False}
        return self._reply(True, "S0000", None, answer)

    def _search(self, msg: dict) -> str:
        order = self.orders.get(str(msg.get("orderId") or ""))
        if order is None:
            return self._reply(False, "8018", "未获取到订单信息")
        return self._reply(True, "S0000", None, order["msg"])

    def _update(self, msg: dict) -> str:
        order = self.orders.get(str(msg.get("orderId") or ""))
        if order is None:
            return self._reply(False, "8018", "未获取到订单信息")
        if int(msg.get("dealType") or 0) != 2:
            return self._reply(False, "8000", "报文参数不合法")
        if order["cancelled"]:
            return self._reply(False, "8037", "已消单")
        order["cancelled"] = True
        answer = {
            "orderId": msg["orderId"],
            "waybillNoInfoList": order["msg"]["waybillNoInfoList"],
            "resStatus": 2,
            "extraInfoList": None,
        }
        return self._reply(True, "S0000", None, answer)

    def _number(self) -> str:
        body = f"{next(self._values):0{self._digits}d}"
        return f"{self._prefix}{body}{check_digit(body)}"

    @staticmethod
    def _label(number: str) -> dict:
        check = hashlib.sha256(number.encode()).hexdigest()[:8]
        return {
            "waybillNo": number,
            "sourceTransferCode": "571W",
            "destTransferCode": "571WG",
            "destDeptCode": "571AB",
            "destTeamCode": "035",
            "destRouteLabel": "571WG-AB-035",
            "codingMapping": "F12",
            "codingMappingOut": "",
            "proName": "顺丰标快",
            "proCode": "T4",
            "printIcon": "00000000",
            "abFlag": "",
            "xbFlag": "0",
            "checkCode": check,
            "twoDimensionCode": (
                f"MMM={{'k1':'571WG','k2':'571AB','k3':'035','k4':'T4','k5':'{number}',"
                f"'k6':'','k7':'{check}'}}"
            ),
        }

    @staticmethod
    def _api(code: str, message: str, data: str | None = None) -> str:
        return json.dumps(
            {
                "apiErrorMsg": message,
                "apiResponseID": uuid.uuid4().hex.upper(),
                "apiResultCode": code,
                "apiResultData": data,
            },
            ensure_ascii=False,
        )

    def _reply(self, success: bool, code: str, message: str | None, data=None) -> str:
        inner = {"success": success, "errorCode": code, "errorMsg": message, "msgData": data}
        return self._api("A1000", "", json.dumps(inner, ensure_ascii=False))

    # -- route push (SF → us)

    def route(
        self,
        *,
        mailno: str,
        orderid: str,
        op_code: str,
        accept_time: str,
        remark: str = "",
        address: str = "杭州市",
    ) -> dict:
        """One ``WaybillRoute`` as SF pushes it (``acceptTime`` in Beijing time,
        ``yyyy-MM-dd HH:mm:ss``)."""
        return {
            "id": str(next(self._route_ids)),
            "mailno": mailno,
            "orderid": orderid,
            "acceptTime": accept_time,
            "acceptAddress": address,
            "remark": remark,
            "opCode": op_code,
        }

    @staticmethod
    def push_routes(url: str, routes: list[dict]) -> httpx.Response:
        body = {"Body": {"WaybillRoute": routes}}
        return httpx.post(url, json=body, timeout=10)


def gateway_config(fake: FakeSF, *, push_token: str = "", check_word: str | None = None):
    """The SF carrier's gateway set to this fake (what ``manage.py carrier_gateway SF --use
    sf`` stores), with ``push_token`` as the route push secret."""
    from carriers.models import Carrier, GatewayConfig

    config, _ = GatewayConfig.objects.update_or_create(
        carrier=Carrier.objects.get(code="SF"),
        defaults={
            "kind": GatewayConfig.Kind.SF,
            "key": fake.partner_id,
            "secret": fake.check_word if check_word is None else check_word,
            "url": fake.url,
            "callback_salt": push_token,
        },
    )
    return config
