from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from waybill_console.tasks import HEARTBEAT_KEY


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
