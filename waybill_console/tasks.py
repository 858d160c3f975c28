"""Kernel jobs: the worker heartbeat, the idempotency-key purge, the job runner and its
stalled-job sweep."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

HEARTBEAT_KEY = "worker:heartbeat"


@shared_task(name="waybill_console.tasks.heartbeat")
def heartbeat() -> str:
    """Beat runs this every minute; the health page shows when a worker last answered."""
    stamp = timezone.now().isoformat()
    cache.set(HEARTBEAT_KEY, stamp, timeout=None)
    return stamp


@shared_task(name="waybill_console.tasks.purge_idempotency_keys")
def purge_idempotency_keys(days: int = 7) -> int:
    from waybill_console.models import IdempotencyRecord

    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - timedelta(days=days)
    ).delete()
    return deleted


@shared_task(name="waybill_console.tasks.run_job", acks_late=True, ignore_result=True)
def run_job(job_id: int) -> str:
    """The job's state and result live in its row. No result in Redis: a sender that
    expects one subscribes to it first, and with Redis down that waits ~20 s of retries
    before the send can fail (and the job be left to the sweep)."""
    from waybill_console.jobs import job_run

    return job_run(job_id=job_id)


@shared_task(name="waybill_console.tasks.requeue_stalled_jobs")
def requeue_stalled_jobs() -> list[int]:
    """Beat runs this every ``JOB_SWEEP_SECONDS``: jobs whose worker died, or whose task
    was never sent, are sent again."""
    from waybill_console.jobs import jobs_requeue_stalled

    return jobs_requeue_stalled()
