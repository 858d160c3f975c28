"""API shell: token authentication, the actor, Redis-backed throttling, pagination."""

from __future__ import annotations

import logging

from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeout
from rest_framework import authentication, pagination, permissions, throttling
from rest_framework.exceptions import AuthenticationFailed

from waybill_console.errors import NotAuthenticated, PermissionDenied
from waybill_console.tenancy import Actor

logger = logging.getLogger("waybill_console.api")


class TokenUser:
    """The ``request.user`` of a token request (tokens are not people)."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, token):
        self.token = token

    def get_username(self) -> str:
        return f"token:{self.token.prefix}"


class TokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        self._request = request  # an authenticator is made per request
        return super().authenticate(request)

    def authenticate_credentials(self, key):
        from waybill_console import api_tokens

        request = getattr(self, "_request", None)
        counter = TokenRateThrottle.counter_for(request) if request is not None else None
        token, count = api_tokens.token_for_key(key, counter=counter)
        if token is None:
            raise AuthenticationFailed("invalid token")
        if count is not None:  # counted in the token check's round trip: the throttle uses it
            request.wbc_rate_counted = (counter(token.pk)[0], count)
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            type(token).objects.filter(pk=token.pk).update(last_used_at=now)
            api_tokens.token_used(token, now)
        return TokenUser(token), token


class SessionAuthentication(authentication.SessionAuthentication):
    """The browser's session also reaches the API (CSRF enforced)."""


def get_actor(request) -> Actor:
    token = getattr(request, "auth", None)
    if token is not None and hasattr(token, "scopes"):
        return Actor(
            shop=token.shop, token=token, branch=token.branch, permissions=frozenset(token.scopes)
        )
    actor = getattr(request, "actor", None)
    if actor is None or not request.user or not request.user.is_authenticated:
        raise NotAuthenticated()
    return actor


class IsShopActor(permissions.BasePermission):
    """A shop's token or a logged-in member of a shop."""

    def has_permission(self, request, view):
        if request.user is None or not request.user.is_authenticated:
            raise NotAuthenticated()
        actor = get_actor(request)
        if actor.shop is None:
            raise PermissionDenied()
        request.wbc_actor = actor
        return True


class IsBranchActor(permissions.BasePermission):
    """A carrier branch's token (carrier systems: approvals, recharges, tracking)."""

    def has_permission(self, request, view):
        if request.user is None or not request.user.is_authenticated:
            raise NotAuthenticated()
        actor = get_actor(request)
        if actor.branch is None and not actor.is_staff:
            raise PermissionDenied()
        request.wbc_actor = actor
        return True


def redis_client(cache):
    """One redis-py client per cache connection pool: Django's ``get_client`` builds a new
    one on every call, copying its ~170 response callbacks (a third of the throttle's
    time). The client is thread-safe; the pool hands each command its own connection."""
    inner = cache._cache
    client = inner.__dict__.get("_wbc_write_client")
    if client is None:
        client = inner._wbc_write_client = inner.get_client(write=True)
    return client


def _ident(token_pk) -> str:
    """A token's rate-limit counter (one per token, whichever process counts it)."""
    return f"t{token_pk}"


class TokenRateThrottle(throttling.SimpleRateThrottle):
    """Per token (or per user) request rate, counted in the Redis cache.

    A counter per window (INCR on a key that expires ``duration`` seconds after the
    window's first request): O(1) per request whatever the rate, where DRF's default
    keeps and re-pickles every timestamp of the window."""

    scope = "token"

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        key = self.cache.make_key(self.key)  # ours: no need to validate it character by character
        counted = getattr(request, "wbc_rate_counted", None)
        if counted is not None and counted[0] == key:
            count = counted[1]  # counted by TokenAuthentication with the token check
        else:
            pipe = redis_client(self.cache).pipeline(transaction=False)
            pipe.set(key, 0, ex=int(self.duration), nx=True)  # the window starts with its first hit
            pipe.incr(key)
            try:
                _, count = pipe.execute()  # one round trip
            except (RedisConnectionError, RedisTimeout) as err:
                # fails open: with Redis down the API still serves what needs only PostgreSQL
                # (allocation, orders); the limit is abuse protection, quotas live in PostgreSQL
                logger.warning("rate limit not counted, Redis unreachable: %s", err)
                return True
        if count > self.num_requests:
            return self.throttle_failure()
        return True

    @classmethod
    def counter_for(cls, request):
        """``token_pk -> (Redis key, window)`` of the counter this throttle will count for a
        token request to the request's view, or None when the view does not use it."""
        view = (getattr(request, "parser_context", None) or {}).get("view")
        if view is None or cls not in getattr(view, "throttle_classes", ()):
            return None
        throttle = cls()
        if throttle.rate is None:
            return None

        def counter(token_pk):
            ident = throttle.cache_format % {"scope": throttle.scope, "ident": _ident(token_pk)}
            return throttle.cache.make_key(ident), int(throttle.duration)

        return counter

    def wait(self):
        """Seconds until the window ends (the counter's time to live in Redis)."""
        key = self.cache.make_and_validate_key(self.key)
        ttl = self.cache._cache.get_client(key).ttl(key)
        return float(ttl) if ttl and ttl > 0 else float(self.duration)

    def get_cache_key(self, request, view):
        token = getattr(request, "auth", None)
        if token is not None and getattr(token, "pk", None):
            ident = _ident(token.pk)
        elif request.user and request.user.is_authenticated:
            ident = f"u{request.user.pk}"
        else:
            ident = f"ip{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class Pagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def paginated(view, request, queryset, serializer_class):
    """One page of ``queryset`` in the standard envelope (count, next, previous, results)."""
    paginator = Pagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
