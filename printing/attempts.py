"""Print attempts: each try at sending a job's unconfirmed documents.

An attempt records the bytes sent, which documents the printer confirmed, the outcome and a
clear reason. A document counts as a print (``prints_record``) only once the printer
confirmed it, so a retry sends only the documents without ``confirmed_at`` and never prints
a confirmed label twice. Labels are rendered at send time in the printer's language. The
server's own sender (:func:`printing.print_jobs.print_job_send`) and the print agent
(:func:`printing.agents.agent_job_report`) record their results through the same functions.
"""

from __future__ import annotations

from dataclasses import replace

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from printing import services
from printing.errors import (
    PrinterAddressNotAllowed,
    PrinterOffline,
    PrintFailed,
    PrintInterrupted,
    PrintNotConfirmed,
)
from printing.models import PrintAgent, PrintAttempt, PrintDocument, PrintJob
from printing.printers import sample_label_template
from printing.renderers import render
from printing.transports import BLOCKED, DROPPED, OFFLINE, UNCONFIRMED, TransportError
from waybill_console import permissions as perms
from waybill_console.errors import AppError
from waybill_console.tenancy import Actor

#: what the transports say happened, in the console's words
CAUSES = {
    "timeout": _("connection timed out"),
    "refused": _("connection refused"),
    "reset": _("connection reset"),
    "broken pipe": _("broken pipe"),
    "unreachable": _("host unreachable"),
    "unknown host": _("unknown host"),
}


def _job_actor(job: PrintJob) -> Actor:
    """Labels are rendered (and their receivers revealed) on behalf of whoever asked."""
    return Actor(shop=job.shop, user=job.created_by, permissions=frozenset({perms.PRINT}))


def fail_open_attempt(job_id: int, err: AppError) -> None:
    now = timezone.now()
    with transaction.atomic():
        job = PrintJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != PrintJob.Status.SENDING:
            return
        reason = _reason_text(err)
        job.attempts.filter(finished_at__isnull=True).update(
            finished_at=now, outcome=PrintAttempt.Outcome.FAILED, reason=reason
        )
        PrintJob.objects.filter(pk=job_id).update(
            status=PrintJob.Status.FAILED, finished_at=now, error=_error_dict(err)
        )


def start_attempt(job_id: int, *, transport: str, agent: PrintAgent | None = None):
    """Queued → sending with a new attempt over the unconfirmed documents (in one
    transaction, the job row locked); ``None`` when the job is not queued."""
    now = timezone.now()
    with transaction.atomic():
        job = (
            PrintJob.objects.select_for_update(of=("self",))
            .select_related("printer", "shop", "created_by")
            .filter(pk=job_id)
            .first()
        )
        if job is None or job.status != PrintJob.Status.QUEUED:
            return None
        pending = list(
            job.documents.filter(confirmed_at__isnull=True)
            .order_by("sequence")
            .values_list("sequence", flat=True)
        )
        attempt = PrintAttempt.objects.create(
            job=job, started_at=now, documents=pending, transport=transport
        )
        job.status = PrintJob.Status.SENDING
        job.error = None
        job.finished_at = None
        update = ["status", "error", "finished_at"]
        if agent is not None:
            job.claimed_by, job.claimed_at = agent, now
            update += ["claimed_by", "claimed_at"]
        job.save(update_fields=update)
    return job, attempt


def pending_documents(job: PrintJob, attempt: PrintAttempt) -> list[PrintDocument]:
    return list(
        job.documents.filter(sequence__in=attempt.documents, confirmed_at__isnull=True)
        .select_related("waybill", "waybill__carrier", "waybill__shop", "waybill__order")
        .order_by("sequence")
    )


def document_render(job: PrintJob, document: PrintDocument) -> bytes:
    """The label's bytes in the printer's language (a test page: sample data)."""
    printer = job.printer
    if document.waybill_id is None:
        template = job.template or sample_label_template(job.shop, None)
        services.check_paper(template, printer)
        data = services.sample_data(template)
        with translation.override(settings.LANGUAGE_CODE):
            mark = str(_("Test page %(printer)s %(dpi)s dpi"))
        data = replace(data, free_text=mark % {"printer": printer.name, "dpi": printer.dpi})
        return render(
            printer.kind,
            services.template_layout(template),
            data,
            dpi=printer.dpi,
            grayscale=template.grayscale or printer.grayscale,
            offset_mm=(float(printer.offset_x_mm), float(printer.offset_y_mm)),
        )
    body, _template = services.label_render(
        actor=_job_actor(job),
        waybill=document.waybill,
        fmt=printer.kind,
        template_id=job.template_id,
        printer=printer,
        count=False,
    )
    return body


