"""Outbound calls to carrier APIs: one function every adapter posts through.

Time-outs (connect and read, from the environment), bounded retries of the same request
(the same carrier-side order id: a replay returns the first number), every call logged
for ops with consumer data masked (:class:`carriers.models.GatewayCall`, and one line on
the ``carriers.gateways`` logger: kind, operation, carrier order id, HTTP status, seconds;
never consumer data, the account or a secret), and failures mapped to the engine's
errors:

* nothing sent (connection refused, connect time-out) → a definite ALLOCATION_FAILED;
* sent and no definite answer (read time-out, dropped connection, HTTP 5xx) →
  ALLOCATION_TIMEOUT, whose outcome is unknown (the reservation is kept and settled later
  by asking again with the same id);
* HTTP 429 on every try → RATE_LIMITED (definite: the carrier refused to take it);
* a redirect (3xx) is never followed (the request and its credentials would go to a host
  nobody configured): a definite ALLOCATION_FAILED, not retried.

Each try first passes a gate per gateway account (``kind`` + ``account``), kept in Redis
so that every web and worker process shares it:

* **circuit breaker**: ``CARRIER_BREAKER_FAILURES`` consecutive failed tries (connection
  errors, time-outs, 5xx) open it for ``CARRIER_BREAKER_SECONDS``; while open a call fails
  at once with the definite GATEWAY_UNAVAILABLE, no request sent. After the window one
  trial try goes through (half-open; the others are still refused): an answer closes the
  breaker, a failure opens it for another window. Any answer (2xx–4xx) resets the count.
* **rate limit**: at most ``CARRIER_RATE_PER_SECOND`` tries per rolling second (0: no
  limit); over it a call waits up to ~1 s (:data:`RATE_WAIT_SECONDS`) for a slot, then
  fails with the definite RATE_LIMITED, no request sent.

A refused retry after a try that may have reached the carrier still ends in
ALLOCATION_TIMEOUT: what counts is whether the carrier may have acted. Redis unreachable:
the gate lets calls through (a warning is logged), as the API rate limit does.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from redis.exceptions import RedisError

from carriers import errors

log = logging.getLogger("carriers.gateways")

RESPONSE_KEPT = 4000  # characters of a (masked) answer kept in the call log
#: how long a call waits for a rate-limit slot before it is refused
RATE_WAIT_SECONDS = 1.2
#: how long consecutive failures are remembered without a new one
FAILURE_MEMORY_SECONDS = 3600
KEY_PREFIX = "wbc:carrier-gate:"


@dataclass(frozen=True)
class Answer:
    status: int
    text: str
    seconds: float


def _timeout() -> httpx.Timeout:
    return httpx.Timeout(
        connect=settings.CARRIER_CONNECT_TIMEOUT,
        read=settings.CARRIER_READ_TIMEOUT,
        write=settings.CARRIER_READ_TIMEOUT,
        pool=settings.CARRIER_CONNECT_TIMEOUT,
    )


_clients: dict[tuple, httpx.Client] = {}
_clients_lock = threading.Lock()


def _http() -> httpx.Client:
    """The process's HTTP client for carrier calls: connections kept alive between calls
    (a TLS handshake per package would cost more than the carrier's answer), as many as
    ``CARRIER_CONCURRENCY`` calls in flight. One per process (a forked worker builds its
    own: a connection must never be shared across a fork) and per time-out setting."""
    key = (
        os.getpid(),
        settings.CARRIER_CONNECT_TIMEOUT,
        settings.CARRIER_READ_TIMEOUT,
        settings.CARRIER_CONCURRENCY,
    )
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                size = max(settings.CARRIER_CONCURRENCY, 1) * 2
                client = httpx.Client(
                    timeout=_timeout(),
                    follow_redirects=False,
                    limits=httpx.Limits(
                        max_connections=size, max_keepalive_connections=size, keepalive_expiry=30
                    ),
                )
                for stale in [k for k in _clients if k[0] != key[0]]:
                    _clients.pop(stale)  # a parent's: never used (nor closed) after a fork
                _clients[key] = client
    return client


def _record(**fields) -> None:
    from carriers.models import GatewayCall

    try:
        GatewayCall.objects.create(**fields)
    except DatabaseError:  # the log must never break the call it records
        log.exception("could not record a carrier API call")


# --- the gate: circuit breaker and rate limit, in Redis -----------------------------------

#: KEYS: open, failures, trial, rate; ARGV: threshold, trial_ms, limit, member.
#: Answers {state, wait_ms}: state 0 refused (open, or half-open with its trial under way),
#: 1 go, 2 go as the half-open trial; wait_ms > 0: no rate slot yet, ask again after it.
#: Times in milliseconds from the server's clock (Lua formats numbers with 14 digits).
_GATE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, 0} end
local failures = tonumber(redis.call('GET', KEYS[2]) or '0')
local half_open = failures >= tonumber(ARGV[1])
if half_open and redis.call('EXISTS', KEYS[3]) == 1 then return {0, 0} end
local limit = tonumber(ARGV[3])
if limit > 0 then
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - 1000)
    if redis.call('ZCARD', KEYS[4]) >= limit then
        local oldest = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
        return {1, math.max(1, tonumber(oldest[2]) + 1001 - now)}
    end
    redis.call('ZADD', KEYS[4], now, ARGV[4])
    redis.call('PEXPIRE', KEYS[4], 2000)
end
if half_open then
    redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
    return {2, 0}
end
return {1, 0}
"""

#: KEYS: open, failures, trial; ARGV: threshold, window_ms, memory_ms.
#: Counts a failed try; at the threshold (or a failed trial) opens the breaker. Answers the
#: count when it opened it, else 0.
_FAILED_LUA = """
local failures = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if failures >= tonumber(ARGV[1]) then
    redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
    redis.call('DEL', KEYS[3])
    return failures
end
return 0
"""


def _client():
    from waybill_console.api import redis_client

    return redis_client(cache)


def _script(name: str, source: str):
    """The Lua script, registered once per Redis client (EVALSHA, loaded on first use)."""
    client = _client()
    attr = f"_wbc_carrier_{name}"
    script = getattr(client, attr, None)
    if script is None:
        script = client.register_script(source)
        setattr(client, attr, script)
    return script


def _keys(kind: str, account: str) -> list[str]:
    """Redis keys of one gateway account (the account itself is not written to Redis)."""
    ident = f"{kind}:{hashlib.sha256(account.encode()).hexdigest()[:16]}"
    return [f"{KEY_PREFIX}{ident}:{part}" for part in ("open", "failures", "trial", "rate")]


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class _Refused(Exception):
    def __init__(self, reason: str, error: type[errors.AppError]):
        super().__init__(reason)
        self.reason = reason
        self.error = error


def _gate(kind: str, account: str) -> None:
    """Wait for the breaker and the rate limit to let one try through, or raise _Refused."""
    keys = _keys(kind, account)
    trial_ms = _ms(settings.CARRIER_CONNECT_TIMEOUT + settings.CARRIER_READ_TIMEOUT + 5)
    deadline = time.monotonic() + RATE_WAIT_SECONDS
    while True:
        try:
            state, wait_ms = _script("gate", _GATE_LUA)(
                keys=keys,
                args=[
                    settings.CARRIER_BREAKER_FAILURES,
                    trial_ms,
                    settings.CARRIER_RATE_PER_SECOND,
                    secrets.token_hex(8),
                ],
            )
        except RedisError as err:
            log.warning("carrier gate skipped, Redis unreachable: %s", type(err).__name__)
            return
        if state == 0:
            raise _Refused("circuit open", errors.GatewayUnavailable)
        if not wait_ms:
            return
        if time.monotonic() + wait_ms / 1000 > deadline:
            raise _Refused("rate limit", errors.GatewayRateLimited)
        time.sleep(wait_ms / 1000)


def _failed(kind: str, account: str) -> None:
    try:
        opened = _script("failed", _FAILED_LUA)(
            keys=_keys(kind, account)[:3],
            args=[
                settings.CARRIER_BREAKER_FAILURES,
                _ms(settings.CARRIER_BREAKER_SECONDS),
                FAILURE_MEMORY_SECONDS * 1000,
            ],
        )
    except RedisError as err:
        log.warning("carrier breaker not updated, Redis unreachable: %s", type(err).__name__)
        return
    if opened:
        log.warning(
            "carrier breaker open kind=%s failures=%s seconds=%s",
            kind,
            opened,
            settings.CARRIER_BREAKER_SECONDS,
        )


def _answered(kind: str, account: str) -> None:
    """The carrier answered: the consecutive failures start again from zero."""
    try:
        _client().delete(*_keys(kind, account)[:3])
    except RedisError as err:
        log.warning("carrier breaker not updated, Redis unreachable: %s", type(err).__name__)


# --- the call ---------------------------------------------------------------------------


def post_form(
    *,
    kind: str,
    account: str,
    operation: str,
    url: str,
    data: dict[str, str],
    masked: dict,
    carrier_order_id: str = "",
    mask_response: Callable[[str], str] = lambda text: text,
    retries: int | None = None,
) -> Answer:
    """POST ``data`` form-encoded to ``url``; the answer when the carrier answered with
    HTTP 2xx or 4xx other than 429 (the adapter reads its codes). ``masked``: what the call
    log keeps of the request; ``mask_response`` masks the answer before it is kept.
    Retries connection failures, time-outs and 5xx/429 answers ``retries`` times (default
    ``CARRIER_RETRIES``) with a short backoff, sending the very same request. Errors: see
    the module docstring."""
    tries = 1 + (settings.CARRIER_RETRIES if retries is None else retries)
    logged = {
        "kind": kind,
        "account": account[:64],
        "operation": operation,
        "carrier_order_id": carrier_order_id[:40],
        "url": url[:300],
        "request": masked,
    }
    unknown = False  # a try may have reached the carrier without a definite answer
    status = None
    last_error = ""
    for attempt in range(1, tries + 1):
        try:
            _gate(kind, account)
        except _Refused as refused:
            _record(**logged, attempt=attempt, ok=False, error=refused.reason, seconds=0)
            _log_line(logging.WARNING, logged, attempt, None, 0.0, refused.reason)
            if unknown:
                raise errors.AllocationTimeout(detail={"error": last_error}) from None
            raise refused.error(detail={"error": refused.reason}) from None
        started = time.monotonic()
        status = None
        text = ""
        retry = True
        try:
            response = _http().post(url, data=data)
            status, text = response.status_code, response.text
            if 300 <= status < 400:
                error, retry = f"HTTP {status}: redirect not followed", False
            elif status >= 500:
                error, unknown = f"HTTP {status}", True
            elif status == 429:
                error = "HTTP 429"
            else:
                error = ""
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            error = f"connect: {type(exc).__name__}"  # nothing reached the carrier
        except httpx.TimeoutException as exc:
            error, unknown = f"timeout: {type(exc).__name__}", True
        except httpx.HTTPError as exc:
            error, unknown = f"http: {type(exc).__name__}", True
        seconds = time.monotonic() - started
        if status is None or status >= 500:
            _failed(kind, account)
        else:
            _answered(kind, account)
        _record(
            **logged,
            attempt=attempt,
            http_status=status,
            ok=not error,
            error=error[:200],
            seconds=seconds,
            response=mask_response(text)[:RESPONSE_KEPT],
        )
        level = logging.WARNING if error else logging.INFO
        _log_line(level, logged, attempt, status, seconds, error)
        if not error:
            return Answer(status, text, seconds)
        last_error = error
        if not retry:
            break
        if attempt < tries:
            time.sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
    if unknown:
        raise errors.AllocationTimeout(detail={"error": last_error})
    if status == 429:
        raise errors.GatewayRateLimited(detail={"error": last_error})
    raise errors.AllocationFailed(detail={"error": last_error})


def _log_line(level: int, logged: dict, attempt: int, status, seconds: float, error: str) -> None:
    log.log(
        level,
        "carrier call kind=%s operation=%s carrier_order_id=%s attempt=%s status=%s seconds=%.3f%s",
        logged["kind"],
        logged["operation"],
        logged["carrier_order_id"] or "-",
        attempt,
        status if status is not None else "-",
        seconds,
        f" error={error}" if error else "",
    )


PURGE_BATCH = 5000


def calls_purge(*, now=None) -> int:
    """Drop call-log rows older than ``CARRIER_CALL_LOG_DAYS`` (keyset batches, each its own
    statement; one sweep at a time). Returns how many were dropped."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from waybill_console.locks import advisory_lock

    cutoff = (now or timezone.now()) - timedelta(days=settings.CARRIER_CALL_LOG_DAYS)
    dropped = 0
    with advisory_lock("carriers.calls_purge") as acquired:
        if not acquired:
            return 0
        while True:
            with connection.cursor() as cur:
                cur.execute(
                    "DELETE FROM carriers_gatewaycall WHERE id IN (SELECT id FROM "
                    "carriers_gatewaycall WHERE at < %s ORDER BY at LIMIT %s)",
                    [cutoff, PURGE_BATCH],
                )
                dropped += cur.rowcount
                if cur.rowcount < PURGE_BATCH:
                    return dropped
