"""A real Celery worker consumes from the test Redis and completes a task."""

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache

from waybill_console.celery import app
from waybill_console.tasks import HEARTBEAT_KEY, heartbeat, purge_idempotency_keys

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_worker_runs_a_task_through_redis():
    assert app.conf.broker_url.startswith("redis://")
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    cache.delete(HEARTBEAT_KEY)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = heartbeat.delay()
        stamp = result.get(timeout=30)
    assert result.status == "SUCCESS"
    assert cache.get(HEARTBEAT_KEY) == stamp


def test_worker_task_reaches_the_database():
    from datetime import timedelta

    from django.utils import timezone

    from waybill_console.models import IdempotencyRecord

    old = IdempotencyRecord.objects.create(
        scope="shop:1", key="old", method="POST", path="/", request_hash="x"
    )
    IdempotencyRecord.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=8)
    )
    IdempotencyRecord.objects.create(
        scope="shop:1", key="new", method="POST", path="/", request_hash="y"
    )
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        deleted = purge_idempotency_keys.delay().get(timeout=30)
    assert deleted == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_beat_schedule_is_in_settings():
    from django.conf import settings

    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "waybill_console.tasks.heartbeat" in tasks
    assert set(tasks) <= set(app.tasks.keys())
