"""Outbound calls to carrier APIs: one function every adapter posts through.

Time-outs (connect and read, from the environment), bounded retries of the same request
(the same carrier-side order id: a replay returns the first number), every call logged
for ops with consumer data masked (:class:`carriers.models.GatewayCall`), and failures
mapped to the engine's errors: nothing sent → a definite ALLOCATION_FAILED; sent and no
answer → ALLOCATION_TIMEOUT, whose outcome is unknown (the reservation is kept and settled
later by asking again).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.db import DatabaseError

from carriers import errors

log = logging.getLogger(__name__)

RESPONSE_KEPT = 4000  # characters of a (masked) answer kept in the call log


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


def _record(**fields) -> None:
    from carriers.models import GatewayCall

    try:
        GatewayCall.objects.create(**fields)
    except DatabaseError:  # the log must never break the call it records
        log.exception("could not record a carrier API call")


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
    HTTP 2xx–4xx (the adapter reads its codes). ``masked``: what the call log keeps of the
    request. Retries connection failures, time-outs and 5xx/429 answers ``retries`` times
    with a short backoff, sending the very same request."""
    tries = 1 + (settings.CARRIER_RETRIES if retries is None else retries)
    sent = False
    last_error = ""
    for attempt in range(1, tries + 1):
        started = time.monotonic()
        status = None
        text = ""
        try:
            with httpx.Client(timeout=_timeout(), follow_redirects=False) as client:
                response = client.post(url, data=data)
            status, text = response.status_code, response.text
            sent = True
            error = "" if status < 500 and status != 429 else f"HTTP {status}"
        except httpx.ConnectError as exc:
            error = f"connect: {type(exc).__name__}"
        except httpx.TimeoutException as exc:
            sent = sent or not isinstance(exc, httpx.ConnectTimeout)
            error = f"timeout: {type(exc).__name__}"
        except httpx.HTTPError as exc:
            sent = True
            error = f"http: {type(exc).__name__}"
        seconds = time.monotonic() - started
        _record(
            kind=kind,
            account=account[:64],
            operation=operation,
            carrier_order_id=carrier_order_id[:40],
            url=url[:300],
            attempt=attempt,
            http_status=status,
            ok=not error,
            error=error[:200],
            seconds=seconds,
            request=masked,
            response=mask_response(text)[:RESPONSE_KEPT],
        )
        if not error:
            return Answer(status, text, seconds)
        last_error = error
        if attempt < tries:
            time.sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
    if status == 429:
        raise errors.GatewayRateLimited(detail={"error": last_error})
    if sent:
        raise errors.AllocationTimeout(detail={"error": last_error})
    raise errors.AllocationFailed(detail={"error": last_error})
