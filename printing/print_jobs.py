"""Print jobs: up to 50 labels for one printer, one document per label.

Created from waybills or as a printer's test page, queued, sent, retried and swept. Who
sends: a Celery task for network and USB printers (:func:`print_job_send`, under an
advisory lock per job so that a redelivered task finds a dead sender's attempt and closes
it), the print agent for agent printers (:mod:`printing.agents`). Each try is an attempt
(:mod:`printing.attempts`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from printing import services
from printing.agents import AGENT_CLAIM_TIMEOUT
from printing.attempts import (
    confirm,
    document_render,
    fail_open_attempt,
    finish,
    pending_documents,
    start_attempt,
    transport_error,
)
from printing.errors import PrintInterrupted, PrintJobState, PrintTooMany, WaybillNotPrintable
from printing.models import Connection, PrintAttempt, PrintDocument, Printer, PrintJob
from printing.printers import own, printer_ready, sample_label_template
from printing.reprints import reprint_check, reprints_record
from printing.transports import TransportError, network, usb
from waybill_console import permissions as perms
from waybill_console.errors import AppError, ValidationError
from waybill_console.locks import advisory_lock
from waybill_console.tenancy import Actor
from waybills.models import LIVE_STATUSES, Waybill
from waybills.selectors import waybill_actionable

logger = logging.getLogger("printing.jobs")

JOB_LIMIT = 50
SERVER_CONNECTIONS = (Connection.NETWORK, Connection.USB)


def _lock_name(job_id: int) -> str:
    return f"print_job:{job_id}"


def printer_test(*, actor: Actor, printer: Printer, template_id: int | None = None) -> PrintJob:
    """A test page: a sample label (made-up data) as a one-document job, answered at once
    as queued. A Celery worker sends a network or USB printer's test page (with short
    time-outs: :data:`network.TEST_CONNECT_TIMEOUT` …), the job page polls until it is
    printed or failed with its reason; an agent printer's job waits for its agent. No
    web request ever waits on a printer."""
    actor.require(perms.PRINT)
    own(actor, printer)
    printer_ready(printer)
    template = sample_label_template(printer.shop, template_id)
    services.check_paper(template, printer)
    with transaction.atomic():
        job = PrintJob.objects.create(
            shop=printer.shop,
            printer=printer,
            template=template if template.pk else None,
            is_test=True,
            created_by=_user(actor),
            actor=actor.describe(),
        )
        PrintDocument.objects.create(job=job, waybill=None, sequence=1)
        _enqueue(job)
    return job


def _user(actor: Actor):
    return actor.user if getattr(actor.user, "pk", None) else None


def _waybills_by_no(actor: Actor, numbers: list) -> list[Waybill]:
    cleaned = [str(n).strip().upper() for n in numbers if str(n).strip()]
    rows: dict[str, list[Waybill]] = {}
    for w in (
        waybill_actionable(actor=actor)
        .filter(waybill_no__in=cleaned)
        .select_related("carrier", "order")
    ):
        rows.setdefault(w.waybill_no, []).append(w)
    found, missing, ambiguous = [], [], []
    for number in cleaned:
        candidates = rows.get(number, [])
        live = [w for w in candidates if w.status in LIVE_STATUSES]
        pick = live if live else candidates
        if not pick:
            missing.append(number)
        elif len(pick) > 1:
            ambiguous.append(number)
        else:
            found.append(pick[0])
    if missing:
        raise ValidationError.for_fields(
            waybills=_("Not this shop's waybill numbers: %(numbers)s")
            % {"numbers": ", ".join(map(str, missing[:10]))}
        )
    if ambiguous:
        raise ValidationError.for_fields(
            waybills=_(
                "Two carriers issued these numbers; print them from the order list: %(numbers)s"
            )
            % {"numbers": ", ".join(map(str, ambiguous[:10]))}
        )
    return found


def _waybills_by_id(actor: Actor, ids: list) -> list[Waybill]:
    try:
        wanted = [int(i) for i in ids]
    except (TypeError, ValueError):
        raise ValidationError.for_fields(waybills=_("A list of waybill ids.")) from None
    rows = {
        w.pk: w
        for w in waybill_actionable(actor=actor).filter(pk__in=wanted).select_related("order")
    }
    missing = [i for i in wanted if i not in rows]
    if missing:
        raise ValidationError.for_fields(
            waybills=_("Not this shop's waybills: %(ids)s") % {"ids": missing[:10]}
        )
    return [rows[i] for i in wanted]


def print_job_create(
    *,
    actor: Actor,
    printer: Printer,
    waybill_ids: list | None = None,
    waybill_nos: list | None = None,
    template_id: int | None = None,
    ask_before_reprint: bool = False,
) -> PrintJob:
    """Up to 50 live waybills to one printer; each becomes a document, marked as a reprint
    when its waybill was printed before. Templates and paper are checked now, so that a
    label that cannot fit is refused before anything is queued.

    A console page passes ``ask_before_reprint`` until the user confirmed: a number printed
    before is then REPRINT_NOT_CONFIRMED (:mod:`printing.reprints`); each reprint queued is
    written to its order's history with the job."""
    actor.require(perms.PRINT)
    shop = actor.require_shop()
    own(actor, printer)
    given = waybill_nos if waybill_nos is not None else waybill_ids
    if not isinstance(given, list | tuple) or not given:
        raise ValidationError.for_fields(waybills=_("Choose at least one waybill."))
    if len(given) > JOB_LIMIT:
        raise PrintTooMany(limit=JOB_LIMIT, detail={"count": len(given)})
    printer_ready(printer)
    if waybill_nos is not None:
        waybills = _waybills_by_no(actor, list(waybill_nos))
    else:
        waybills = _waybills_by_id(actor, list(waybill_ids))
    waybills = list({w.pk: w for w in waybills}.values())
    for w in waybills:
        if w.status not in LIVE_STATUSES:
            raise WaybillNotPrintable(
                status=w.get_status_display(), detail={"waybill_no": w.waybill_no}
            )
        services.printable(w)  # the order rule (after-sale, under review), a changed receiver
    template = None
    for carrier in {w.carrier_id: w.carrier for w in waybills}.values():
        chosen = services.template_for(shop=shop, carrier=carrier, template_id=template_id)
        services.check_paper(chosen, printer)
        if template_id:
            template = chosen
    again = reprint_check(waybills=waybills, ask=ask_before_reprint)
    with transaction.atomic():
        reprints_record(actor=actor, waybills=again)
        job = PrintJob.objects.create(
            shop=shop,
            printer=printer,
            template=template,
            created_by=_user(actor),
            actor=actor.describe(),
        )
        PrintDocument.objects.bulk_create(
            PrintDocument(job=job, waybill=w, sequence=i, is_reprint=w.print_count > 0)
            for i, w in enumerate(waybills, start=1)
        )
        _enqueue(job)
    return job


