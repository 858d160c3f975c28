"""Background jobs: create, run once (even when Celery redelivers), report progress.

A job kind maps to a handler ``fn(job) -> dict`` (its result), registered by the app
that owns the kind (:func:`register_kind`, from its ``AppConfig.ready()``). Handlers
report progress with :func:`job_progress` and may write a file with :func:`job_file_path`.

A runner holds the job's advisory lock while it runs the job, so a second delivery of the
task meanwhile does nothing, and :func:`jobs_requeue_stalled` (a beat sweep) tells a live runner
from a dead one: a running job whose lock nobody holds lost its worker (killed, out of
memory, the machine restarted). Its task is sent again at once instead of after the
broker's visibility timeout (an hour); the handlers resume from what they recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from waybill_console import permissions as perms
from waybill_console.errors import AppError, NotFound
from waybill_console.locks import advisory_lock
from waybill_console.models import Job
from waybill_console.registry import register_once, registered
from waybill_console.tenancy import Actor

logger = logging.getLogger("waybill_console.jobs")


@dataclass(frozen=True)
class JobKind:
    #: the handler ``fn(job) -> dict``, a public service function of the app that owns the kind
    handler: Callable[[Job], dict]
    #: what an actor (a sub-account's permission, a token's scope) needs to see the job at
    #: all: its status, its result and its file, through every door (``job_get``)
    permission: str
    #: what people call it (下载中心 and the job page); "" shows the kind. Presentation
    #: only: not compared when a kind is registered again
    label: str = field(default="", compare=False)
    #: it writes a file to download: listed in the download centre (:func:`job_download_list`)
    download: bool = field(default=False, compare=False)


#: every job kind: its handler and the permission that sees it. Filled by the apps that own
#: the kinds, in their ``AppConfig.ready()`` (:func:`register_kind`): the kernel names none.
KINDS: dict[str, JobKind] = {}


def register_kind(
    kind: str,
    handler: Callable[[Job], dict],
    permission: str,
    *,
    label: str = "",
    download: bool = False,
) -> None:
    """Declare a job kind: the handler that runs it and the permission that sees it; its
    name for people, and whether it writes a file to download (an export, a statement).

    Called from the owning app's ``AppConfig.ready()``. The same registration again does
    nothing; another handler or permission for a kind already registered, or a permission
    that does not exist, is ImproperlyConfigured."""
    if permission not in perms.ALL:
        raise ImproperlyConfigured(f"job kind {kind!r}: unknown permission {permission!r}")
    register_once(KINDS, kind, JobKind(handler, permission, label, download), what="job kind")


#: what is called when a job finishes (succeeded or failed): ``fn(job)``, inside the
#: transaction that records the end, with the job as recorded. Filled by apps in their
#: ``AppConfig.ready()`` (:func:`register_job_listener`: ``events`` tells ``job.finished``).
JOB_LISTENERS: dict[str, Callable[[Job], None]] = {}


def register_job_listener(name: str, listener: Callable[[Job], None]) -> None:
    """Call ``listener(job)`` whenever a job finishes, in the transaction that records it
    (what it writes commits with the job's end, or not at all)."""
    register_once(JOB_LISTENERS, name, listener, what="job listener")


def job_kind(kind: str) -> JobKind:
    """The registered kind; ImproperlyConfigured for a kind no app registered."""
    return registered(KINDS, kind, what="job kind")


MAX_ATTEMPTS = 3
#: jobs sent again per sweep at most (a backlog is worked off over several ticks)
REQUEUE_BATCH = 100


def job_create(*, actor: Actor, kind: str, params: dict, total: int = 0) -> Job:
    """Record the job and enqueue it once the surrounding transaction commits (a kind no
    app registered is refused before anything is recorded: nothing could run it)."""
    job_kind(kind)
    user = actor.user if getattr(actor.user, "pk", None) else None
    job = Job.objects.create(
        shop=actor.shop, kind=kind, params=params, total=total, created_by=user
    )
    job_id = job.pk
    transaction.on_commit(lambda: job_enqueue(job_id=job_id))
    return job


def job_enqueue(*, job_id: int) -> bool:
    """Send the job's task. With the broker unreachable the job stays queued in the
    database (the request that recorded it still succeeds) and the sweep sends it once
    the broker is back."""
    from waybill_console.tasks import run_job

    return task_send(run_job, job_id, what="job")


def task_send(task, job_id: int, *, what: str) -> bool:
    """``task.delay(job_id)``; False (logged, nothing raised) when the broker is unreachable:
    the row stays queued for the stalled-job sweep to send again."""
    try:
        task.delay(job_id)
    except BrokerUnavailable as err:
        logger.warning("%s %s recorded but not sent, broker unreachable: %s", what, job_id, err)
        return False
    return True


def job_get(*, actor: Actor, job_id: int, kind: str | None = None) -> Job:
    """One of the shop's jobs (of ``kind``, if given) that the actor may see: a job whose
    kind needs a permission the actor lacks is a 404 like another shop's, on every door
    (status, progress, result, download)."""
    job = Job.objects.filter(pk=job_id, shop=actor.require_shop()).first()
    if job is None or (kind is not None and job.kind != kind) or not job_visible(actor, job):
        if job is not None:
            logger.info("job %s refused to %s (kind %s)", job_id, actor.describe(), job.kind)
        raise NotFound()
    return job


def job_list(*, actor: Actor, kind: str):
    """The shop's jobs of ``kind``, newest first; none for an actor without the
    permission the kind declares."""
    qs = Job.objects.filter(shop=actor.require_shop(), kind=kind)
    if kind not in KINDS or not actor.has(KINDS[kind].permission):
        return qs.none()
    return qs.order_by("-created_at", "-id")


def download_kinds(*, actor: Actor) -> dict[str, str]:
    """The kinds that write a file and that the actor may see: kind → its label."""
    return {
        kind: str(k.label or kind)
        for kind, k in sorted(KINDS.items())
        if k.download and actor.has(k.permission)
    }


def job_download_list(*, actor: Actor, kind: str = ""):
    """下载中心 (needs the export permission): the shop's jobs that write a file (exports,
    statements, of every status), of the kinds the actor may see, newest first; ``kind``
    narrows to one of them (another kind: none). One index range per kind (``shop, kind,
    -created_at``)."""
    actor.require(perms.EXPORT)
    kinds = download_kinds(actor=actor)
    if kind:
        kinds = {kind: kinds[kind]} if kind in kinds else {}
    return (
        Job.objects.filter(shop=actor.require_shop(), kind__in=list(kinds))
        .select_related("created_by")
        .order_by("-created_at", "-id")
    )


def job_file_size(job: Job) -> int | None:
    """The size in bytes of the job's file while it is kept; None before it is written
    or once it is gone."""
    if not job.file_path:
        return None
    try:
        return Path(job.file_path).stat().st_size
    except OSError:
        return None


def job_visible(actor: Actor, job: Job) -> bool:
    """Whether the actor holds the permission the job's kind declares (an unknown kind:
    nobody)."""
    kind = KINDS.get(job.kind)
    return kind is not None and actor.has(kind.permission)


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


def _lock_name(job_id: int) -> str:
    return f"job:{job_id}"


def job_run(*, job_id: int) -> str:
    """Claim the job (queued, or running but redelivered under the attempt cap) and run it,
    under the job's advisory lock: while a live worker runs the job, another delivery of
    its task does nothing."""
    with advisory_lock(_lock_name(job_id)) as got:
        if not got:
            status = Job.objects.filter(pk=job_id).values_list("status", flat=True).first()
            return status or "missing"
        return _run_claimed(job_id)


def _run_claimed(job_id: int) -> str:
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
    handler = job_kind(job.kind).handler
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
    with transaction.atomic():
        Job.objects.filter(pk=job.pk).update(**updates)
        job.refresh_from_db()
        for listener in JOB_LISTENERS.values():
            listener(job)


def jobs_requeue_stalled() -> list[int]:
    """Send the task again for the jobs nobody will run otherwise; the ids sent.

    - running, but no worker holds the job's lock: its worker died mid-way (with
      ``acks_late`` the broker would redeliver only after its visibility timeout);
    - queued for longer than ``JOB_STALL_SECONDS``: the task was never sent (the broker
      was unreachable when the job was recorded) or its message was lost.

    A task sent twice is harmless: the runner claims the job under its lock, a finished
    job is never claimed again and each resumed run counts against ``MAX_ATTEMPTS``.
    A job is sent again at most once per ``JOB_STALL_SECONDS``; a duplicate beat tick
    does nothing (advisory lock)."""
    with advisory_lock("jobs:requeue-stalled") as got:
        if not got:
            return []
        queued_before = timezone.now() - timedelta(seconds=settings.JOB_STALL_SECONDS)
        candidates = (
            Job.objects.filter(
                Q(status=Job.Status.RUNNING)
                | Q(status=Job.Status.QUEUED, created_at__lt=queued_before)
            )
            .order_by("created_at", "id")
            .values_list("pk", "status")[:REQUEUE_BATCH]
        )
        sent = []
        for job_id, status in list(candidates):
            if status == Job.Status.RUNNING and _runner_alive(job_id):
                continue
            # sent again at most once per stall time: the ticks beat fires in a burst after
            # an outage, or while the task waits in a long queue, add no more copies
            if not cache.add(f"jobs:resent:{job_id}", 1, timeout=settings.JOB_STALL_SECONDS):
                continue
            if not job_enqueue(job_id=job_id):
                cache.delete(f"jobs:resent:{job_id}")
                break  # the broker is unreachable: the next tick tries again
            sent.append(job_id)
    if sent:
        logger.warning("sent again the tasks of stalled jobs %s", sent)
    return sent


def _runner_alive(job_id: int) -> bool:
    with advisory_lock(_lock_name(job_id)) as got:
        return not got
