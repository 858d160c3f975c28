"""A request that finds PostgreSQL or Redis unreachable answers a clean 503.

The API's views get it from the DRF exception handler; this middleware does the same for
the pages (and any other view): the error object for API paths and JSON clients, a short
page for browsers, rendered without the request so that no context processor reaches
for the database that is gone."""

from __future__ import annotations

from django.contrib.messages.middleware import MessageMiddleware
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.cache import patch_vary_headers
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
    """404 for any path containing U+0000 (no route, waybill number or id of ours has one:
    ``/api/v1/waybills/AB%00CD/``), 400 for any request whose query string, header (a
    server in front may let one through) or (JSON or form) body contains one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path_info:
            raise Http404  # handler404: the error object on /api/, the 404 page elsewhere
        where = self._nul_in(request)
        if where is None:
            return self.get_response(request)
        from waybill_console.errors import ValidationError, page_error

        err = ValidationError.for_fields(**{where: _("Text may not contain NUL characters.")})
        if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
            return JsonResponse(err.as_dict(), status=err.status)
        return page_error(request, err)

    @staticmethod
    def _nul_in(request: HttpRequest) -> str | None:
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query or "\x00" in query:
            return "query"
        for key, value in request.META.items():  # a header we store: Idempotency-Key, …
            if key.startswith("HTTP_") and isinstance(value, str) and "\x00" in value:
                return key[5:].replace("_", "-").title()
        content_type = request.content_type or ""
        markers = _NUL_MARKERS.get(content_type)
        if markers and request.method in ("POST", "PUT", "PATCH"):
            body = request.body
            if any(m in body for m in markers) or (
                content_type.endswith("urlencoded") and b"%00" in body.upper()
            ):
                return "body"
        return None


class LocaleMiddleware(DjangoLocaleMiddleware):
    """Django's, for a site without ``i18n_patterns``: the language comes from the
    ``django_language`` cookie (the 中文/English switch) or ``Accept-Language``, never from
    the path. (Django's own matches every path, ``/api/…`` included, against the language
    codes twice a request, failing each time, to support language-prefixed URLs.)"""

    def process_request(self, request):
        translation.activate(translation.get_language_from_request(request, check_path=False))
        request.LANGUAGE_CODE = translation.get_language()

    def process_response(self, request, response):
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response


class PageMessageMiddleware(MessageMiddleware):
    """Django's messages (the notices a page shows after a redirect), for pages only: an
    API request has no page to show them on, and building the cookie and session message
    stores is a sizeable part of a small API request's time."""

    def process_request(self, request):
        if not request.path_info.startswith("/api/"):
            super().process_request(request)