def confirm(attempt: PrintAttempt, document: PrintDocument, sent: int) -> None:
    """The printer confirmed the document: it is printed once (counted once)."""
    now = timezone.now()
    with transaction.atomic():
        updated = PrintDocument.objects.filter(pk=document.pk, confirmed_at__isnull=True).update(
            confirmed_at=now
        )
        if updated and document.waybill_id:
            services.prints_record(
                waybill_ids=[document.waybill_id], at=now, actor_name=attempt.job.actor
            )
        attempt.confirmed = [*attempt.confirmed, document.sequence]
        attempt.bytes_sent += sent
        PrintAttempt.objects.filter(pk=attempt.pk).update(
            confirmed=attempt.confirmed, bytes_sent=F("bytes_sent") + sent
        )


def transport_error(err: TransportError) -> AppError:
    cause = CAUSES.get(err.detail, err.detail)
    if err.kind == OFFLINE:
        return PrinterOffline(reason=cause, detail={"reason": err.detail})
    if err.kind == DROPPED:
        return PrintInterrupted(
            cause=cause,
            sent=err.sent,
            total=err.total,
            detail={"reason": err.detail, "sent": err.sent, "total": err.total},
        )
    if err.kind == UNCONFIRMED:
        return PrintNotConfirmed(
            seconds=int(err.seconds),
            sent=err.sent,
            total=err.total,
            detail={"sent": err.sent, "total": err.total},
        )
    if err.kind == BLOCKED:
        what = _("port") if err.detail == "port" else _("address")
        return PrinterAddressNotAllowed(what=what, detail={"reason": err.detail})
    return PrintFailed(reason=cause, detail={"reason": err.detail})


def _reason_text(err: AppError, document: PrintDocument | None = None) -> str:
    """The attempt's reason in the console's language (it is stored, not re-rendered)."""
    with translation.override(settings.LANGUAGE_CODE):
        text = err.render_message()
        if document is not None:
            label = document.waybill.waybill_no if document.waybill_id else str(_("test page"))
            text = str(_("Label %(sequence)s (%(label)s): %(reason)s")) % {
                "sequence": document.sequence,
                "label": label,
                "reason": text,
            }
    return text[:200]


def _error_dict(err: AppError, document: PrintDocument | None = None) -> dict:
    with translation.override(settings.LANGUAGE_CODE):
        body = err.as_dict()
    body["message"] = _reason_text(err, document)
    if document is not None:
        body["detail"] = {
            **body["detail"],
            "sequence": document.sequence,
            "waybill_no": document.waybill.waybill_no if document.waybill_id else "",
        }
    return body


def finish(
    job: PrintJob,
    attempt: PrintAttempt,
    *,
    error: AppError | None = None,
    document: PrintDocument | None = None,
    extra_bytes: int = 0,
) -> PrintJob:
    """Close the attempt; the job is printed when every document is confirmed, else failed
    (and can be retried)."""
    now = timezone.now()
    with transaction.atomic():
        remaining = job.documents.filter(confirmed_at__isnull=True).exists()
        if error is None and remaining:  # documents left out of this attempt
            error = PrintInterrupted(_("Some labels were not sent; retry to send them."))
        PrintAttempt.objects.filter(pk=attempt.pk).update(
            finished_at=now,
            outcome=PrintAttempt.Outcome.FAILED if error else PrintAttempt.Outcome.OK,
            reason=_reason_text(error, document) if error else "",
            bytes_sent=F("bytes_sent") + extra_bytes,
        )
        PrintJob.objects.filter(pk=job.pk, status=PrintJob.Status.SENDING).update(
            status=PrintJob.Status.FAILED if error else PrintJob.Status.PRINTED,
            finished_at=now,
            error=_error_dict(error, document) if error else None,
        )
    job.refresh_from_db()
    return job
