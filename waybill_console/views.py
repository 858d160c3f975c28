from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views import defaults

from waybill_console.errors import NotFound, ServerError
from waybill_console.tasks import HEARTBEAT_KEY

API_PREFIX = "/api/"


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


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the API's error object on API paths (the failure itself is logged by
    Django); the plain 500 page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(ServerError().as_dict(), status=500)
    return defaults.server_error(request)
