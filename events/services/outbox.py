"""The transactional outbox: :func:`emit` writes an event in the caller's transaction.

A change and the event that tells of it commit together or not at all: an event is never
sent for a change that rolled back, and none is lost once committed (the dispatcher finds
every undispatched row, whoever was meant to kick it). After the commit, a kick asks a
worker to dispatch at once; beat's sweep (``WEBHOOK_SWEEP_SECONDS``) catches any kick lost
to a crash between commit and send.

Cost when nobody listens: an event type people are not told of is written only when an
enabled endpoint of the shop subscribes to it, which the emitter knows from a per-shop
subscription set kept in the cache (forgotten when an endpoint changes). Allocation with
no webhooks writes nothing more.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from events.models import Endpoint, Event
from events.types import event_type

logger = logging.getLogger("events.outbox")

#: JSON text, written and read with the cache's own client (``v2``: the release before
#: stored pickled values through Django's cache API under ``events:subs:``)
_SUBS_KEY = "events:subs:v2:{}"
_SUBS_TTL = 300
_KICK_KEY = "events:kick"


def new_msg_id() -> str:
    return "msg_" + uuid.uuid4().hex


def _store():
    """The cache's own redis-py client (one per process: Django's cache API builds a client
    on every call, which cost an allocation more than the lookup itself)."""
    from waybill_console.api import redis_client

    return redis_client(cache)


#: what a statement of the caller's read from the endpoints themselves
#: (:func:`subscriptions_seen`), trusted this many seconds: a hot path that reads it with
#: the rows it works on (the waybill engine, with its subscription) asks no cache
_SEEN_FOR = 0.2
_seen: dict[int, tuple[float, frozenset[str]]] = {}


def subscriptions_seen(shop_id: int, types: frozenset[str]) -> None:
    """The shop's subscriptions as a statement just read them (see
    ``outbox_sql.LISTENING_SQL``)."""
    _seen[shop_id] = (time.monotonic(), types)


def subscriptions(shop_id: int) -> frozenset[str]:
    """The event types some enabled endpoint of the shop receives (``"*"``: every type)."""
    seen = _seen.get(shop_id)
    if seen is not None and time.monotonic() - seen[0] < _SEEN_FOR:
        return seen[1]
    key = cache.make_key(_SUBS_KEY.format(shop_id))
    try:
        held = _store().get(key)
    except Exception:  # the cache down: ask the database
        held = None
    if held is not None:
        try:
            return frozenset(json.loads(held))
        except (ValueError, TypeError):  # not ours to read (another release's format)
            logger.warning("events: unreadable subscriptions of shop %s in the cache", shop_id)
    types: set[str] = set()
    for wanted in Endpoint.objects.filter(shop_id=shop_id, is_enabled=True).values_list(
        "event_types", flat=True
    ):
        types.update(wanted or ["*"])
    try:
        _store().set(key, json.dumps(sorted(types)), ex=_SUBS_TTL)
    except Exception:
        logger.warning("events: cache unavailable for subscriptions of shop %s", shop_id)
    return frozenset(types)


def subscriptions_forget(shop_id: int) -> None:
    """An endpoint of the shop changed: the emitters read its subscriptions again."""
    _seen.pop(shop_id, None)
    try:
        _store().delete(cache.make_key(_SUBS_KEY.format(shop_id)))
    except Exception:
        logger.warning("events: could not forget subscriptions of shop %s", shop_id)


def wanted(shop_id: int, type_name: str) -> bool:
    """Whether an event of this type for this shop has anyone to tell."""
    kind = event_type(type_name)
    if kind.notify:
        return True
    subs = subscriptions(shop_id)
    return "*" in subs or type_name in subs


def emit(shop_id: int, type_name: str, data: dict, *, link: str = "") -> bool:
    """Write one event in the caller's transaction; True when written."""
    return emit_many(type_name, [(shop_id, data, link)]) == 1


def emit_many(type_name: str, rows: Iterable[tuple[int, dict, str]]) -> int:
    """Write events of one type, ``(shop_id, data, link)`` each, in one INSERT, skipping
    shops nobody there listens to; the number written."""
    now = timezone.now()
    keep: dict[int, bool] = {}
    objs = []
    for shop_id, data, link in rows:
        if shop_id not in keep:
            keep[shop_id] = wanted(shop_id, type_name)
        if keep[shop_id]:
            objs.append(
                Event(
                    msg_id=new_msg_id(),
                    shop_id=shop_id,
                    type=type_name,
                    at=now,
                    data=data,
                    link=link or "",
                )
            )
    if not objs:
        return 0
    Event.objects.bulk_create(objs)
    if connection.in_atomic_block:
        transaction.on_commit(kick)
    else:
        kick()
    return len(objs)


def kick() -> None:
    """Ask a worker to dispatch now: one ask stands until the dispatcher takes it
    (:func:`kick_taken`, before it reads the outbox), so a burst sends one task and an
    event committed after the dispatcher started is asked for again. Beat's sweep runs
    anyway, so an ask lost to a broker outage only delays."""
    try:
        if not _store().set(cache.make_key(_KICK_KEY), 1, nx=True, ex=5):
            return
    except Exception:
        return
    from events.tasks import dispatch

    try:
        dispatch.apply_async(retry=False)
    except Exception:  # the broker is down: beat's sweep will dispatch
        logger.warning("events: dispatch not sent; the sweep will dispatch")


def kick_taken() -> None:
    """The dispatcher starts reading the outbox: the next commit asks again."""
    try:
        _store().delete(cache.make_key(_KICK_KEY))
    except Exception:
        logger.warning("events: cache unavailable; the sweep dispatches")
