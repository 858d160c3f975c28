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
    """Database and Redis reachable; when a Celery worker last ran the heartbeat."""
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    cache.set("healthz", "ok", 5)
    return JsonResponse(
        {
            "database": "ok",
            "redis": cache.get("healthz"),
            "worker_heartbeat": cache.get(HEARTBEAT_KEY),
        }
    )