def _enqueue(job: PrintJob) -> None:
    """Network and USB jobs go to a Celery worker once the transaction commits; agent
    jobs wait for their agent's poll."""
    if job.printer.connection in SERVER_CONNECTIONS:
        job_id = job.pk
        transaction.on_commit(lambda: print_job_enqueue(job_id=job_id))


def print_job_enqueue(*, job_id: int) -> bool:
    """Send the job's task. With the broker unreachable the job stays queued (the request
    that recorded it still succeeds) and the sweep sends it once the broker is back."""
    from printing.tasks import send_print_job
    from waybill_console.jobs import task_send

    return task_send(send_print_job, job_id, what="print job")


def print_jobs_requeue_stalled() -> list[int]:
    """Send the task again for network/USB print jobs nobody will send otherwise: queued
    for longer than ``JOB_STALL_SECONDS`` (the message was never sent or was lost), or
    sending while no worker holds the job's lock (its worker died: the task then closes
    the dead attempt as failed, and 重试 sends only the unconfirmed labels, so nothing
    prints twice). At most once per stall time per job; one sweep at a time."""
    from django.core.cache import cache

    with advisory_lock("print-jobs:requeue-stalled") as got:
        if not got:
            return []
        before = timezone.now() - timedelta(seconds=settings.JOB_STALL_SECONDS)
        candidates = list(
            PrintJob.objects.filter(
                printer__connection__in=SERVER_CONNECTIONS,
                created_at__lt=before,
                status__in=(PrintJob.Status.QUEUED, PrintJob.Status.SENDING),
            )
            .order_by("created_at", "id")
            .values_list("pk", "status")[:100]
        )
        sent = []
        for job_id, status in candidates:
            if status == PrintJob.Status.SENDING:
                with advisory_lock(_lock_name(job_id)) as free:
                    if not free:
                        continue  # its worker is sending right now
            if not cache.add(f"print-jobs:resent:{job_id}", 1, settings.JOB_STALL_SECONDS):
                continue
            if not print_job_enqueue(job_id=job_id):
                cache.delete(f"print-jobs:resent:{job_id}")
                break
            sent.append(job_id)
    if sent:
        logger.warning("sent again the tasks of stalled print jobs %s", sent)
    return sent


