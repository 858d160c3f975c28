"""A request that finds PostgreSQL or Redis unreachable answers a clean 503.

The API's views get it from the DRF exception handler; this middleware does the same for
the pages (and any other view): the error object for API paths and JSON clients, a short
page for browsers, rendered without the request so that no context processor reaches
for the database that is gone."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

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
