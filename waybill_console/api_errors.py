"""The one DRF exception handler (kept apart from ``errors`` so that auth classes,
which DRF imports early, never import ``rest_framework.views``)."""

from __future__ import annotations

from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_default_handler

from waybill_console.errors import logger, to_app_error


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """The one DRF exception handler: every non-2xx answer is ``{code, message, detail}``."""
    err = to_app_error(exc)
    if err is None:
        return drf_default_handler(exc, context)
    if err.status in (401, 403):
        request = context.get("request")
        logger.warning(
            "access refused code=%s path=%s actor=%s",
            err.code,
            getattr(request, "path", "?"),
            getattr(getattr(request, "user", None), "pk", None),
        )
    response = Response(err.as_dict(), status=err.status)
    if isinstance(exc, drf_exceptions.Throttled) and exc.wait is not None:
        response["Retry-After"] = str(int(exc.wait) + 1)
    if err.status == 401:
        response["WWW-Authenticate"] = "Token"
    return response
