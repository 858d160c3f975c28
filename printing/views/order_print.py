"""Pages: 取号并打印 and 打印 / 重打 on the order page, the label preview, and 批量取号并打印
from the order list with its progress.

The order pages belong to ``shops`` and the waybill block to ``waybills``, which must not
import this app: the block loads :func:`order_print_panel` with htmx (the print target
and 取号并打印 inside its 取号 form, or the print status, preview and 打印 of the
numbers it holds), and the order list posts its selection to
:func:`allocate_print_batch` by URL name. ``static/js/print.js`` sends these forms with
fetch: a PDF answer is downloaded, any other answer (what was done, the reprint
confirmation, a refusal) is shown in the block, which is reloaded. Without JavaScript
the same forms post as pages.

A reprint asks first, enforced here: a request without ``confirm=1`` for a label printed
before answers with the confirmation (a fragment, or the confirmation page), not a print.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from printing import allocate_print, selectors, services
from printing.errors import ReprintNotConfirmed
from printing.print_jobs import JOB_LIMIT
from printing.views.printers import (
    order_list_url,
    reprint_confirmation,
    selected_order_ids,
)
from shops import selectors as shop_selectors
from shops.selectors import PrintStatus
from shops.views import shop_required
from waybill_console import permissions as perms
from waybill_console.confirm import confirmed
from waybill_console.errors import AppError, ValidationError, page_error
from waybill_console.jobs import job_get
from waybills.selectors import waybill_get
from waybills.services.allocation import BATCH_LIMIT
from waybills.views.common import factory_numbers_confirmation, refused


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _pdf(body: bytes, name: str) -> HttpResponse:
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    response["Cache-Control"] = "no-store"  # the receiver is on it
    return response


def _notice(request: HttpRequest, *, level: str, text: str, job=None, status: int = 200):
    """What a print request did, for the block (htmx), or as a page message."""
    if request.htmx:
        return render(
            request,
            "console/printing/_print_notice.html",
            {"level": level, "text": text, "job": job},
            status=status,
        )
    getattr(messages, level)(request, text)
    return None


def _printed_text(job, count: int) -> str:
    return ngettext(
        "%(count)s label sent to %(printer)s (print job #%(job)s).",
        "%(count)s labels sent to %(printer)s (print job #%(job)s).",
        count,
    ) % {"count": count, "printer": job.printer.name, "job": job.pk}


# --- the order page -------------------------------------------------------------------------


@shop_required
def order_print_panel(request: HttpRequest, order_id: int) -> HttpResponse:
    """htmx: with no number yet, the print target and the 取号并打印 button (inside the
    block's 取号 form); with numbers, their print status, preview and 打印 / 重打."""
    request.actor.require(perms.PRINT)
    order = shop_selectors.order_get(actor=request.actor, order_id=order_id, with_items=False)
    labels = selectors.order_labels(actor=request.actor, order_id=order.pk)
    for w in labels:
        w.print_status = PrintStatus.for_count(w.print_count)
    printers = list(selectors.printer_list(actor=request.actor))
    return render(
        request,
        "console/printing/_order_print_panel.html",
        {
            "part": "allocate" if request.GET.get("part") == "allocate" else "print",
            "order": order,
            "labels": labels,
            "printed": any(w.print_count for w in labels),
            "printers": printers,
            "default_printer": next((p for p in printers if p.is_default), None),
        },
    )


@shop_required
@require_POST
def order_allocate_print(request: HttpRequest, order_id: int) -> HttpResponse:
    """取号并打印: the number (drawn now) and its label, to the printer chosen or as a PDF."""
    order = shop_selectors.order_get(actor=request.actor, order_id=order_id)
    back = reverse("console:order_detail", args=[order.pk])
    asked = factory_numbers_confirmation(request, order, back)
    if asked is not None:
        return asked
    try:
        count = _int_or_none(request.POST.get("package_count") or 1)
        if count is None:
            raise ValidationError.for_fields(package_count=_("A whole number from 1 to 20."))
        done = allocate_print.waybill_allocate_and_print(
            actor=request.actor,
            order=order,
            subscription=_int_or_none(request.POST.get("subscription")),
            package_count=count,
            target=request.POST.get("print_target", ""),
            ask_before_reprint=not confirmed(request),
        )
    except ReprintNotConfirmed as err:
        return reprint_confirmation(request, err, back)
    except AppError as err:
        return refused(request, err, back)
    number = done.waybills[0].waybill_no
    if done.print_error is not None:
        text = _("Waybill number %(waybill_no)s allocated, but not printed: %(reason)s") % {
            "waybill_no": number,
            "reason": done.print_error.render_message(),
        }
        return _notice(request, level="warning", text=text) or redirect(back)
    if done.pdf is not None:
        return _pdf(done.pdf, f"label-{number}")
    text = _printed_text(done.job, len(done.waybills))
    return _notice(request, level="success", text=text, job=done.job) or redirect(back)


@shop_required
@require_POST
def order_print(request: HttpRequest, order_id: int) -> HttpResponse:
    """打印 (or 重打, confirmed first) the labels of the order's numbers."""
    order = shop_selectors.order_get(actor=request.actor, order_id=order_id, with_items=False)
    back = reverse("console:order_detail", args=[order.pk])
    try:
        done = allocate_print.order_labels_print(
            actor=request.actor,
            order=order,
            target=request.POST.get("print_target", ""),
            ask_before_reprint=not confirmed(request),
        )
    except ReprintNotConfirmed as err:
        return reprint_confirmation(request, err, back)
    except AppError as err:
        return refused(request, err, back)
    if done.pdf is not None:
        return _pdf(done.pdf, f"label-{done.waybills[0].waybill_no}")
    text = _printed_text(done.job, len(done.waybills))
    return _notice(request, level="success", text=text, job=done.job) or redirect(back)


@shop_required
def label_preview(request: HttpRequest, waybill_no: str) -> HttpResponse:
    """The label as the printer will print it (PNG; a preview counts no print). The
    receiver is decrypted for it, audited as for any label."""
    waybill = waybill_get(
        actor=request.actor, waybill_no=waybill_no, carrier=request.GET.get("carrier", "")
    )
    try:
        body, _template = services.label_render(
            actor=request.actor, waybill=waybill, fmt="png", count=False
        )
    except AppError as err:
        return page_error(request, err)
    response = HttpResponse(body, content_type="image/png")
    response["Cache-Control"] = "no-store"
    return response


# --- the order list: 批量取号并打印 ---------------------------------------------------------


@shop_required
@require_POST
def allocate_print_batch(request: HttpRequest) -> HttpResponse:
    """批量取号并打印 of the ticked orders (or all matching): the batch job, whose progress
    the order list shows (``?batch_job=<id>``), the ticked orders kept ticked."""
    try:
        ids = selected_order_ids(request, limit=BATCH_LIMIT)
        if not ids:
            raise ValidationError(_("Select the orders to allocate waybill numbers for."))
        job = allocate_print.allocate_print_batch_start(
            actor=request.actor,
            order_ids=ids,
            subscription=_int_or_none(request.POST.get("subscription")),
            target=request.POST.get("print_target", ""),
        )
    except AppError as err:
        messages.error(request, err.render_message())
        return redirect(order_list_url(request))
    return redirect(order_list_url(request, batch_job=job.pk))


@shop_required
def allocate_print_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    """htmx: the batch's progress, polled until it ends; then what was drawn, the print
    jobs (or the PDF to download), and the order list's rows reloaded in place."""
    job = job_get(actor=request.actor, job_id=job_id, kind=allocate_print.BATCH_KIND)
    result = job.result or {}
    results = result.get("results", [])
    order_nos = {}
    if job.is_finished:
        order_nos = shop_selectors.order_numbers(
            actor=request.actor, ids=[r["order"] for r in results]
        )
    for r in results:
        r["order_no"] = order_nos.get(r["order"], r["order"])
    print_jobs = list(
        selectors.print_job_list(actor=request.actor).filter(pk__in=result.get("print_jobs", []))
    )
    return render(
        request,
        "console/printing/_allocate_print_progress.html",
        {
            "job": job,
            "ok": [r for r in results if r.get("ok")],
            "failed": [r for r in results if not r.get("ok")],
            "print_jobs": print_jobs,
            "to_print": result.get("to_print", []),
            "skipped": [order_nos.get(i, i) for i in result.get("skipped", [])],
            "print_error": result.get("print_error"),
            "pdf_limit": JOB_LIMIT,
            "stamp": timezone.localtime().strftime("%H%M%S"),
        },
    )


urlpatterns = [
    path("print/orders/<int:order_id>/", order_print_panel, name="order_print_panel"),
    path("print/orders/<int:order_id>/print/", order_print, name="order_print"),
    path(
        "print/orders/<int:order_id>/allocate/",
        order_allocate_print,
        name="order_allocate_print",
    ),
    path("print/labels/<str:waybill_no>/preview/", label_preview, name="label_preview"),
    path("print/batch/", allocate_print_batch, name="allocate_print_batch"),
    path("print/batch/<int:job_id>/", allocate_print_progress, name="allocate_print_progress"),
]
