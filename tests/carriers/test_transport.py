"""The outbound transport every carrier adapter posts through, against a local stand-in
carrier over real HTTP: time-outs, refused connections, 5xx, redirects, the circuit
breaker and the rate limit per gateway account (in the real Redis), and the call log."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.utils import translation

from carriers import errors
from carriers.gateways.transport import Answer, post_form
from carriers.models import GatewayCall
from waybill_console.crypto import mask_name, mask_phone

PHONE, NAME = "13812345678", "张三丰"
ACCOUNT = "k100-account-key"
DATA = {"method": "order", "key": ACCOUNT, "t": "1576123932000", "param": '{"orderId":"WB1"}'}


@dataclass
class Reply:
    status: int = 200
    body: str = '{"result":true,"returnCode":"200"}'
    delay: float = 0.0
    headers: dict = field(default_factory=dict)


class FakeCarrier:
    """A carrier API on 127.0.0.1: answers each POST with the next scripted reply (the last
    one repeats), after recording its path and body."""

    def __init__(self):
        self.replies = [Reply()]
        self.paths: list[str] = []
        self.bodies: list[bytes] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake._lock:
                    fake.paths.append(self.path)
                    fake.bodies.append(body)
                    reply = fake.replies.pop(0) if len(fake.replies) > 1 else fake.replies[0]
                time.sleep(reply.delay)
                payload = reply.body.encode()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json;charset=utf-8")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a time-out test)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/label/order") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def answer(self, *replies: Reply) -> None:
        with self._lock:
            self.replies = list(replies)


@pytest.fixture
def carrier():
    fake = FakeCarrier()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def fast(settings):
    """Short time-outs and a breaker/rate limit far away unless a test sets them."""
    settings.CARRIER_CONNECT_TIMEOUT = 0.5
    settings.CARRIER_READ_TIMEOUT = 0.3
    settings.CARRIER_RETRIES = 1
    settings.CARRIER_BREAKER_FAILURES = 50
    settings.CARRIER_BREAKER_SECONDS = 0.5
    settings.CARRIER_RATE_PER_SECOND = 0
    return settings


def call(url: str, *, account: str = ACCOUNT, order_id: str = "WB1", **kw) -> Answer:
    return post_form(
        kind="kuaidi100",
        account=account,
        operation="order",
        url=url,
        data=DATA,
        masked={"orderId": order_id},
        carrier_order_id=order_id,
        **kw,
    )


def calls() -> list[tuple]:
    return list(
        GatewayCall.objects.order_by("id").values_list("attempt", "http_status", "ok", "error")
    )


@pytest.mark.django_db
def test_a_time_out_after_sending_is_an_unknown_outcome_and_the_retry_sends_the_same_body(
    carrier, fast
):
    carrier.answer(Reply(delay=1.0))

    with pytest.raises(errors.AllocationTimeout) as timed_out:
        call(carrier.url())

    assert timed_out.value.outcome_unknown is True
    assert carrier.bodies == [urlencode(DATA).encode()] * 2
    assert calls() == [
        (1, None, False, "timeout: ReadTimeout"),
        (2, None, False, "timeout: ReadTimeout"),
    ]
    assert set(GatewayCall.objects.values_list("carrier_order_id", flat=True)) == {"WB1"}


@pytest.mark.django_db
def test_a_refused_connection_is_a_definite_failure(fast):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(errors.AllocationFailed) as failed:
        call(f"http://127.0.0.1:{port}/label/order")

    assert failed.value.outcome_unknown is False
    assert failed.value.code == "ALLOCATION_FAILED"
    assert calls() == [
        (1, None, False, "connect: ConnectError"),
        (2, None, False, "connect: ConnectError"),
    ]


@pytest.mark.django_db
def test_a_server_error_then_an_answer_succeeds_on_the_retry(carrier, fast):
    carrier.answer(Reply(500, "oops"), Reply(200, '{"result":true}'))

    answer = call(carrier.url())

    assert (answer.status, answer.text) == (200, '{"result":true}')
    assert carrier.bodies == [urlencode(DATA).encode()] * 2
    assert calls() == [(1, 500, False, "HTTP 500"), (2, 200, True, "")]


@pytest.mark.django_db
def test_429_on_every_try_is_a_definite_rate_limit(carrier, fast):
    carrier.answer(Reply(429, "slow down"))

    with pytest.raises(errors.GatewayRateLimited) as limited:
        call(carrier.url())

    assert limited.value.outcome_unknown is False
    assert len(carrier.bodies) == 2


@pytest.mark.django_db
def test_a_time_out_then_429_is_still_an_unknown_outcome(carrier, fast):
    carrier.answer(Reply(delay=1.0), Reply(429, "slow down"))

    with pytest.raises(errors.AllocationTimeout) as timed_out:
        call(carrier.url())

    assert timed_out.value.outcome_unknown is True


@pytest.mark.django_db
def test_a_redirect_is_not_followed_and_fails_at_once(carrier, fast):
    carrier.answer(Reply(302, "", headers={"Location": carrier.url("/elsewhere")}))

    with pytest.raises(errors.AllocationFailed) as failed:
        call(carrier.url())

    assert failed.value.outcome_unknown is False
    assert carrier.paths == ["/label/order"]  # not followed, not retried
    assert calls() == [(1, 302, False, "HTTP 302: redirect not followed")]


@pytest.mark.django_db
def test_the_breaker_opens_after_consecutive_failures_fails_fast_and_closes_after_the_window(
    carrier, fast
):
    fast.CARRIER_BREAKER_FAILURES = 3
    fast.CARRIER_RETRIES = 0
    carrier.answer(Reply(503, "down"))
    for _ in range(3):
        with pytest.raises(errors.AllocationTimeout):
            call(carrier.url())

    started = time.monotonic()
    with pytest.raises(errors.GatewayUnavailable) as unavailable:
        call(carrier.url())

    assert time.monotonic() - started < 0.2
    assert len(carrier.bodies) == 3  # the fourth call never reached the carrier
    assert unavailable.value.outcome_unknown is False
    assert (unavailable.value.code, unavailable.value.status) == ("GATEWAY_UNAVAILABLE", 503)
    assert calls()[-1] == (1, None, False, "circuit open")
    # another account of the same kind has its own breaker
    carrier.answer(Reply(200, "{}"))
    assert call(carrier.url(), account="another-account").status == 200
    assert len(carrier.bodies) == 4

    time.sleep(0.6)  # the window (0.5 s) passes: one trial call goes through and closes it
    assert call(carrier.url()).status == 200
    assert call(carrier.url()).status == 200
    assert len(carrier.bodies) == 6


@pytest.mark.django_db
def test_a_failed_trial_opens_the_breaker_for_another_window(carrier, fast):
    fast.CARRIER_BREAKER_FAILURES = 2
    fast.CARRIER_RETRIES = 0
    carrier.answer(Reply(503, "down"))
    for _ in range(2):
        with pytest.raises(errors.AllocationTimeout):
            call(carrier.url())
    time.sleep(0.6)

    with pytest.raises(errors.AllocationTimeout):
        call(carrier.url())  # the trial, failed
    with pytest.raises(errors.GatewayUnavailable):
        call(carrier.url())

    assert len(carrier.bodies) == 3


@pytest.mark.django_db
def test_an_answer_resets_the_count_of_consecutive_failures(carrier, fast):
    fast.CARRIER_BREAKER_FAILURES = 2
    fast.CARRIER_RETRIES = 0
    carrier.answer(Reply(503), Reply(200), Reply(503), Reply(200))

    with pytest.raises(errors.AllocationTimeout):
        call(carrier.url())
    call(carrier.url())
    with pytest.raises(errors.AllocationTimeout):
        call(carrier.url())

    assert call(carrier.url()).status == 200  # never two failures in a row: still closed


@pytest.mark.django_db
def test_a_breaker_opened_by_the_first_try_of_a_call_keeps_its_outcome_unknown(carrier, fast):
    fast.CARRIER_BREAKER_FAILURES = 1
    carrier.answer(Reply(503, "down"))

    with pytest.raises(errors.AllocationTimeout) as timed_out:
        call(carrier.url())  # try 1 reached the carrier; try 2 refused by the breaker

    assert timed_out.value.outcome_unknown is True
    assert len(carrier.bodies) == 1
    assert calls() == [(1, 503, False, "HTTP 503"), (2, None, False, "circuit open")]


def _in_threads(count: int, fn) -> list:
    """Run ``fn()`` in ``count`` threads released together; their results or errors."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i):
        barrier.wait()
        try:
            results[i] = fn()
        except errors.AppError as err:
            results[i] = err
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return results


