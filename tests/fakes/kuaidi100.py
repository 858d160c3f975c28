"""A local stand-in for Kuaidi100 (快递100) over real HTTP: e-waybill V2 and tracking.

It speaks the published protocol (``shared/contracts/kuaidi100.md``), with its own copy of
the signatures (it borrows nothing from our client):

* ``POST /label/order`` (form ``method``, ``key``, ``t``, ``param``, ``sign``): the
  signature ``upper(md5(param + t + key + secret))`` is checked (``30002`` 验证签名失败 when
  wrong), then the required fields (``30001`` 参数错误), then:

  - ``method=order``: an ``orderId`` it already answered with ``reorder=false`` gets the
    first answer again (replay); otherwise numbers in the carrier's format
    (:data:`carriers.gateways.builtin.FORMATS` + check digit), ``childNum`` for
    ``needChild="1"`` with ``count > 1``, a ``kdComOrderNum`` and routing fields
    (:attr:`FakeKuaidi100.routing`); ``needSubscribe`` records the number's tracking
    subscription (``pollCallBackUrl``, ``salt``);
  - ``method=cancel``: ``orderId`` must be the ``kdComOrderNum`` answered at order time;
    ``30009`` 查无此单 for a number it never issued.

* ``POST /poll`` (form ``schema=json``, ``param``; unsigned): ``600`` for a wrong key,
  ``501`` POLL:重复订阅 for a number already tracked, else ``200`` 提交成功.

Failures: :attr:`fail` (``(code, message)``: every order refused with that code after the
replay check, as an account's state would be), :attr:`cancel_fail`, :attr:`http_status`
(e.g. 500, nothing done), :attr:`malformed` (HTTP 200, not JSON, after issuing),
:attr:`delay` (seconds slept after issuing and before answering: a slow carrier, or with a
short read time-out the answer lost after the number was issued).

Every request is recorded (:attr:`requests`), with the number of requests in flight at
once (:attr:`max_in_flight`). :meth:`push` posts a tracking update to a subscribed
callback as Kuaidi100 does: form ``param`` + ``sign = upper(md5(param + salt))``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import httpx

from carriers.gateways.builtin import FORMATS, check_digit

KEY = "testkey"
SECRET = "testsecret"
SALT = "salt123"
#: the fake's own table: Kuaidi100's company codes of the carriers it serves
COMPANIES = {
    "zhongtong": "ZTO",
    "yuantong": "YTO",
    "shentong": "STO",
    "yunda": "YUNDA",
    "ems": "EMS",
    "jd": "JD",
    "jtexpress": "JT",
    "debangkuaidi": "DEPPON",
    "shunfeng": "SF",
    "youzhengguonei": "POSTB",
    "fengwang": "FENGWANG",
}
MESSAGES = {
    -1: "服务器错误",
    30001: "参数错误",
    30002: "验证签名失败",
    30003: "账号信息不正确",
    30004: "账号单量不足",
    30009: "查无此单",
}
ROUTING = {
    "bulkpen": "杭州 西湖 310",
    "pkgCode": "571",
    "pkgName": "杭州中心",
    "destSortingCode": "310-W01-00",
    "road": "W01",
    "qrCode": "QR-KD100",
    "twoDimensionCode": "MMM=KD100-TWO-DIMENSION",
    "destRouteLabel": "571W-A",
}


def connect(fake: FakeKuaidi100, carrier: str = "ZTO", *, secret: str = SECRET, salt: str = SALT):
    """Configure ``carrier`` to answer through ``fake``, as an operator would."""
    from carriers.models import Carrier, GatewayConfig

    return GatewayConfig.objects.create(
        carrier=Carrier.objects.get(code=carrier),
        kind="kuaidi100",
        key=fake.key,
        secret=secret,
        url=f"{fake.url}/label/order",
        poll_url=f"{fake.url}/poll",
        callback_salt=salt,
    )


def md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


class FakeKuaidi100:
    def __init__(self, *, key: str = KEY, secret: str = SECRET):
        self.key, self.secret = key, secret
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.orders: dict[str, dict] = {}  # orderId -> the data answered
        self.by_number: dict[str, str] = {}  # number -> orderId
        self.cancelled: list[str] = []
        self.subscriptions: dict[str, dict] = {}  # number -> {company, callback, salt}
        self.routing = dict(ROUTING)
        self.fail: tuple[int, str] | None = None
        self.cancel_fail: tuple[int, str] | None = None
        self.http_status: int | None = None
        self.malformed = False
        self.delay = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self._numbers = itertools.count(900_000_001)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- life ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeKuaidi100:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def calls(self, method: str) -> list[dict]:
        """The recorded requests of one method (``order``, ``cancel``, ``subscribe``)."""
        with self.lock:
            return [r for r in self.requests if r["method"] == method]

    # --- the protocol ---------------------------------------------------------------------

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # connections kept alive, as the real API's are
            # headers and body leave in separate writes: without TCP_NODELAY the body waits
            # for the client's delayed ACK (40 ms a call that no real server adds)
            disable_nagle_algorithm = True

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = {
                    k: v[0] for k, v in parse_qs(self.rfile.read(length).decode("utf-8")).items()
                }
                with fake.lock:
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    status, body = fake._answer(self.path, form)
                finally:
                    with fake.lock:
                        fake.in_flight -= 1
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json;charset=UTF-8")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (its read time-out)

            def log_message(self, *args):
                pass

        return Handler

    def _answer(self, path: str, form: dict) -> tuple[int, dict | bytes]:
        if path.startswith("/poll"):
            return 200, self._subscribe(form)
        if not path.startswith("/label/order"):
            return 404, b"not found"
        try:
            param = json.loads(form.get("param", ""))
        except ValueError:
            param = None
        with self.lock:
            self.requests.append({"method": form.get("method", ""), "form": form, "param": param})
        if self.http_status:
            return self.http_status, b"<html>server error</html>"
        expected = md5_upper(form.get("param", "") + form.get("t", "") + self.key + self.secret)
        if form.get("key") != self.key or form.get("sign") != expected:
            return 200, self._refused(30002)
        if not isinstance(param, dict):
            return 200, self._refused(30001)
        if form.get("method") == "order":
            return 200, self._order(param)
        if form.get("method") == "cancel":
            return 200, self._cancel(param)
        return 200, self._refused(30001, "不支持的method")

    @staticmethod
    def _refused(code: int, message: str = "") -> dict:
        return {
            "code": code,
            "message": message or MESSAGES[code],
            "time": 0,
            "success": False,
            "data": None,
        }

    @staticmethod
    def _ok(data) -> dict:
        return {"code": 200, "message": "success", "time": 3, "success": True, "data": data}

    def _order(self, param: dict) -> dict | bytes:
        man_ok = all(
            isinstance(param.get(m), dict)
            and param[m].get("name")
            and (param[m].get("mobile") or param[m].get("tel"))
            and param[m].get("printAddr")
            for m in ("recMan", "sendMan")
        )
        carrier = COMPANIES.get(param.get("kuaidicom"))
        if not (param.get("printType") and param.get("partnerId") and carrier and man_ok):
            return self._refused(30001)
        if param.get("needSubscribe") and not param.get("pollCallBackUrl"):
            return self._refused(30001, "pollCallBackUrl必填")
        order_id = param.get("orderId") or uuid.uuid4().hex
        with self.lock:
            first = self.orders.get(order_id)
        if first is not None and param.get("reorder") is False:
            return self._ok(first)
        if self.fail:
            return self._refused(*self.fail)
        count = int(param.get("count") or 1)
        children = count - 1 if param.get("needChild") == "1" and count > 1 else 0
        numbers = self.numbers(carrier, 1 + children)
        data = {
            "kuaidinum": numbers[0],
            "kdComOrderNum": f"KD{uuid.uuid4().hex[:16].upper()}",
            "taskId": uuid.uuid4().hex,
            **self.routing,
        }
        if children:
            data["childNum"] = ",".join(numbers[1:])
        with self.lock:
            self.orders[order_id] = data
            for number in numbers:
                self.by_number[number] = order_id
            if param.get("needSubscribe"):
                self.subscriptions[numbers[0]] = {
                    "company": param["kuaidicom"],
                    "callback": param["pollCallBackUrl"],
                    "salt": param.get("salt", ""),
                }
        if self.delay:
            time.sleep(self.delay)
        if self.malformed:
            return b"<html>gateway busy</html>"
        return self._ok(data)

    def numbers(self, carrier: str, count: int) -> list[str]:
        prefix, length = FORMATS[carrier]
        out = []
        for _ in range(count):
            body = f"{next(self._numbers):0{length - 1}d}"
            out.append(f"{prefix}{body}{check_digit(body)}")
        return out

    def _cancel(self, param: dict) -> dict:
        number = param.get("kuaidinum")
        if not (param.get("kuaidicom") and number):
            return self._refused(30001)
        with self.lock:
            order_id = self.by_number.get(number)
            data = self.orders.get(order_id) if order_id else None
        if data is None:
            return self._refused(30009)
        if data.get("kdComOrderNum") and param.get("orderId") != data["kdComOrderNum"]:
            return self._refused(30001, "orderId(kdComOrderNum)必填")
        if self.cancel_fail:
            return self._refused(*self.cancel_fail)
        with self.lock:
            self.cancelled.append(number)
        return self._ok(None)

    def _subscribe(self, form: dict) -> dict:
        try:
            param = json.loads(form.get("param", ""))
        except ValueError:
            param = None
        with self.lock:
            self.requests.append({"method": "subscribe", "form": form, "param": param})
        if form.get("schema") != "json" or not isinstance(param, dict):
            return {"result": False, "returnCode": "700", "message": "参数错误"}
        if param.get("key") != self.key:
            return {"result": False, "returnCode": "600", "message": "您不是合法的订阅者"}
        parameters = param.get("parameters") or {}
        number = param.get("number")
        if not (param.get("company") in COMPANIES and number and parameters.get("callbackurl")):
            return {"result": False, "returnCode": "700", "message": "订阅参数错误"}
        with self.lock:
            if number in self.subscriptions:
                return {"result": False, "returnCode": "501", "message": "POLL:重复订阅"}
            self.subscriptions[number] = {
                "company": param["company"],
                "callback": parameters["callbackurl"],
                "salt": parameters.get("salt", ""),
            }
        return {"result": True, "returnCode": "200", "message": "提交成功"}

    # --- pushes -------------------------------------------------------------------------------

    def push_form(
        self,
        number: str,
        *,
        state: int,
        events: list[tuple],
        status: str = "polling",
        com: str | None = None,
        salt: str | None = None,
    ) -> dict[str, str]:
        """The form of a push: ``events`` newest first, ``(ftime, context[, status text])``."""
        subscribed = self.subscriptions.get(number, {})
        data = []
        for event in events:
            item = {"context": event[1], "time": event[0], "ftime": event[0]}
            if len(event) > 2:
                item.update(status=event[2], areaName="浙江,杭州市")
            data.append(item)
        param = json.dumps(
            {
                "status": status,
                "message": "",
                "autoCheck": "0",
                "comOld": "",
                "comNew": "",
                "lastResult": {
                    "message": "ok",
                    "state": str(state),
                    "status": "200",
                    "condition": "F00",
                    "ischeck": "1" if state == 3 else "0",
                    "com": com or subscribed.get("company", "zhongtong"),
                    "nu": number,
                    "data": data,
                },
            },
            ensure_ascii=False,
        )
        salt = subscribed.get("salt", SALT) if salt is None else salt
        return {"param": param, "sign": md5_upper(param + salt)}

    def push(self, number: str, *, url: str | None = None, form: dict | None = None, **kw):
        """POST a push to the number's callback (or ``url``): ``(HTTP status, JSON)``."""
        target = url or self.subscriptions[number]["callback"]
        response = httpx.post(target, data=form or self.push_form(number, **kw), timeout=10)
        return response.status_code, response.json()
