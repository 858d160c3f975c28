"""The delivery engine: posts deliveries, signed, and retries them with backoff.

**One sender per endpoint at a time, many endpoints at once.** A worker's
:func:`deliveries_send` runs ``WEBHOOK_CONCURRENCY`` threads. Each takes an endpoint (a
lease on its row, ``FOR UPDATE SKIP LOCKED``) and posts its due deliveries in event order,
on a kept-alive connection, then lets it go. A slow or dead endpoint holds one thread;
the others keep serving the rest, so nobody's events wait behind someone else's.

**Failures.** A 2xx answer is delivered. Anything else (another status, a time-out, a
refused connection, a refused address) fails the attempt: the delivery is tried again
after the next step of ``WEBHOOK_RETRY_SCHEDULE`` (5 s, 1 min, 5 min, 30 min, 2 h, 5 h,
10 h, 10 h: about a day), and the endpoint itself rests for as long before anything else
is posted to it, so a dead endpoint is asked once per step, not once per event. A
delivery whose steps are used up has failed (重发 sends it again). An endpoint that has
failed without a single success for ``WEBHOOK_DISABLE_AFTER_HOURS`` (72) is disabled, and
its shop is told (bell, and the ``webhook.endpoint.disabled`` event).

**Crashes.** Nothing is marked delivered before the answer came; a worker killed
mid-post leaves the delivery pending and the endpoint leased until
``WEBHOOK_LEASE_SECONDS``; then another sender posts it again (at least once; receivers
de-duplicate on ``webhook-id``).
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from events import outbound, signing
from events.models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint, Event
from events.services.outbox import emit

logger = logging.getLogger("events.delivery")

#: deliveries posted per lease of an endpoint before another endpoint gets the thread
PER_LEASE = 100
_KICK_KEY = "events:deliver-kick"


def schedule() -> list[int]:
    return [int(s) for s in settings.WEBHOOK_RETRY_SCHEDULE]


def body_of(event: Event) -> bytes:
    """The JSON body: the type, the time, and the object as the API shows it."""
    return json.dumps(
        {"type": event.type, "timestamp": event.at.isoformat(), "data": event.data},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


@dataclass
class Outcome:
    ok: bool
    status_code: int | None
    latency_ms: int
    error: str


def post(endpoint: Endpoint, event: Event, *, secret: str | None = None) -> Outcome:
    """One signed POST of the event to the endpoint."""
    body = body_of(event)
    secret = secret or signing_secret(endpoint)
    headers = signing.headers(secret, event.msg_id, int(time.time()), body)
    started = time.monotonic()
    status, error = None, ""
    try:
        answer = outbound.client().post(endpoint.url, content=body, headers=headers)
        status = answer.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except outbound.AddressRefused as exc:
        error = f"address not allowed: {exc.address}"
    except httpx.TimeoutException:
        error = "timed out"
    except httpx.HTTPError as exc:
        error = (type(exc).__name__ + ": " + str(exc))[:200]
    latency = int((time.monotonic() - started) * 1000)
    return Outcome(ok=not error, status_code=status, latency_ms=latency, error=error)


def signing_secret(endpoint: Endpoint) -> str:
    from waybill_console.crypto import open_secret

    return open_secret(endpoint.secret)


# --- taking an endpoint ------------------------------------------------------------------

_CLAIM = """
UPDATE events_endpoint SET leased_until = now() + make_interval(secs => %s)
WHERE id = (
    SELECT e.id FROM events_endpoint e
    WHERE e.is_enabled
      AND (e.leased_until IS NULL OR e.leased_until < now())
      AND (e.retry_at IS NULL OR e.retry_at <= now())
      AND EXISTS (
          SELECT 1 FROM events_delivery d
          WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= now()
      )
    ORDER BY e.retry_at NULLS FIRST, e.id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING id
"""


def _claim_endpoint() -> int | None:
    with connection.cursor() as cur:
        cur.execute(_CLAIM, [settings.WEBHOOK_LEASE_SECONDS])
        row = cur.fetchone()
    return row[0] if row else None


def _release(endpoint_id: int) -> None:
    Endpoint.objects.filter(pk=endpoint_id).update(leased_until=None)


def _send_endpoint(endpoint_id: int) -> int:
    """Post the endpoint's due deliveries in event order until one fails; the number
    posted."""
    endpoint = Endpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return 0
    due = list(
        Delivery.objects.filter(
            endpoint_id=endpoint_id,
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=timezone.now(),
        )
        .select_related("event")
        .order_by("id")[:PER_LEASE]
    )
    secret = signing_secret(endpoint)
    sent = 0
    delivered: list[tuple[Delivery, Outcome, datetime]] = []
    try:
        for delivery in due:
            outcome = post(endpoint, delivery.event, secret=secret)
            sent += 1
            if outcome.ok:
                delivered.append((delivery, outcome, timezone.now()))
                if len(delivered) >= RECORD_EVERY:
                    _record_delivered(endpoint, delivered)
                    delivered = []
                continue
            _record_delivered(endpoint, delivered)
            delivered = []
            record(endpoint, delivery, outcome, manual=delivery.resend_requested)
            break
    finally:
        _record_delivered(endpoint, delivered)
        _release(endpoint_id)
    return sent


#: answered deliveries are written this many at a time, in one statement (a crash before
#: the write posts them again: at least once)
RECORD_EVERY = 25

_DELIVERED = """
WITH v AS (
    SELECT * FROM unnest(%s::bigint[], %s::int[], %s::int[], %s::timestamptz[], %s::bool[])
        AS v(id, code, ms, at, manual)
),
d AS (
    UPDATE events_delivery d
       SET status = 'succeeded', attempts = d.attempts + 1, last_attempt_at = v.at,
           last_status_code = v.code, last_latency_ms = v.ms, last_error = '',
           next_attempt_at = NULL, resend_requested = false
      FROM v WHERE d.id = v.id
    RETURNING d.id
)
INSERT INTO events_deliveryattempt (delivery_id, at, status_code, latency_ms, error, manual)
SELECT v.id, v.at, v.code, v.ms, '', v.manual FROM v JOIN d ON d.id = v.id
"""


def _record_delivered(endpoint: Endpoint, delivered: list) -> None:
    """Write answered deliveries and their log lines in one statement; an endpoint that
    was failing is well again."""
    if not delivered:
        return
    with connection.cursor() as cur:
        cur.execute(
            _DELIVERED,
            [
                [d.pk for d, _o, _at in delivered],
                [o.status_code for _d, o, _at in delivered],
                [o.latency_ms for _d, o, _at in delivered],
                [at for _d, _o, at in delivered],
                [d.resend_requested for d, _o, _at in delivered],
            ],
        )
    if endpoint.consecutive_failures or endpoint.failing_since or endpoint.retry_at:
        Endpoint.objects.filter(pk=endpoint.pk).update(
            failing_since=None, consecutive_failures=0, retry_at=None
        )
        endpoint.consecutive_failures, endpoint.failing_since, endpoint.retry_at = 0, None, None


def record(endpoint: Endpoint, delivery: Delivery, outcome: Outcome, *, manual=False) -> None:
    """Write an attempt's outcome: the delivery, its log line, the endpoint's health."""
    now = timezone.now()
    steps = schedule()
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            at=now,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            error=outcome.error,
            manual=manual,
        )
        attempts = delivery.attempts + 1
        fields = {
            "attempts": attempts,
            "last_attempt_at": now,
            "last_status_code": outcome.status_code,
            "last_latency_ms": outcome.latency_ms,
            "last_error": outcome.error,
            "resend_requested": False,
        }
        if outcome.ok:
            fields.update(status=DeliveryStatus.SUCCEEDED, next_attempt_at=None)
            Endpoint.objects.filter(pk=endpoint.pk).update(
                failing_since=None, consecutive_failures=0, retry_at=None
            )
        else:
            if attempts > len(steps):
                fields.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
            else:
                fields.update(next_attempt_at=now + timedelta(seconds=steps[attempts - 1]))
            _endpoint_failed(endpoint, now, steps)
        Delivery.objects.filter(pk=delivery.pk).update(**fields)
        for name, value in fields.items():
            setattr(delivery, name, value)


def _endpoint_failed(endpoint: Endpoint, now: datetime, steps: list[int]) -> None:
    row = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    row.consecutive_failures += 1
    row.failing_since = row.failing_since or now
    rest = steps[min(row.consecutive_failures, len(steps)) - 1]
    row.retry_at = now + timedelta(seconds=rest)
    update = ["consecutive_failures", "failing_since", "retry_at"]
    limit = timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS)
    if row.is_enabled and now - row.failing_since >= limit:
        row.is_enabled = False
        row.disabled_reason = f"failing since {row.failing_since:%Y-%m-%d %H:%M} UTC"
        update += ["is_enabled", "disabled_reason"]
        from events.services.outbox import subscriptions_forget

        subscriptions_forget(row.shop_id)
        emit(
            row.shop_id,
            "webhook.endpoint.disabled",
            {"id": row.pk, "url": row.url, "failing_since": row.failing_since.isoformat()},
            link=f"/console/webhooks/{row.pk}/",
        )
    row.save(update_fields=update)


# --- the sender ------------------------------------------------------------------------------


def _sender(stop_at: float) -> int:
    sent = 0
    try:
        while time.monotonic() < stop_at:
            endpoint_id = _claim_endpoint()
            if endpoint_id is None:
                break
            sent += _send_endpoint(endpoint_id)
    finally:
        connection.close()
    return sent


def deliveries_send(*, seconds: float | None = None) -> int:
    """Post what is due, ``WEBHOOK_CONCURRENCY`` endpoints at a time, until nothing is due
    or ``seconds`` passed (then the task asks for itself again); the number posted."""
    deliver_kick_taken()
    _deliver_later_taken()
    budget = seconds if seconds is not None else settings.WEBHOOK_SEND_SECONDS
    stop_at = time.monotonic() + budget
    threads = max(1, settings.WEBHOOK_CONCURRENCY)
    close_old_connections()
    with ThreadPoolExecutor(threads, thread_name_prefix="webhook") as pool:
        sent = sum(pool.map(lambda _i: _sender(stop_at), range(threads)))
    if time.monotonic() >= stop_at:
        deliver_kick()
    else:
        _deliver_at_next_due()
    return sent


_LATER_KEY = "events:deliver-later"
_NEXT = """
SELECT min(greatest(d.next_attempt_at, coalesce(e.retry_at, d.next_attempt_at)))
FROM events_delivery d JOIN events_endpoint e ON e.id = d.endpoint_id
WHERE d.status = 'pending' AND e.is_enabled
"""


def _deliver_at_next_due() -> None:
    """A retry due within a minute is sent on time (beat's sweep catches later ones)."""
    with connection.cursor() as cur:
        cur.execute(_NEXT)
        (due,) = cur.fetchone()
    if due is None:
        return
    wait = (due - timezone.now()).total_seconds()
    if wait > 60:
        return
    wait = max(0.0, wait)
    try:  # one scheduled run at a time
        if not cache.add(_LATER_KEY, 1, timeout=int(wait) + 1):
            return
    except Exception:
        return
    from events.tasks import deliver

    try:
        deliver.apply_async(countdown=wait + 0.05, retry=False)
    except Exception:
        logger.warning("events: retry not scheduled; the sweep will send")


def _deliver_later_taken() -> None:
    """A send starts: the run scheduled for the next retry (if this is it) is under way, so
    the next one may be scheduled when this send ends (a retry failing again within the
    key's life was else left to beat's sweep)."""
    try:
        cache.delete(_LATER_KEY)
    except Exception:
        logger.warning("events: cache unavailable; the sweep sends")


def deliveries_expire(*, now: datetime | None = None) -> int:
    """Deliveries still pending ``WEBHOOK_GIVE_UP_HOURS`` (a day) after they were made,
    their endpoint failing or disabled all along, have failed (重发 sends them again)."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.WEBHOOK_GIVE_UP_HOURS)
    return Delivery.objects.filter(
        status=DeliveryStatus.PENDING, created_at__lt=cutoff, resend_requested=False
    ).update(status=DeliveryStatus.FAILED, next_attempt_at=None, last_error="gave up")


def deliver_kick() -> None:
    """Ask a worker to send now (one ask stands until a sender takes it)."""
    try:  # a task lost with a killed worker: the next sweep asks again after 10 s
        if not cache.add(_KICK_KEY, 1, timeout=10):
            return
    except Exception:
        return
    from events.tasks import deliver

    try:
        deliver.apply_async(retry=False)
    except Exception:
        logger.warning("events: deliver not sent; the sweep will send")


def deliver_kick_taken() -> None:
    try:
        cache.delete(_KICK_KEY)
    except Exception:
        logger.warning("events: cache unavailable; the sweep sends")