@pytest.mark.django_db(transaction=True)
def test_half_open_lets_one_trial_through_while_the_others_fail_fast(carrier, fast):
    fast.CARRIER_BREAKER_FAILURES = 1
    fast.CARRIER_RETRIES = 0
    fast.CARRIER_READ_TIMEOUT = 2
    carrier.answer(Reply(503, "down"))
    with pytest.raises(errors.AllocationTimeout):
        call(carrier.url())
    time.sleep(0.6)
    carrier.answer(Reply(200, "{}", delay=0.5))  # the trial is slow

    results = _in_threads(4, lambda: call(carrier.url()))

    assert sorted(type(r).__name__ for r in results) == [
        "Answer",
        "GatewayUnavailable",
        "GatewayUnavailable",
        "GatewayUnavailable",
    ]
    assert len(carrier.bodies) == 2
    assert call(carrier.url()).status == 200  # the trial's answer closed it


@pytest.mark.django_db
def test_over_the_rate_a_call_waits_for_a_slot(carrier, fast):
    fast.CARRIER_RATE_PER_SECOND = 2
    started = time.monotonic()

    answers = [call(carrier.url()) for _ in range(3)]

    assert [a.status for a in answers] == [200, 200, 200]
    assert time.monotonic() - started >= 0.9  # the third waited for the first's slot
    assert len(carrier.bodies) == 3


