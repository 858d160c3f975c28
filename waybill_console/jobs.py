"""Background jobs: create, run once (even when Celery redelivers), report progress.

A job kind maps to a handler ``fn(job) -> dict`` (its result). Handlers report progress
with :func:`job_progress` and may write a file with :func:`job_file_path`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from waybill_console.errors import AppError, NotFound
from waybill_console.models import Job
from waybill_console.tenancy import Actor

logger = logging.getLogger("waybill_console.jobs")

#: kind -> dotted path of the handler
HANDLERS: dict[str, str] = {
    "order_export": "shops.services.exports.order_export_run",
    "waybill_batch": "waybills.services.jobs.waybill_batch_run",
    "reconciliation": "waybills.services.jobs.reconciliation_run",
    "dropship_statement": "dropship.services.statements.statement_run",
}
MAX_ATTEMPTS = 3


def job_create(*, actor: Actor, kind: str, params: dict, total: int = 0) -> Job:
    """Record the job and enqueue it once the surrounding transaction commits."""
    from waybill_console.tasks import run_job

    user = actor.user if getattr(actor.user, "pk", None) else None
    job = Job.objects.create(
        shop=actor.shop, kind=kind, params=params, total=total, created_by=user
    )
    transaction.on_commit(lambda: run_job.delay(job.pk))
    return job


def job_get(*, actor: Actor, job_id: int) -> Job:
    job = Job.objects.filter(pk=job_id, shop=actor.require_shop()).first()
    if job is None:
        raise NotFound()
    return job


def job_progress(job: Job, *, done: int, total: int | None = None) -> None:
    updates = {"done": done}
    if total is not None:
        updates["total"] = total
        job.total = total
    Job.objects.filter(pk=job.pk).update(**updates)
    job.done = done


def job_file_path(job: Job, file_name: str) -> Path:
    folder = Path(settings.MEDIA_ROOT) / "jobs" / str(job.pk)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / file_name


def job_run(*, job_id: int) -> str:
    """Claim the job (queued, or running but redelivered under the attempt cap) and run it."""
    claimed = Job.objects.filter(
        Q(status=Job.Status.QUEUED) | Q(status=Job.Status.RUNNING, attempts__lt=MAX_ATTEMPTS),
        pk=job_id,
    ).update(status=Job.Status.RUNNING, attempts=F("attempts") + 1, started_at=timezone.now())
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        return "missing"
    if not claimed:
        if job.status == Job.Status.RUNNING:  # redelivered too often
            _finish(job, error={"code": "JOB_FAILED", "message": "too many attempts", "detail": {}})
        return job.status
    handler = import_string(HANDLERS[job.kind])
    try:
        result = handler(job)
    except AppError as err:
        _finish(job, error=err.as_dict())
        return Job.Status.FAILED
    _finish(job, result=result or {})
    return Job.Status.SUCCEEDED


def _finish(job: Job, *, result: dict | None = None, error: dict | None = None) -> None:
    status = Job.Status.FAILED if error else Job.Status.SUCCEEDED
    updates = {
        "status": status,
        "finished_at": timezone.now(),
        "error": error,
        "result": result or {},
    }
    if status == Job.Status.SUCCEEDED:
        updates["done"] = F("total")
    Job.objects.filter(pk=job.pk).update(**updates)
    job.refresh_from_db()