def print_job_retry(*, actor: Actor, job: PrintJob) -> PrintJob:
    """Queue the job again: a failed job, a queued one (its task is sent again) or one whose
    sender is gone (a dead worker, an agent that did not report). The next attempt sends
    only the documents the printer has not confirmed."""
    actor.require(perms.PRINT)
    own(actor, job)
    printer_ready(job.printer)
    if job.status == PrintJob.Status.SENDING:
        _close_lost_attempt(job)
        job.refresh_from_db()
    if job.status not in (PrintJob.Status.FAILED, PrintJob.Status.QUEUED):
        raise PrintJobState(status=job.get_status_display())
    with transaction.atomic():
        PrintJob.objects.filter(
            pk=job.pk, status__in=[PrintJob.Status.FAILED, PrintJob.Status.QUEUED]
        ).update(
            status=PrintJob.Status.QUEUED,
            error=None,
            finished_at=None,
            claimed_by=None,
            claimed_at=None,
        )
        job.refresh_from_db()
        if job.status == PrintJob.Status.QUEUED:
            _enqueue(job)
    return job


def _close_lost_attempt(job: PrintJob) -> None:
    """A sending job whose sender is gone becomes failed (its open attempt is closed)."""
    if job.printer.connection == Connection.AGENT:
        if job.claimed_at and timezone.now() - job.claimed_at > AGENT_CLAIM_TIMEOUT:
            fail_open_attempt(
                job.pk,
                PrintInterrupted(_("The print agent took the job but did not report a result.")),
            )
        return
    with advisory_lock(_lock_name(job.pk)) as got:
        if got:  # a live sender holds this lock: nobody does, so it died
            fail_open_attempt(
                job.pk,
                PrintInterrupted(_("Sending stopped before the printer confirmed (interrupted).")),
            )


def print_job_send(*, job_id: int) -> str:
    """Send a queued network or USB job (the Celery task's body); returns the job's status.

    Runs under the job's advisory lock: a second delivery of the task while the first
    still sends does nothing; one that finds the job sending with nobody holding the
    lock closes the dead sender's attempt as failed (the user retries)."""
    with advisory_lock(_lock_name(job_id)) as got:
        if not got:
            return "busy"
        job = PrintJob.objects.select_related("printer").filter(pk=job_id).first()
        if job is None:
            return "missing"
        if job.printer.connection not in SERVER_CONNECTIONS:
            return job.status
        if job.status == PrintJob.Status.SENDING:
            fail_open_attempt(
                job_id,
                PrintInterrupted(_("Sending stopped before the printer confirmed (interrupted).")),
            )
            return PrintJob.Status.FAILED
        started = start_attempt(job_id, transport=job.printer.connection)
        if started is None:
            return job.status
        job, attempt = started
        return _send_attempt(job, attempt).status


def _send_attempt(job: PrintJob, attempt: PrintAttempt) -> PrintJob:
    printer = job.printer
    documents = pending_documents(job, attempt)
    document = None
    try:
        if printer.connection == Connection.USB:
            with usb.connect(printer.usb_vendor_id, printer.usb_product_id) as device:
                for document in documents:
                    data = document_render(job, document)
                    confirm(attempt, document, usb.send(device, data))
        else:
            timeouts = {}
            if job.is_test:
                timeouts = {
                    "connect_timeout": network.TEST_CONNECT_TIMEOUT,
                    "send_timeout": network.TEST_SEND_TIMEOUT,
                    "confirm_timeout": network.TEST_CONFIRM_TIMEOUT,
                }
            for document in documents:
                data = document_render(job, document)
                sent = network.send(printer.host, printer.port, data, **timeouts)
                confirm(attempt, document, sent)
    except TransportError as err:
        return finish(
            job, attempt, error=transport_error(err), document=document, extra_bytes=err.sent
        )
    except AppError as err:  # the label cannot be rendered (cancelled meanwhile, paper)
        return finish(job, attempt, error=err, document=document)
    return finish(job, attempt)