@pytest.mark.django_db(transaction=True)
def test_a_call_that_finds_no_slot_within_a_second_is_refused_without_sending(carrier, fast):
    fast.CARRIER_RATE_PER_SECOND = 2

    results = _in_threads(6, lambda: call(carrier.url()))

    refused = [r for r in results if isinstance(r, errors.AppError)]
    assert sum(isinstance(r, Answer) for r in results) == 4  # 2 at once, 2 a second later
    assert [(r.code, r.outcome_unknown) for r in refused] == [("RATE_LIMITED", False)] * 2
    assert len(carrier.bodies) == 4
    assert GatewayCall.objects.filter(error="rate limit", http_status=None).count() == 2


@pytest.mark.django_db
def test_the_call_log_and_log_lines_keep_no_consumer_data_or_secret(carrier, fast, caplog):
    carrier.answer(Reply(200, json.dumps({"recMan": {"name": NAME, "mobile": PHONE}})))
    data = {**DATA, "param": json.dumps({"recMan": {"name": NAME, "mobile": PHONE}})}
    caplog.set_level(logging.INFO, logger="carriers.gateways")

    post_form(
        kind="kuaidi100",
        account=ACCOUNT,
        operation="order",
        url=carrier.url(),
        data=data,
        masked={"recMan": {"name": mask_name(NAME), "mobile": mask_phone(PHONE)}},
        carrier_order_id="WB77",
        mask_response=lambda text: text.replace(NAME, mask_name(NAME)).replace(
            PHONE, mask_phone(PHONE)
        ),
    )

    assert PHONE.encode() in carrier.bodies[0]  # the carrier got the real data
    row = GatewayCall.objects.get()
    kept = json.dumps(row.request, ensure_ascii=False) + row.response
    assert row.request == {"recMan": {"name": mask_name(NAME), "mobile": mask_phone(PHONE)}}
    assert PHONE not in kept and NAME not in kept
    assert (row.kind, row.operation, row.carrier_order_id, row.http_status) == (
        "kuaidi100",
        "order",
        "WB77",
        200,
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "carriers.gateways"]
    assert len(lines) == 1
    assert "kind=kuaidi100 operation=order carrier_order_id=WB77 attempt=1 status=200" in lines[0]
    for leaked in (PHONE, NAME, ACCOUNT):
        assert leaked not in caplog.text


def test_gateway_unavailable_speaks_chinese_and_english():
    with translation.override("zh-hans"):
        assert errors.GatewayUnavailable().render_message() == "快递公司服务暂不可用，请稍后再试。"
    with translation.override("en"):
        assert errors.GatewayUnavailable().render_message() == (
            "The carrier's service is unavailable; please try again later."
        )


@pytest.mark.django_db
def test_the_call_log_keeps_its_days_and_the_sweep_drops_older_rows(settings):
    from datetime import timedelta

    from django.utils import timezone

    from carriers.gateways import transport
    from carriers.models import GatewayCall
    from carriers.tasks import purge_gateway_calls

    settings.CARRIER_CALL_LOG_DAYS = 30
    now = timezone.now()
    for days in (31, 45, 29, 0):
        call = GatewayCall.objects.create(kind="sf", operation="order", url="http://x/")
        GatewayCall.objects.filter(pk=call.pk).update(at=now - timedelta(days=days))
    assert purge_gateway_calls() == 2  # the task beat runs, as the worker runs it
    kept = sorted((now - c.at).days for c in GatewayCall.objects.all())
    assert kept == [0, 29]
    assert transport.calls_purge(now=now) == 0
