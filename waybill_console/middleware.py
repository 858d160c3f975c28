"""A request that finds PostgreSQL or Redis unreachable answers a clean 503.

The API's views get it from the DRF exception handler; this middleware does the same for
the pages (and any other view): the error object for API paths and JSON clients, a short
page for browsers, rendered without the request so that no context processor reaches
for the database that is gone."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from waybill_console.errors import ServiceUnavailable, to_app_error

RETRY_AFTER_SECONDS = 5


class ServiceUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        err = to_app_error(exception)
        if not isinstance(err, ServiceUnavailable):
            return None
        wants_json = request.path.startswith("/api/") or request.headers.get(
            "Accept", ""
        ).startswith("application/json")
        if wants_json:
            response = JsonResponse(err.as_dict(), status=err.status)
        else:
            html = render_to_string("503.html", {"error": err.as_dict()})
            response = HttpResponse(html, status=err.status)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


#: a NUL character can be stored in no PostgreSQL text column: a request carrying one is
#: refused at the door, with the field-naming error, instead of failing deep in a query
_NUL_MARKERS = {
    "application/json": (b"\\u0000", b"\x00"),
    "application/x-www-form-urlencoded": (b"%00", b"\x00"),
}


class NulCharacterMiddleware:
    """400 for any request whose query string or (JSON or form) body contains U+0000."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = self._nul_in(request)
        if where is None:
            return self.get_response(request)
        from waybill_console.errors import ValidationError

        err = ValidationError.for_fields(**{where: _("Text may not contain NUL characters.")})
        if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
            return JsonResponse(err.as_dict(), status=err.status)
        return HttpResponse(err.render_message() + " " + str(err.detail), status=err.status)

    @staticmethod
    def _nul_in(request: HttpRequest) -> str | None:
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query or "\x00" in query:
            return "query"
        content_type = request.content_type or ""
        markers = _NUL_MARKERS.get(content_type)
        if markers and request.method in ("POST", "PUT", "PATCH"):
            body = request.body
            if any(m in body for m in markers) or (
                content_type.endswith("urlencoded") and b"%00" in body.upper()
            ):
                return "body"
        return None
