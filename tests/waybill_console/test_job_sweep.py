"""The stalled-job sweep: a job whose worker died, or whose task was never sent, has its
task sent again; a job a live worker runs is left alone. (The end-to-end case, a worker
killed mid-batch, is ``tests/faults/test_worker_killed.py``.)

The broker is the boundary here: ``run_job.delay`` is replaced by a recorder, or by one
that fails as an unreachable broker does."""

from __future__ import annotations

import zlib
from contextlib import contextmanager
from datetime import timedelta

import psycopg2
import pytest
from django.db import connection
from django.utils import timezone
from kombu.exceptions import OperationalError

from tests.conftest import main_actor, make_order
from tests.waybills.conftest import open_service
from waybill_console import jobs, tasks
from waybill_console.models import Job
from waybills.services import waybill_batch_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    ids: list[int] = []
    monkeypatch.setattr(tasks.run_job, "delay", ids.append)
    return ids


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(job_id):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.run_job, "delay", refuse)


@contextmanager
def held_elsewhere(name: str):
    """Another database session (a live worker) holds the advisory lock ``name``."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    other = psycopg2.connect(**params)
    other.autocommit = True
    try:
        other.cursor().execute("SELECT pg_advisory_lock(%s)", [zlib.crc32(name.encode())])
        yield
    finally:
        other.close()


def make_job(shop, *, status: str, attempts: int = 0, age: timedelta = timedelta(0)) -> Job:
    job = Job.objects.create(
        shop=shop, kind="waybill_batch", status=status, attempts=attempts, params={}
    )
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - age)
    return job


def test_a_running_job_whose_worker_died_is_sent_again(shop_a, sent):
    dead = make_job(shop_a, status="running", attempts=1)
    assert jobs.jobs_requeue_stalled() == [dead.pk]
    assert sent == [dead.pk]
    assert Job.objects.get(pk=dead.pk).attempts == 1  # the run counts the attempt, not the sweep


def test_a_stalled_job_is_sent_again_once_per_stall_time(shop_a, sent, settings):
    settings.JOB_STALL_SECONDS = 300
    dead = make_job(shop_a, status="running", attempts=1)
    stalled = make_job(shop_a, status="queued", age=timedelta(seconds=301))
    assert jobs.jobs_requeue_stalled() == [stalled.pk, dead.pk]
    assert jobs.jobs_requeue_stalled() == []  # the next tick: already on their way
    assert sent == [stalled.pk, dead.pk]


def test_a_running_job_of_a_live_worker_is_left_alone(shop_a, sent):
    live = make_job(shop_a, status="running", attempts=1)
    with held_elsewhere(f"job:{live.pk}"):
        assert jobs.jobs_requeue_stalled() == []
    assert sent == []


def test_a_queued_job_is_sent_again_only_once_it_waited_the_stall_time(shop_a, sent, settings):
    settings.JOB_STALL_SECONDS = 300
    fresh = make_job(shop_a, status="queued", age=timedelta(seconds=10))
    stalled = make_job(shop_a, status="queued", age=timedelta(seconds=301))
    make_job(shop_a, status="succeeded", age=timedelta(hours=1))
    make_job(shop_a, status="failed", age=timedelta(hours=1))
    assert jobs.jobs_requeue_stalled() == [stalled.pk]
    assert sent == [stalled.pk]
    assert Job.objects.get(pk=fresh.pk).status == "queued"


def test_a_duplicate_sweep_tick_does_nothing(shop_a, sent):
    make_job(shop_a, status="running", attempts=1)
    with held_elsewhere("jobs:requeue-stalled"):
        assert jobs.jobs_requeue_stalled() == []
    assert sent == []


def test_a_second_delivery_while_a_live_worker_runs_the_job_does_nothing(shop_a):
    running = make_job(shop_a, status="running", attempts=1)
    with held_elsewhere(f"job:{running.pk}"):
        assert jobs.job_run(job_id=running.pk) == "running"
    job = Job.objects.get(pk=running.pk)
    assert (job.status, job.attempts) == ("running", 1)


def test_a_job_that_died_too_often_fails_when_sent_again(shop_a, sent):
    dead = make_job(shop_a, status="running", attempts=jobs.MAX_ATTEMPTS)
    assert jobs.jobs_requeue_stalled() == [dead.pk]
    assert jobs.job_run(job_id=dead.pk) == "failed"
    job = Job.objects.get(pk=dead.pk)
    assert (job.status, job.error["code"]) == ("failed", "JOB_FAILED")


def test_a_job_recorded_while_the_broker_is_down_stays_queued_until_it_is_back(
    shop_a, broker_down, settings, monkeypatch, django_capture_on_commit_callbacks
):
    sub = open_service(shop_a, balance=5)
    order = make_order(shop_a)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = waybill_batch_start(
            actor=main_actor(shop_a), order_ids=[order.pk], subscription=sub.pk
        )
    assert len(callbacks) == 1  # the send was tried, failed, and did not fail the request
    assert Job.objects.get(pk=job.pk).status == "queued"
    settings.JOB_STALL_SECONDS = 0
    assert jobs.jobs_requeue_stalled() == []  # still down: nothing sent

    sent: list[int] = []
    monkeypatch.setattr(tasks.run_job, "delay", sent.append)  # the broker is back
    assert jobs.jobs_requeue_stalled() == [job.pk]
    assert sent == [job.pk]
