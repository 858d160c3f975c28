"""Order pages: the list with filters and batch actions, detail and actions, import, export."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from carriers.models import Carrier
from shops import selectors, services
from shops.models import OrderStatus
from shops.order_history import deadline_labels, order_history
from shops.services import exports, imports
from shops.services.order_shipping import order_ship_batch_refuse_if_too_large
from shops.services.order_states import AT_RISK_WINDOW, order_block
from shops.views import shop_required
from waybill_console.confirm import confirmed, ship_confirmation
from waybill_console.errors import AppError, NotFound, ValidationError, page_error
from waybill_console.jobs import job_file_size, job_get

PAGE_SIZE = 50


def _filters(request: HttpRequest):
    try:
        return selectors.OrderFilters.from_params(request.GET), None
    except AppError as err:
        return selectors.OrderFilters(), err


def _selected_ids(request: HttpRequest, filters) -> list[int]:
    """The rows ticked on the page, or every order matching the filters ("select all")."""
    if request.POST.get("all_matching") == "1":
        qs = selectors.order_list(actor=request.actor, filters=filters)
        return list(qs.values_list("pk", flat=True)[: exports.PICK_LIST_MAX_ORDERS + 1])
    ids = []
    for value in request.POST.getlist("ids"):
        try:
            ids.append(int(value))
        except ValueError:
            continue
    return ids


@shop_required
def order_list(request: HttpRequest) -> HttpResponse:
    filters, error = _filters(request)
    qs = selectors.order_list(actor=request.actor, filters=filters)
    paginator = Paginator(qs.order_by("-created_at", "-id"), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    orders = list(page.object_list)
    items = {}
    for item in selectors.order_items_for(order_ids=[o.pk for o in orders]):
        items.setdefault(item.order_id, []).append(item)
    now = timezone.now()
    printed = selectors.order_print_statuses(actor=request.actor, order_ids=[o.pk for o in orders])
    for order in orders:
        order.item_list = items.get(order.pk, [])
        order.countdown = _countdown(order.sla_due_at, now)
        status = printed.get(order.pk)
        order.print_status = selectors.PrintStatus(status) if status else None
    batch = _batch_job(request)
    context = {
        "page": page,
        "orders": orders,
        "filters": filters.as_params(),
        "error": error and error.as_dict(),
        "statuses": OrderStatus.choices,
        "carriers": Carrier.objects.order_by("code"),
        "query": urlencode({k: v for k, v in filters.as_params().items() if v}),
        "addresses": selectors.address_list(actor=request.actor),
        "print_statuses": selectors.PrintStatus.choices,
        # a batch allocation (or 取号并打印) started from this page: its progress is polled
        # from the app that runs it, and its orders stay ticked
        "batch_job": batch.pk if batch else None,
        "batch_kind": batch.kind if batch else "",
        "ticked": set(batch.params.get("orders", [])) if batch else set(),
    }
    return render(request, "console/shops/order_list.html", context)


def _batch_job(request: HttpRequest):
    """The batch job named by ``?batch_job=`` if it is one of the shop's that the actor may
    see (anything else is ignored: the list shows no progress)."""
    job_id = _positive_int(request.GET.get("batch_job"))
    if job_id is None:
        return None
    try:
        return job_get(actor=request.actor, job_id=job_id)
    except NotFound:
        return None


def _positive_int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _countdown(due, now) -> dict | None:
    if due is None:
        return None
    seconds = int((due - now).total_seconds())
    hours, rest = divmod(abs(seconds), 3600)
    return {
        "due": due,
        "overdue": seconds < 0,
        "hours": hours,
        "minutes": rest // 60,
        "at_risk": seconds < AT_RISK_WINDOW.total_seconds(),
    }


@shop_required
@require_POST
def order_batch(request: HttpRequest) -> HttpResponse:
    """Batch actions on the selection: pick list PDF, export, ship by hand (irreversible:
    without ``confirm=1`` the answer is the confirmation page with the count)."""
    filters = selectors.OrderFilters.from_params(request.POST)
    action = request.POST.get("action")
    back = (
        reverse("console:order_list")
        + "?"
        + urlencode({k: v for k, v in filters.as_params().items() if v})
    )
    if action == "export":
        # rows ticked: exactly those; "select all matching" or nothing ticked: the filters
        ticked = [] if request.POST.get("all_matching") == "1" else _selected_ids(request, filters)
        job = exports.order_export_start(
            actor=request.actor,
            params=filters.as_params(),
            file_format=request.POST.get("format", "csv"),
            order_ids=ticked or None,
        )
        return redirect("console:job_detail", job_id=job.pk)
    ids = _selected_ids(request, filters)
    if action == "pick_list":
        pdf = exports.pick_list_pdf(actor=request.actor, order_ids=ids)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = (
            f'inline; filename="picklist-{timezone.localtime():%Y%m%d-%H%M}.pdf"'
        )
        return response
    if action == "ship":
        lines = [ln.split() for ln in request.POST.get("shipments", "").splitlines() if ln.strip()]
        by_no = dict(
            selectors.order_list(actor=request.actor)
            .filter(order_no__in=[ln[0] for ln in lines])
            .values_list("order_no", "pk")
        )
        shipments, unknown = [], []
        for ln in lines:
            if len(ln) != 3 or ln[0] not in by_no:
                unknown.append(" ".join(ln))
                continue
            shipments.append({"order": by_no[ln[0]], "carrier": ln[1], "tracking_no": ln[2]})
        if unknown:
            raise ValidationError.for_fields(
                shipments=[
                    _("Not an order of this shop, or not 'order-no carrier tracking-no': %s") % u
                    for u in unknown
                ]
            )
        if not confirmed(request):  # irreversible: the count is confirmed first
            order_ship_batch_refuse_if_too_large(len(shipments))
            blocked = selectors.order_blocks(
                actor=request.actor, order_ids=[s["order"] for s in shipments]
            )
            return ship_confirmation(
                request,
                count=len(shipments),
                back=back,
                notes=[
                    _("%(subject)s: %(message)s")
                    % {"subject": o.order_no, "message": err.render_message()}
                    for o, err in blocked
                ],
            )
        address = request.POST.get("return_address") or None
        results = services.order_ship_batch_by_hand(
            actor=request.actor,
            shipments=shipments,
            return_address_id=int(address) if address else None,
        )
        ok = sum(1 for r in results if r["ok"])
        failed = [r for r in results if not r["ok"]]
        messages.success(
            request, _("%(ok)s shipped, %(failed)s refused.") % {"ok": ok, "failed": len(failed)}
        )
        order_nos = {pk: no for no, pk in by_no.items()}
        for r in failed:
            messages.error(
                request,
                _("%(subject)s: %(message)s")
                % {"subject": order_nos.get(r["order"], ""), "message": r["error"]["message"]},
            )
        return redirect(back)
    raise ValidationError.for_fields(action=_("Pick list, export or ship."))


def _render_detail(request: HttpRequest, order, *, status: int = 200, **extra) -> HttpResponse:
    return render(
        request,
        "console/shops/order_detail.html",
        {
            "order": order,
            "history": order_history(actor=request.actor, order=order),
            "missed_deadlines": deadline_labels(order.sla_breaches),
            "countdown": _countdown(order.sla_due_at, timezone.now()),
            "carriers": Carrier.objects.order_by("code"),
            "addresses": selectors.address_list(actor=request.actor),
            # after-sale or a cancellation under review: no ship form, the reason instead
            "blocked": order_block(order),
            **extra,
        },
        status=status,
    )


@shop_required
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    order = selectors.order_get(actor=request.actor, order_id=order_id)
    return _render_detail(request, order)


#: the re-route form's fields: the receiver's (as in ``clean_receiver``) and the postcode
REROUTE_RECEIVER_FIELDS = ("name", "phone", "province", "city", "district", "detail")


def _reroute(request: HttpRequest, order):
    return services.order_reroute(
        actor=request.actor,
        order=order,
        receiver={f: request.POST.get(f, "") for f in REROUTE_RECEIVER_FIELDS},
        postcode=request.POST.get("postcode", ""),
    )


def _reroute_refused(request: HttpRequest, order, err: AppError) -> HttpResponse:
    """The detail page again, the re-route form keeping what was typed, each field's problem
    next to it (``receiver.phone`` → the phone field) and any other refusal above the form."""
    field_errors: dict[str, list[str]] = {}
    if isinstance(err, ValidationError):
        for field, problems in (err.detail or {}).items():
            name = field.removeprefix("receiver.")
            if not isinstance(problems, list | tuple):
                problems = [problems]
            field_errors[name] = [_(str(p)) for p in problems]
    values = {f: request.POST.get(f, "") for f in (*REROUTE_RECEIVER_FIELDS, "postcode")}
    return _render_detail(
        request,
        order,
        status=err.status,
        reroute={
            "values": values,
            "errors": field_errors,
            "error": None if field_errors else err.render_message(),
        },
    )


@shop_required
@require_POST
def order_reveal(request: HttpRequest, order_id: int) -> HttpResponse:
    """htmx: the audited "show consumer information" action."""
    order = selectors.order_get(actor=request.actor, order_id=order_id)
    receiver = services.order_reveal_receiver(actor=request.actor, order=order)
    return render(request, "console/shops/_receiver_full.html", {"receiver": receiver})


ACTIONS = {
    "ship": lambda r, o: services.order_ship_by_hand(
        actor=r.actor,
        order=o,
        carrier_code=r.POST.get("carrier", ""),
        tracking_no=r.POST.get("tracking_no", ""),
        return_address_id=int(r.POST["return_address"]) if r.POST.get("return_address") else None,
    ),
    "ready": lambda r, o: services.order_mark_ready(actor=r.actor, order=o),
    "cancel": lambda r, o: services.order_cancel_by_seller(
        actor=r.actor, order=o, reason=r.POST.get("reason", "")
    ),
    "approve_cancel": lambda r, o: services.order_answer_cancel(
        actor=r.actor, order=o, approve=True
    ),
    "reject_cancel": lambda r, o: services.order_answer_cancel(
        actor=r.actor, order=o, approve=False
    ),
    "after_sale": lambda r, o: services.order_start_after_sale(actor=r.actor, order=o),
    "close_after_sale": lambda r, o: services.order_close_after_sale(actor=r.actor, order=o),
    "pay": lambda r, o: services.order_pay(actor=r.actor, order=o),
    "reroute": _reroute,
}


@shop_required
@require_POST
def order_action(request: HttpRequest, order_id: int, action: str) -> HttpResponse:
    order = selectors.order_get(actor=request.actor, order_id=order_id)
    if action not in ACTIONS:
        raise ValidationError.for_fields(action=_("Unknown action."))
    try:
        ACTIONS[action](request, order)
    except AppError as err:
        if action == "reroute" and not request.htmx:
            return _reroute_refused(request, order, err)
        if request.htmx:
            return page_error(request, err)
        messages.error(request, err.render_message())
        return redirect("console:order_detail", order_id=order.pk)
    messages.success(request, _("Done."))
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("console:order_detail", args=[order.pk])
        return response
    return redirect("console:order_detail", order_id=order.pk)


@shop_required
def order_import(request: HttpRequest) -> HttpResponse:
    context = {"max_lines": imports.MAX_LINES, "max_mb": imports.MAX_BYTES // (1024 * 1024)}
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise ValidationError.for_fields(file=_("Choose a file."))
            started = imports.order_import_start(
                actor=request.actor, file_name=upload.name, upload=upload
            )
        except AppError as err:
            context["error"] = err.as_dict()
            context["lines"] = err.detail.get("lines", [])
            return render(request, "console/shops/order_import.html", context, status=err.status)
        if started.job is not None:  # a large file: imported by a job, with progress
            return redirect("console:job_detail", job_id=started.job.pk)
        messages.success(
            request, _("Imported %(orders)s orders (%(items)s items).") % started.result
        )
        return redirect("console:order_list")
    return render(request, "console/shops/order_import.html", context)


@shop_required
def order_import_template(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(imports.template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="order-import-template.csv"'
    return response


@shop_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = job_get(actor=request.actor, job_id=job_id)
    template = "console/jobs/_progress.html" if request.htmx else "console/jobs/job.html"
    return render(request, template, {"job": job})


@shop_required
def job_download(request: HttpRequest, job_id: int) -> HttpResponse:
    job = job_get(actor=request.actor, job_id=job_id)
    if not job.file_path:
        return page_error(request, ValidationError(_("The file is not ready yet.")))
    if job_file_size(job) is None:  # removed from the media folder since
        return page_error(request, NotFound(_("The file is no longer kept: export again.")))
    return FileResponse(open(job.file_path, "rb"), as_attachment=True, filename=job.file_name)
