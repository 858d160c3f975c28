"""Pages: printers (打印机: add, edit, delete, default, test print), print agents (打印代理:
create with the key shown once, revoke), print jobs (打印任务) with every attempt and 重试,
and batch printing from the order list, to a printer or as one PDF for the browser.

The order list belongs to ``shops``, which must not import this app: it loads the batch
print controls from :func:`print_batch_controls` and its form posts to
:func:`print_batch` by URL name, as batch allocation does.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from printing import agents, print_jobs, printers, selectors, services
from printing.errors import PrintTooMany, ReprintNotConfirmed
from printing.models import Connection, Printer, PrinterKind, PrintJob
from shops import selectors as shop_selectors
from shops.views import shop_required
from waybill_console.confirm import confirmation, confirmed
from waybill_console.errors import AppError, ValidationError, page_error
from waybill_console.field_labels import error_text

PAGE_SIZE = 50
FORM_FIELDS = printers.PRINTER_FIELDS[:-2]  # grayscale and default have their own controls


def _error_text(err: AppError) -> str:
    return error_text(err)  # the fields by their labels, never their keys


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- printers -------------------------------------------------------------------------------


@shop_required
def printer_list(request: HttpRequest) -> HttpResponse:
    rows = list(selectors.printer_list(actor=request.actor))
    return render(
        request,
        "console/printing/printers.html",
        {"printers": rows, "agents": selectors.agent_list(actor=request.actor)},
    )


def _form_values(printer: Printer | None) -> dict:
    if printer is None:
        return {"kind": PrinterKind.ESCPOS, "connection": Connection.NETWORK, "port": 9100,
                "dpi": 203, "offset_x_mm": "0.0", "offset_y_mm": "0.0",
                "paper_width_mm": 100, "paper_height_mm": 150}  # fmt: skip
    values = {key: getattr(printer, key) for key in FORM_FIELDS}
    values["agent"] = printer.agent_id or ""
    for key in ("usb_vendor_id", "usb_product_id"):
        values[key] = f"{values[key]:04x}" if values[key] else ""
    values["grayscale"] = printer.grayscale
    values["is_default"] = printer.is_default
    return values


def _printer_form(request: HttpRequest, printer: Printer | None) -> HttpResponse:
    values, error, status = _form_values(printer), None, 200
    if request.method == "POST":
        data = {key: request.POST.get(key, "") for key in FORM_FIELDS}
        data["grayscale"] = request.POST.get("grayscale") == "1"
        data["is_default"] = request.POST.get("is_default") == "1"
        try:
            if printer is None:
                saved = printers.printer_create(actor=request.actor, data=data)
                messages.success(request, _("Printer %(name)s added.") % {"name": saved.name})
            else:
                saved = printers.printer_update(actor=request.actor, printer=printer, data=data)
                messages.success(request, _("Printer %(name)s saved.") % {"name": saved.name})
            return redirect("console:printer_list")
        except AppError as err:
            values, error, status = data, err, err.status
    field_errors = {
        field: [str(p) for p in (problems if isinstance(problems, list) else [problems])]
        for field, problems in ((error.detail or {}).items() if error else ())
    }
    return render(
        request,
        "console/printing/printers_form.html",
        {
            "printer": printer,
            "values": values,
            "error": error and error.as_dict(),
            "field_errors": field_errors,
            "kinds": PrinterKind.choices,
            "connections": Connection.choices,
            "agents": selectors.agent_list(actor=request.actor),
            "dpis": services.DPIS,
        },
        status=status,
    )


@shop_required
def printer_create(request: HttpRequest) -> HttpResponse:
    return _printer_form(request, None)


@shop_required
def printer_edit(request: HttpRequest, printer_id: int) -> HttpResponse:
    return _printer_form(request, selectors.printer_get(actor=request.actor, printer_id=printer_id))


@shop_required
@require_POST
def printer_delete(request: HttpRequest, printer_id: int) -> HttpResponse:
    printer = selectors.printer_get(actor=request.actor, printer_id=printer_id)
    try:
        printers.printer_delete(actor=request.actor, printer=printer)
    except AppError as err:
        messages.error(
            request,
            _("%(subject)s: %(message)s") % {"subject": printer.name, "message": _error_text(err)},
        )
    else:
        messages.success(request, _("Printer %(name)s deleted.") % {"name": printer.name})
    return redirect("console:printer_list")


@shop_required
@require_POST
def printer_default(request: HttpRequest, printer_id: int) -> HttpResponse:
    printer = selectors.printer_get(actor=request.actor, printer_id=printer_id)
    printers.printer_set_default(actor=request.actor, printer=printer)
    messages.success(request, _("%(name)s is now the default printer.") % {"name": printer.name})
    return redirect("console:printer_list")


@shop_required
@require_POST
def printer_test(request: HttpRequest, printer_id: int) -> HttpResponse:
    """测试打印: the test page is queued at once (a worker sends a network or USB printer's,
    the print agent an agent printer's); the job's page follows it until it is printed or
    failed with the reason. The request never waits on the printer."""
    printer = selectors.printer_get(actor=request.actor, printer_id=printer_id)
    try:
        job = print_jobs.printer_test(actor=request.actor, printer=printer)
    except AppError as err:
        messages.error(
            request,
            _("%(subject)s: %(message)s") % {"subject": printer.name, "message": _error_text(err)},
        )
        return redirect("console:printer_list")
    if printer.connection == Connection.AGENT:
        messages.success(request, _("The test label waits for the print agent."))
    else:
        messages.success(
            request, _("The test label is on its way to %(name)s.") % {"name": printer.name}
        )
    return redirect("console:print_job_detail", job_id=job.pk)


# --- print agents ---------------------------------------------------------------------------


def _agents_page(request: HttpRequest, *, created=None, key: str = "", error=None, status=200):
    response = render(
        request,
        "console/printing/printers_agents.html",
        {
            "agents": selectors.agent_list(actor=request.actor, include_revoked=True),
            "created": created,
            "key": key,
            "error": error and error.as_dict(),
            "server_url": request.build_absolute_uri("/").rstrip("/"),
        },
        status=status,
    )
    if key:
        response["Cache-Control"] = "no-store"
    return response


@shop_required
def agent_list(request: HttpRequest) -> HttpResponse:
    return _agents_page(request)


@shop_required
@require_POST
def agent_create(request: HttpRequest) -> HttpResponse:
    """The key is shown on this answer only (it is stored as a hash)."""
    try:
        agent, key = agents.agent_create(actor=request.actor, name=request.POST.get("name", ""))
    except AppError as err:
        return _agents_page(request, error=err, status=err.status)
    return _agents_page(request, created=agent, key=key)


@shop_required
@require_POST
def agent_revoke(request: HttpRequest, agent_id: int) -> HttpResponse:
    agent = selectors.agent_get(actor=request.actor, agent_id=agent_id)
    agents.agent_revoke(actor=request.actor, agent=agent)
    messages.success(request, _("The key of %(name)s no longer works.") % {"name": agent.name})
    return redirect("console:print_agent_list")


# --- print jobs -----------------------------------------------------------------------------


@shop_required
def print_job_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in PrintJob.Status.values:
        status = ""
    qs = selectors.print_job_list(actor=request.actor, status=status)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "console/printing/print_jobs.html",
        {"page": page, "status": status, "statuses": PrintJob.Status.choices},
    )


#: a network or USB attempt still open after this has lost its worker (the task's limit)
SENDER_LOST_AFTER = timedelta(minutes=16)


def _retryable(job: PrintJob, attempts: list) -> bool:
    """Failed, or stuck: queued, or sending with its sender gone (the service decides)."""
    if job.status in (PrintJob.Status.FAILED, PrintJob.Status.QUEUED):
        return True
    if job.status != PrintJob.Status.SENDING or not attempts:
        return False
    if job.printer.connection == Connection.AGENT:
        return bool(job.claimed_at) and timezone.now() - job.claimed_at > agents.AGENT_CLAIM_TIMEOUT
    return timezone.now() - attempts[-1].started_at > SENDER_LOST_AFTER


@shop_required
def print_job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    """The job with its documents and attempts; htmx polls the body while it is queued
    or sending."""
    job = selectors.print_job_get(actor=request.actor, job_id=job_id)
    documents, attempts = list(job.documents.all()), list(job.attempts.all())
    context = {
        "job": job,
        "documents": documents,
        "attempts": attempts,
        "confirmed": sum(1 for d in documents if d.confirmed_at),
        # the reason names the label and the bytes already; the detail is for the API
        "job_error": {**job.error, "detail": {}} if job.error else None,
        "retryable": _retryable(job, attempts),
        "running": job.status in (PrintJob.Status.QUEUED, PrintJob.Status.SENDING),
    }
    if request.htmx:
        return render(request, "console/printing/_print_job_body.html", context)
    return render(request, "console/printing/print_job.html", context)


@shop_required
@require_POST
def print_job_retry(request: HttpRequest, job_id: int) -> HttpResponse:
    job = selectors.print_job_get(actor=request.actor, job_id=job_id)
    try:
        print_jobs.print_job_retry(actor=request.actor, job=job)
    except AppError as err:
        messages.error(request, _error_text(err))
    else:
        messages.success(request, _("Sending the labels the printer has not confirmed again."))
    return redirect("console:print_job_detail", job_id=job.pk)


# --- batch printing from the order list (批量打印) -------------------------------------------


def order_list_url(request: HttpRequest, **extra) -> str:
    """Back to the order list with the filters the form carried (and ``extra``)."""
    try:
        params = shop_selectors.OrderFilters.from_params(request.POST).as_params()
    except AppError:
        params = {}
    query = {k: v for k, v in params.items() if v}
    query.update(extra)
    return reverse("console:order_list") + ("?" + urlencode(query) if query else "")


@shop_required
def print_batch_controls(request: HttpRequest) -> HttpResponse:
    """htmx: the printer choice (or PDF) and the 批量打印 button in the order list's form."""
    return render(
        request,
        "console/printing/_print_batch_controls.html",
        {"printers": selectors.printer_list(actor=request.actor), "limit": print_jobs.JOB_LIMIT},
    )


def selected_order_ids(request: HttpRequest, *, limit: int = print_jobs.JOB_LIMIT) -> list[int]:
    """The ticked orders, or (``all_matching=1``) every order matching the list's filters,
    at most ``limit + 1`` of them (so that too many is refused, not cut)."""
    if request.POST.get("all_matching") == "1":
        filters = shop_selectors.OrderFilters.from_params(request.POST)
        qs = shop_selectors.order_list(actor=request.actor, filters=filters)
        return list(qs.values_list("pk", flat=True)[: limit + 1])
    ids = (_int_or_none(v) for v in request.POST.getlist("ids"))
    return list(dict.fromkeys(i for i in ids if i))


def reprint_question(err: ReprintNotConfirmed) -> str:
    count = len(err.detail.get("waybill_nos", []))
    return ngettext(
        "The label of %(count)s waybill number was printed before. Print it again? "
        "The label carries 重打 and the reprint is recorded in the order's history.",
        "The labels of %(count)s waybill numbers were printed before. Print them again? "
        "The labels carry 重打 and the reprint is recorded in the orders' history.",
        count,
    ) % {"count": count}


def reprint_confirmation(request: HttpRequest, err: ReprintNotConfirmed, back: str):
    """The confirmation step of a reprint (the numbers listed): the same POST again with
    ``confirm=1`` prints. For htmx (``static/js/print.js``) a fragment the page shows in
    place, otherwise the confirmation page."""
    if request.htmx:
        fields = [
            (name, value)
            for name in request.POST
            if name not in ("csrfmiddlewaretoken", "confirm")
            for value in request.POST.getlist(name)
        ]
        return render(
            request,
            "console/printing/_reprint_confirm.html",
            {
                "question": reprint_question(err),
                "numbers": err.detail.get("waybill_nos", []),
                "fields": fields,
                "action": request.get_full_path(),
            },
        )
    return confirmation(
        request,
        title=_("Confirm reprint"),
        question=reprint_question(err),
        confirm_label=_("Reprint"),
        back=back,
        notes=err.detail.get("waybill_nos", []),
    )


@shop_required
@require_POST
def print_batch(request: HttpRequest) -> HttpResponse:
    """Print the ticked orders' waybills (at most 50): as a print job on the chosen
    printer (then its page), or as one PDF for the browser's print dialog. Labels printed
    before are reprinted only once confirmed: without ``confirm=1`` the answer is the
    confirmation page listing them."""
    actor = request.actor
    back = order_list_url(request)
    ask = not confirmed(request)
    try:
        order_ids = selected_order_ids(request)
        if not order_ids:
            raise ValidationError(_("Select the orders to print."))
        if len(order_ids) > print_jobs.JOB_LIMIT:
            raise PrintTooMany(limit=print_jobs.JOB_LIMIT, detail={"count": len(order_ids)})
        waybills = selectors.waybills_to_print(actor=actor, order_ids=order_ids)
        if not waybills:
            raise ValidationError(_("None of the selected orders has a waybill number yet."))
        target = request.POST.get("print_target", "")
        if target == "pdf":
            body = services.labels_pdf(actor=actor, waybills=waybills, ask_before_reprint=ask)
            stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
            response = HttpResponse(body, content_type="application/pdf")
            response["Content-Disposition"] = f'attachment; filename="labels-{stamp}.pdf"'
            return response
        printer = selectors.printer_get(actor=actor, printer_id=_int_or_none(target) or 0)
        job = print_jobs.print_job_create(
            actor=actor,
            printer=printer,
            waybill_ids=[w.pk for w in waybills],
            ask_before_reprint=ask,
        )
    except ReprintNotConfirmed as err:
        return reprint_confirmation(request, err, back)
    except AppError as err:
        if request.htmx:  # the batch progress's PDF button (static/js/print.js)
            return page_error(request, err)
        messages.error(request, _error_text(err))
        return redirect(back)
    skipped = len(order_ids) - len(waybills)
    if skipped:
        messages.error(
            request,
            _("%(count)s selected orders have no waybill number and were not printed.")
            % {"count": skipped},
        )
    messages.success(
        request,
        _("Print job #%(job)s: %(count)s labels to %(printer)s.")
        % {"job": job.pk, "count": len(waybills), "printer": printer.name},
    )
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("console:print_job_detail", args=[job.pk])
        return response
    return redirect("console:print_job_detail", job_id=job.pk)


urlpatterns = [
    path("printers/", printer_list, name="printer_list"),
    path("printers/new/", printer_create, name="printer_create"),
    path("printers/<int:printer_id>/edit/", printer_edit, name="printer_edit"),
    path("printers/<int:printer_id>/delete/", printer_delete, name="printer_delete"),
    path("printers/<int:printer_id>/default/", printer_default, name="printer_default"),
    path("printers/<int:printer_id>/test/", printer_test, name="printer_test"),
    path("printers/agents/", agent_list, name="print_agent_list"),
    path("printers/agents/new/", agent_create, name="print_agent_create"),
    path("printers/agents/<int:agent_id>/revoke/", agent_revoke, name="print_agent_revoke"),
    path("print-jobs/", print_job_list, name="print_job_list"),
    path("print-jobs/batch/", print_batch, name="print_batch"),
    path("print-jobs/batch/controls/", print_batch_controls, name="print_batch_controls"),
    path("print-jobs/<int:job_id>/", print_job_detail, name="print_job_detail"),
    path("print-jobs/<int:job_id>/retry/", print_job_retry, name="print_job_retry"),
]
