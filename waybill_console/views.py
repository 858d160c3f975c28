from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.utils.translation import gettext
from django.views import defaults

from waybill_console.errors import (
    NotFound,
    RequestTooLarge,
    ServerError,
    ValidationError,
    page_error,
    to_app_error,
)
from waybill_console.tasks import HEARTBEAT_KEY

API_PREFIX = "/api/"


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask every site for ``/favicon.ico`` (pages link ``img/favicon.svg`` too):
    a permanent redirect to the static icon, so the answer is cached and never a 404."""
    return redirect(static("img/favicon.ico"), permanent=True)


def index(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("console:home")
    return redirect("login")


def healthz(request: HttpRequest) -> JsonResponse:
    """Database and Redis reachable (503 naming what is not); when a Celery worker last ran
    the heartbeat."""
    from django.db import Error as DatabaseError
    from redis.exceptions import RedisError

    body = {"database": "ok", "redis": "ok", "worker_heartbeat": None}
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
    except DatabaseError:
        body["database"] = "unavailable"
    try:
        cache.set("healthz", "ok", 5)
        body["worker_heartbeat"] = cache.get(HEARTBEAT_KEY)
    except RedisError:
        body["redis"] = "unavailable"
    ok = body["database"] == body["redis"] == "ok"
    return JsonResponse(body, status=200 if ok else 503)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: an API path that resolves to no route answers with the API's error
    object, like every other API refusal; pages get the 404 page."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(NotFound().as_dict(), status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: what Django refuses before a view runs (a ``SuspiciousOperation``: a
    body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, too many fields or files, …). A size refusal
    is 413 ``REQUEST_TOO_LARGE``; the rest a 400. The error object on API paths and for
    JSON clients, a page naming the limit elsewhere."""
    err = to_app_error(exception)
    if request.path.startswith(API_PREFIX):
        err = err or ValidationError(gettext("Malformed request."))
        return JsonResponse(err.as_dict(), status=err.status)
    if isinstance(err, RequestTooLarge):
        return page_error(request, err)
    # anything else (a disallowed Host header, …): Django's bare page, which reads nothing
    # of the request that could raise the same refusal again
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the API's error object on API paths (the failure itself is logged by
    Django); the plain 500 page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(ServerError().as_dict(), status=500)
    return defaults.server_error(request)
