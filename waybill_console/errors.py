"""One error type for every refusal, with a stable code, an HTTP status and a message.

Apps subclass :class:`AppError` in their own ``errors.py``. The DRF handler
(``waybill_console.api_errors``) and the page helper (:func:`page_error`) turn
it into the same ``{"code", "message", "detail"}`` object.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions as drf_exceptions

logger = logging.getLogger("waybill_console.errors")


class AppError(Exception):
    """A business refusal. ``message`` is a lazy translation with ``%(name)s`` params."""

    code: str = "APP_ERROR"
    status: int = 400
    message: Any = _("The request could not be completed.")
    #: an outside system may have done what was asked (a time-out after the request left):
    #: whoever holds a reservation for it keeps it until it is settled by asking again
    outcome_unknown: bool = False

    def __init__(self, message: Any = None, *, detail: dict | None = None, **params: Any):
        if message is not None:
            self.message = message
        self.params = params
        self.detail = detail or {}
        super().__init__(self.code)

    def render_message(self) -> str:
        text = str(self.message)
        if self.params:
            try:
                return text % self.params
            except (KeyError, TypeError, ValueError):
                return text
        return text

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.render_message(), "detail": self.detail}

    def __str__(self) -> str:
        return f"{self.code}: {self.render_message()}"


class ValidationError(AppError):
    code = "VALIDATION_ERROR"
    status = 400
    message = _("Some fields are not valid.")

    @classmethod
    def for_fields(cls, **fields: Any) -> ValidationError:
        """``ValidationError.for_fields(phone="...")``: detail names each field."""
        detail = {
            k: [str(v)] if not isinstance(v, list | tuple) else [str(x) for x in v]
            for k, v in fields.items()
        }
        return cls(detail=detail)


class NotFound(AppError):
    code = "NOT_FOUND"
    status = 404
    message = _("Not found.")


class PermissionDenied(AppError):
    code = "PERMISSION_DENIED"
    status = 403
    message = _("You do not have permission to do this.")


class NotAuthenticated(AppError):
    code = "NOT_AUTHENTICATED"
    status = 401
    message = _("Authentication credentials were not provided or are invalid.")


class ServerError(AppError):
    code = "SERVER_ERROR"
    status = 500
    message = _("Something went wrong on our side; please try again later.")


class ServiceUnavailable(AppError):
    """PostgreSQL or Redis unreachable (restarting, overloaded): worth retrying shortly."""

    code = "SERVICE_UNAVAILABLE"
    status = 503
    message = _("The service is temporarily unavailable; please try again in a moment.")


class RateLimited(AppError):
    code = "RATE_LIMITED"
    status = 429
    message = _("Too many requests; please try again later.")


class UnsupportedMediaType(AppError):
    """A request body the operation does not read: the API reads JSON, and multipart only
    where a file is uploaded (``parser_classes`` of that view)."""

    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415
    message = _(
        "This request body format is not accepted. Send JSON (application/json); "
        "file uploads use multipart/form-data."
    )


class BatchTooLarge(AppError):
    code = "BATCH_TOO_LARGE"
    status = 400
    message = _("At most %(limit)s items can be handled in one batch.")


class RequestTooLarge(AppError):
    """A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, or more fields or files than
    ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` / ``…_FILES`` (Django refuses it before any view)."""

    code = "REQUEST_TOO_LARGE"
    status = 413
    message = _("The request is too large: send at most %(limit)s at a time.")


class IdempotencyConflict(AppError):
    code = "IDEMPOTENCY_CONFLICT"
    status = 409
    message = _("A request with this Idempotency-Key is still being processed.")


class IdempotencyKeyReused(AppError):
    code = "IDEMPOTENCY_KEY_REUSED"
    status = 422
    message = _("This Idempotency-Key was already used for a different request.")


def _from_drf(exc: drf_exceptions.APIException) -> AppError:
    if isinstance(exc, drf_exceptions.ValidationError):
        data = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return ValidationError(detail=_plain(data))
    if isinstance(exc, drf_exceptions.Throttled):
        err = RateLimited(detail={"retry_after": exc.wait})
        return err
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        return NotAuthenticated()
    if isinstance(exc, drf_exceptions.PermissionDenied):
        return PermissionDenied()
    if isinstance(exc, drf_exceptions.NotFound):
        return NotFound()
    if isinstance(exc, drf_exceptions.ParseError):
        from waybill_console.parsers import BodyRefused

        malformed = gettext("Malformed request body.")
        said = str(exc.detail) if isinstance(exc, BodyRefused) else malformed
        return ValidationError(malformed, detail={"body": [said]})
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return UnsupportedMediaType()
    err = AppError(str(exc.detail))
    err.code = str(getattr(exc, "default_code", "error")).upper()
    err.status = exc.status_code
    return err


def _plain(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    return str(data)


def _unavailable() -> tuple[type[Exception], ...]:
    """What a request raises when a server it needs is unreachable: PostgreSQL (refused,
    connection lost, restarting: ``OperationalError``, or a connection already closed:
    ``InterfaceError``), Redis as cache (redis-py) or as broker (kombu)."""
    from django.db import InterfaceError, OperationalError
    from kombu.exceptions import OperationalError as BrokerUnavailable
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeout

    return (OperationalError, InterfaceError, RedisConnectionError, RedisTimeout, BrokerUnavailable)


def _too_large(exc: Exception) -> RequestTooLarge | None:
    """Django's refusals of a request's size (raised wherever the body is first read: a
    middleware, the CSRF check, a parser), as the error object."""
    from django.conf import settings
    from django.core import exceptions as django_exceptions

    if isinstance(exc, django_exceptions.RequestDataTooBig):
        size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
        limit = gettext("%(mb)s MB") % {"mb": f"{size / 1024 / 1024:g}"}
        return RequestTooLarge(limit=limit, detail={"max_bytes": size})
    if isinstance(exc, django_exceptions.TooManyFieldsSent):
        count = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS or 0
        limit = ngettext("%(n)s field", "%(n)s fields", count) % {"n": count}
        return RequestTooLarge(limit=limit, detail={"max_fields": count})
    if isinstance(exc, django_exceptions.TooManyFilesSent):
        count = settings.DATA_UPLOAD_MAX_NUMBER_FILES or 0
        limit = ngettext("%(n)s file", "%(n)s files", count) % {"n": count}
        return RequestTooLarge(limit=limit, detail={"max_files": count})
    return None


def to_app_error(exc: Exception) -> AppError | None:
    if isinstance(exc, AppError):
        return exc
    too_large = _too_large(exc)
    if too_large is not None:
        return too_large
    if isinstance(exc, _unavailable()):
        logger.error("service unavailable: %s: %s", type(exc).__name__, exc)
        return ServiceUnavailable()
    if isinstance(exc, Http404):
        return NotFound()
    if isinstance(exc, drf_exceptions.APIException):
        return _from_drf(exc)
    from django.core.exceptions import PermissionDenied as DjangoPermissionDenied

    if isinstance(exc, DjangoPermissionDenied):
        return PermissionDenied()
    return None


def page_error(
    request: HttpRequest, err: AppError, *, template: str | None = None, context: dict | None = None
) -> HttpResponse:
    """Show an AppError on a page.

    For htmx requests the error fragment is returned with the error's status (409/422…)
    so that the page swaps it in place; full-page requests get the error page, or
    ``template`` re-rendered with ``error`` in its context (a form shown again).
    """
    ctx = dict(context or {})
    ctx["error"] = err.as_dict()
    if getattr(request, "htmx", False) and template is None:
        return render(request, "components/error.html", ctx, status=err.status)
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse(err.as_dict(), status=err.status)
    return render(request, template or "error.html", ctx, status=err.status)
