"""Idempotency keys for POSTs: a retry with the same ``Idempotency-Key`` gets the first answer.

The record is claimed with a unique ``(scope, key)`` row before the work starts, so
two concurrent requests with the same key cannot both run: the second one gets the
stored answer once the first has finished, or ``IDEMPOTENCY_CONFLICT`` meanwhile.
A refused or failed request leaves no record, so the caller may retry it.
Domain services keep their own natural keys as well (an order package has one number).

A stored answer belongs to the **credential** that got it (the token, or the user in
the shop it acts for), never to the whole shop: another token or user of the same shop
sending the same key makes its own request, with its own permission checks. And the
answer remembers the permissions its request needed (every ``Actor.require`` made while
it ran): a replay is checked against the caller's permissions of the moment first, so a
scope or permission taken away since is refused (403) before anything is returned.
"""

from __future__ import annotations

import functools
import hashlib
import json

from django.db import IntegrityError, transaction
from rest_framework.response import Response

from waybill_console.errors import IdempotencyConflict, IdempotencyKeyReused, ValidationError
from waybill_console.models import IdempotencyRecord
from waybill_console.tenancy import permissions_noted

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"


def _scope(request) -> str:
    """The credential a stored answer belongs to: the token (bound to one shop or branch),
    or the signed-in user in the shop it acts for."""
    token = getattr(request, "auth", None)
    if token is not None and getattr(token, "pk", None):
        return f"token:{token.pk}"
    shop = getattr(request, "shop", None)
    return f"user:{request.user.pk}:shop:{shop.pk if shop else '-'}"


def _actor(request):
    actor = getattr(request, "wbc_actor", None)
    if actor is None:
        from waybill_console.api import get_actor

        actor = get_actor(request)
    return actor


def _replay(request, record: IdempotencyRecord) -> Response:
    """The stored answer, once the caller still holds every permission it needed."""
    actor = _actor(request)
    for permission in sorted(record.permissions or ()):
        actor.require(permission)
    response = Response(record.response_body, status=record.status_code)
    response[REPLAY_HEADER] = "true"
    return response


def _request_hash(request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, default=str)
    except TypeError:
        body = repr(request.data)
    raw = f"{request.method} {request.path}\n{body}".encode()
    return hashlib.sha256(raw).hexdigest()


def idempotent(view_method):
    """Decorate a DRF view method (``post``) to honour the ``Idempotency-Key`` header."""

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if not key:
            return view_method(self, request, *args, **kwargs)
        if len(key) > 128:
            raise ValidationError.for_fields(**{HEADER: "At most 128 characters."})
        scope, digest = _scope(request), _request_hash(request)
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    scope=scope,
                    key=key,
                    method=request.method,
                    path=request.path[:255],
                    request_hash=digest,
                )
        except IntegrityError:
            existing = IdempotencyRecord.objects.get(scope=scope, key=key)
            if existing.request_hash != digest:
                raise IdempotencyKeyReused() from None
            if existing.state == IdempotencyRecord.State.DONE:
                return _replay(request, existing)
            raise IdempotencyConflict() from None
        try:
            with permissions_noted() as needed:
                response = view_method(self, request, *args, **kwargs)
        except BaseException:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
        if 200 <= response.status_code < 300:
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                state=IdempotencyRecord.State.DONE,
                status_code=response.status_code,
                response_body=json.loads(json.dumps(response.data, default=str)),
                permissions=sorted(needed),
            )
        else:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return response

    return wrapper
