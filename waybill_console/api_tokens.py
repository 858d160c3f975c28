"""API tokens read once per process and checked against a Redis generation per request.

Every API request used to read its token (with the shop or branch) from PostgreSQL: a
round trip and a dozen model fields per request, for a row that changes a few times a
year. Each process now keeps the tokens it has read, with the *generation* that was in
Redis before it read them. A request reads the generation (one ``GET``) and uses its
cached token only when the generation is unchanged and the entry is younger than
``MAX_AGE`` seconds; otherwise it reads the token again.

Any change that can matter (a token created, revoked or edited, a shop, branch or carrier
saved or deleted) sets a new random generation after its transaction commits
(``tokens_changed``), so every process reads again on its next request: revoking a token
takes effect at once, in every worker.

While Redis cannot be reached nothing is served from the cache: every request reads
PostgreSQL, as before. If Redis comes back with its data but missed a change made while
it was down, ``MAX_AGE`` bounds how long a process may still use what it cached.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import transaction
from redis.exceptions import RedisError

from waybill_console.registry import register_once, registered

logger = logging.getLogger("waybill_console.api")

GENERATION_KEY = "wbc:api-tokens:generation"
#: seconds a process uses a token it read, at most, whatever the generation says
MAX_AGE = 30.0
#: entries a process keeps (a process serving more tokens than this starts over)
MAX_ENTRIES = 5000

_entries: dict[str, tuple[object, bytes, float]] = {}
_lock = threading.Lock()

#: the token lookup, registered by the app that owns the tokens (the kernel names no app)
_lookup: dict[str, Callable[..., Any]] = {}


def register_token_lookup(by_digest: Callable[..., Any]) -> None:
    """Called from the owning app's ``AppConfig.ready()``: ``by_digest(digest=)`` is the live
    token whose key hashes to ``digest`` (SHA-256 hex), with its shop, or its branch and
    carrier; None for a revoked token or a deactivated shop. The same function again does
    nothing; another one is ImproperlyConfigured."""
    register_once(_lookup, "by_digest", by_digest, what="API token lookup")


def _client():
    from waybill_console.api import redis_client

    return redis_client(cache)


#: the generation (set to ARGV[2] if there is none: a new or flushed Redis starts one that
#: nobody cached) and, with a second key, the rate-limit counter counted (window ARGV[1])
_CHECK_LUA = """
local g = redis.call('GET', KEYS[1])
if not g then
    redis.call('SET', KEYS[1], ARGV[2])
    g = ARGV[2]
end
if #KEYS < 2 then
    return {g}
end
redis.call('SET', KEYS[2], 0, 'EX', ARGV[1], 'NX')
return {g, redis.call('INCR', KEYS[2])}
"""


def _check(cached_pk: int | None, counter) -> tuple[bytes | None, int | None]:
    """One command: the current generation and, when the token is cached and the request
    has a rate-limit counter, that counter incremented. (None, None) when Redis is
    unreachable (no caching then; the rate limit fails open, see TokenRateThrottle)."""
    client = _client()
    script = getattr(client, "_wbc_token_check", None)
    if script is None:
        script = client._wbc_token_check = client.register_script(_CHECK_LUA)
    keys, window = [GENERATION_KEY], 0
    if cached_pk is not None and counter is not None:
        key, window = counter(cached_pk)
        keys.append(key)
    try:
        answer = script(keys=keys, args=[window, secrets.token_hex(8)])
    except RedisError as err:
        logger.warning("API tokens read from PostgreSQL, Redis unreachable: %s", err)
        return None, None
    return answer[0], (answer[1] if len(answer) > 1 else None)


def token_for_key(key: str, *, counter=None, now: float | None = None):
    """``(token, count)``: the live token for ``key`` (with its shop, or branch and
    carrier) or None, and the request's rate-limit count when it was counted here.

    ``counter(token_pk)`` names the request's rate-limit counter (Redis key, window in
    seconds); for a cached token it is incremented in the same round trip that checks the
    generation. The caller gets its own copy of the token and its shop, so nothing a
    request sets on them reaches another request."""
    api_token_get_by_digest = registered(_lookup, "by_digest", what="API token lookup")
    digest = hashlib.sha256(key.encode()).hexdigest()
    hit = _entries.get(digest)
    at = time.monotonic() if now is None else now
    if hit is not None and at - hit[2] >= MAX_AGE:
        hit = None
    # the generation is read before PostgreSQL: a change committed after it bumps it
    generation, count = _check(hit[0].pk if hit is not None else None, counter)
    if generation is not None and hit is not None and hit[1] == generation:
        return _copy(hit[0]), count
    token = api_token_get_by_digest(digest=digest)
    if token is not None and generation is not None:
        with _lock:
            if len(_entries) >= MAX_ENTRIES:
                _entries.clear()
            _entries[digest] = (token, generation, at)
        return _copy(token), (count if hit is not None and hit[0].pk == token.pk else None)
    return token, None


def _copy(token):
    token = copy.copy(token)  # its own __dict__ and _state (Model.__getstate__)
    related = token._state.fields_cache
    for name, value in list(related.items()):
        if value is not None:
            related[name] = copy.copy(value)
    return token


def token_used(token, at) -> None:
    """Keep the cached entry's ``last_used_at`` in step with the row (updated once a minute)."""
    for entry in _entries.values():
        if entry[0].pk == token.pk:
            entry[0].last_used_at = at


def tokens_changed(**_kwargs) -> None:
    """Every process reads tokens again, once the current transaction commits."""
    transaction.on_commit(_new_generation)


def _new_generation() -> None:
    with _lock:
        _entries.clear()
    try:
        _client().set(GENERATION_KEY, secrets.token_hex(8))
    except RedisError as err:
        logger.warning("API token change not announced, Redis unreachable: %s", err)
