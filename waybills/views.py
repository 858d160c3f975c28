"""Pages: usage details (使用详情) with the 7-day chart and reconciliation statements,
allocation exceptions (面单异常), batch allocation from the order list, and the waybill
block of the order detail page.

The order pages belong to ``shops``, which must not import this app: the order list posts
its selection here and shows the batch progress from :func:`waybill_batch_progress`; the
order detail page loads :func:`order_waybills` with htmx.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from carriers.selectors import cancellable_now, carrier_list, subscription_list
from shops import selectors as shop_selectors
from shops.services.order_shipping import BATCH_SHIP_LIMIT
from shops.views import shop_required
from waybill_console.errors import AppError, NotFound, ValidationError, page_error
from waybill_console.jobs import job_get
from waybills import selectors, services
from waybills.models import LIVE_STATUSES, WaybillStatus
from waybills.services.allocation import ALLOCATABLE, BATCH_LIMIT, USABLE
from waybills.services.changes import waybill_cancellable

PAGE_SIZE = 50
CHART_DAYS = 7
CHART_SUBSCRIPTIONS = 3
FILTER_KEYS = (
    "from",
    "to",
    "days",
    "carrier",
    "branch",
    "subscription",
    "status",
    "order",
    "waybill_no",
)

#: the three series of the usage chart, with their bar colours
SERIES = (
    ("allocated", "#1d5fd1"),
    ("cancelled", "#e4393c"),
    ("recycled", "#1a7f37"),
)
BAR_W, BAR_GAP, GROUP_W, PLOT_H, TOP, LEFT = 14, 2, 60, 120, 16, 10


def _next(request: HttpRequest, default: str) -> str:
    """Where to go back to after a POST: the page's own ``next``, if it is ours."""
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _done(request: HttpRequest, back: str) -> HttpResponse:
    """After a successful action: htmx follows ``HX-Redirect``, a plain form a redirect."""
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = back
        return response
    return redirect(back)


def _refused(request: HttpRequest, err: AppError, back: str) -> HttpResponse:
    """A refusal: in place for htmx (next to the button), as a page message otherwise."""
    if request.htmx:
        return page_error(request, err)
    messages.error(request, _error_text(err))
    return redirect(back)


def _error_text(err: AppError) -> str:
    """The message, followed by the fields it names (a ValidationError's detail)."""
    text = err.render_message()
    parts = []
    for field, problems in (err.detail or {}).items():
        if isinstance(problems, list | tuple):
            problems = "; ".join(_(str(p)) for p in problems)
        parts.append(f"{field}: {_(str(problems))}")
    return f"{text} ({', '.join(parts)})" if parts and isinstance(err, ValidationError) else text


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- usage details (使用详情) ---------------------------------------------------------------


def _field_errors(err: AppError) -> dict[str, list[str]]:
    out = {}
    for field, problems in (err.detail or {}).items():
        if not isinstance(problems, list | tuple):
            problems = [problems]
        out[field] = [_(str(p)) for p in problems]
    return out


def _chart(rows: list[dict]) -> dict:
    """Bar geometry for the inline SVG: one group of three bars per day."""
    peak = max([r[key] for r in rows for key, _colour in SERIES] + [1])
    days = []
    for i, row in enumerate(rows):
        x0 = LEFT + i * GROUP_W
        bars = []
        for j, (key, colour) in enumerate(SERIES):
            value = row[key]
            height = round(value * PLOT_H / peak)
            if value and height < 2:
                height = 2
            bars.append(
                {
                    "key": key,
                    "value": value,
                    "colour": colour,
                    "x": x0 + j * (BAR_W + BAR_GAP),
                    "y": TOP + PLOT_H - height,
                    "height": height,
                    "label_x": x0 + j * (BAR_W + BAR_GAP) + BAR_W // 2,
                    "label_y": TOP + PLOT_H - height - 3,
                }
            )
        days.append(
            {
                "day": row["day"],
                "bars": bars,
                "label_x": x0 + (3 * BAR_W + 2 * BAR_GAP) // 2,
                **{key: row[key] for key, _colour in SERIES},
            }
        )
    return {
        "days": days,
        "width": 2 * LEFT + len(rows) * GROUP_W,
        "height": TOP + PLOT_H + 22,
        "baseline": TOP + PLOT_H,
        "day_label_y": TOP + PLOT_H + 15,
        "peak": peak,
    }


def _usage_cards(request: HttpRequest, subs: list, chosen: int | None) -> list:
    """The chosen subscription, or the shop's busiest usable ones, each with its chart."""
    if chosen:
        picked = [s for s in subs if s.pk == chosen]
    else:
        usable = [s for s in subs if s.status in USABLE or s.allocated_total]
        picked = sorted(usable, key=lambda s: (-s.allocated_total, s.pk))[:CHART_SUBSCRIPTIONS]
    for sub in picked:
        sub.cancellable = cancellable_now(sub)
        sub.daily = selectors.usage_daily(actor=request.actor, subscription=sub, days=CHART_DAYS)
        sub.chart = _chart(sub.daily)
        sub.week = {key: sum(r[key] for r in sub.daily) for key, _colour in SERIES}
    return picked


@shop_required
def waybill_usage(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    subs = list(subscription_list(actor=actor))
    error, field_errors, filters = None, {}, None
    try:
        filters = selectors.UsageFilters.from_params(request.GET)
    except ValidationError as err:
        error, field_errors = err, _field_errors(err)
    if filters and filters.subscription and filters.subscription not in {s.pk for s in subs}:
        error = ValidationError.for_fields(subscription="Not one of this shop's services.")
        field_errors = _field_errors(error)
        filters = None
    page = None
    if filters is not None:
        qs = selectors.waybill_list(actor=actor, filters=filters)
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        rows = list(page.object_list)
        # a factory's number for an ended dropship order is listed (its account was
        # charged) but no longer acted on: no cancel button
        actionable = set(
            selectors.waybill_actionable(actor=actor)
            .filter(pk__in=[w.pk for w in rows])
            .values_list("pk", flat=True)
        )
        for w in rows:
            w.cancellable = w.pk in actionable and waybill_cancellable(w)
        values = {k: str(v) for k, v in filters.as_params().items()}
    else:
        values = {k: request.GET.get(k, "") for k in FILTER_KEYS}
    branches = {}
    for s in subs:
        branches.setdefault(s.branch.code, s.branch)
    context = {
        "page": page,
        "values": values,
        "error": error and error.as_dict(),
        "field_errors": field_errors,
        "subscriptions": subs,
        "cards": _usage_cards(request, subs, filters.subscription if filters else None),
        "carriers": carrier_list(),
        "branches": sorted(branches.values(), key=lambda b: (b.carrier_id, b.code)),
        "statuses": WaybillStatus.choices,
        "series": SERIES,
        "chart_days": CHART_DAYS,
        "statement_params": filters.as_params() if filters else {},
    }
    return render(
        request,
        "console/waybills/usage.html",
        context,
        status=error.status if error else 200,
    )


@shop_required
@require_POST
def waybill_cancel(request: HttpRequest, waybill_no: str) -> HttpResponse:
    """取消面单. Another shop's number is the same 404 as a missing one."""
    waybill = selectors.waybill_get(actor=request.actor, waybill_no=waybill_no)
    back = _next(request, reverse("console:waybill_usage"))
    try:
        services.waybill_cancel(actor=request.actor, waybill=waybill)
    except AppError as err:
        return _refused(request, err, back)
    messages.success(
        request, _("Waybill %(waybill_no)s cancelled.") % {"waybill_no": waybill.waybill_no}
    )
    return _done(request, back)


@shop_required
@require_POST
def reconciliation_start(request: HttpRequest) -> HttpResponse:
    """生成对账单 for the usage filters shown, then follow the job's progress."""
    params = {k: request.POST[k] for k in FILTER_KEYS if request.POST.get(k)}
    try:
        job = services.reconciliation_start(
            actor=request.actor, params=params, file_format=request.POST.get("format", "csv")
        )
    except AppError as err:
        messages.error(request, _error_text(err))
        return redirect(reverse("console:waybill_usage") + "?" + urlencode(params))
    return redirect("console:job_detail", job_id=job.pk)


# --- allocation exceptions (面单异常) -------------------------------------------------------


@shop_required
def exception_list(request: HttpRequest) -> HttpResponse:
    show_all = request.GET.get("all") == "1"
    qs = selectors.exception_list(actor=request.actor, open_only=not show_all)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "console/waybills/exceptions.html",
        {"page": page, "show_all": show_all, "open_count": qs.count() if not show_all else None},
    )


@shop_required
def violation_list(request: HttpRequest) -> HttpResponse:
    """违规记录: recycled numbers that later showed tracking, by detection day and carrier."""
    error, field_errors, page = None, {}, None
    try:
        filters = selectors.UsageFilters.from_params(request.GET)
    except ValidationError as err:
        error, field_errors = err, _field_errors(err)
    else:
        qs = selectors.violation_list(actor=request.actor, filters=filters)
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "values": {k: request.GET.get(k, "") for k in ("from", "to", "carrier")},
        "error": error and error.as_dict(),
        "field_errors": field_errors,
        "carriers": carrier_list(),
    }
    return render(
        request,
        "console/waybills/violations.html",
        context,
        status=error.status if error else 200,
    )


@shop_required
@require_POST
def exception_retry(request: HttpRequest, exception_id: int) -> HttpResponse:
    row = selectors.exception_get(actor=request.actor, exception_id=exception_id)
    result = services.exception_retry(actor=request.actor, exception=row)
    if result["ok"]:
        messages.success(
            request,
            _("Order %(order_no)s got waybill number %(waybill_no)s.")
            % {"order_no": row.order.order_no, "waybill_no": result["waybill_no"]},
        )
    else:
        messages.error(request, f"{row.order.order_no}: {result['error']['message']}")
    return redirect(_next(request, reverse("console:waybill_exceptions")))


@shop_required
@require_POST
def exception_retry_all(request: HttpRequest) -> HttpResponse:
    results = services.exception_retry_all(actor=request.actor)
    if not results:
        messages.success(request, _("Nothing to retry."))
        return redirect("console:waybill_exceptions")
    ok = sum(1 for r in results if r["ok"])
    text = _("Retried %(total)s: %(ok)s got a waybill number, %(failed)s still failing.") % {
        "total": len(results),
        "ok": ok,
        "failed": len(results) - ok,
    }
    (messages.success if ok == len(results) else messages.error)(request, text)
    return redirect("console:waybill_exceptions")


# --- batch allocation from the order list (批量取号) ------------------------------------------


def _order_list_url(request: HttpRequest, **extra) -> str:
    try:
        params = shop_selectors.OrderFilters.from_params(request.POST).as_params()
    except AppError:
        params = {}
    query = {k: v for k, v in params.items() if v}
    query.update(extra)
    return reverse("console:order_list") + ("?" + urlencode(query) if query else "")


@shop_required
def waybill_batch_controls(request: HttpRequest) -> HttpResponse:
    """htmx: the subscription choice and the 批量取号 button inside the order list's form."""
    subs = [s for s in subscription_list(actor=request.actor) if s.status in USABLE]
    addresses = shop_selectors.address_list(actor=request.actor).order_by(
        "-is_default_return", "pk"
    )
    return render(
        request,
        "console/waybills/_batch_controls.html",
        {"subscriptions": subs, "addresses": addresses},
    )


def _selected_orders(request, *, limit: int) -> tuple[list[int], int]:
    """The orders a list action applies to: the ticked ``ids``, or with ``all_matching=1``
    every order of the shop matching the list's filters, across pages. Returns at most
    ``limit + 1`` ids (so the service can refuse an over-large batch) and how many were
    selected in all. Raises the filters' validation error."""
    if request.POST.get("all_matching") == "1":
        filters = shop_selectors.OrderFilters.from_params(request.POST)
        qs = shop_selectors.order_list(actor=request.actor, filters=filters).order_by("pk")
        ids = list(qs.values_list("pk", flat=True)[: limit + 1])
        return ids, (qs.count() if len(ids) > limit else len(ids))
    ids = [i for i in (_int_or_none(v) for v in request.POST.getlist("ids")) if i]
    return ids, len(ids)


@shop_required
@require_POST
def waybill_batch_ship(request: HttpRequest) -> HttpResponse:
    """批量发货 of the ticked orders, or of all N orders matching the filters ("select all",
    across pages), with their own platform numbers, choosing a return address; one message
    per refused order. More than 500 selected: refused before anything is shipped."""
    try:
        ids, selected = _selected_orders(request, limit=BATCH_SHIP_LIMIT)
    except AppError as err:
        messages.error(request, _error_text(err))
        return redirect(_order_list_url(request))
    if not ids:
        messages.error(request, _("Select the orders to ship."))
        return redirect(_order_list_url(request))
    try:
        results = services.waybill_ship_batch(
            actor=request.actor,
            shipments=[{"order": i} for i in ids],
            return_address_id=_int_or_none(request.POST.get("return_address")),
            selected=selected,
        )
    except AppError as err:
        messages.error(request, _error_text(err))
        return redirect(_order_list_url(request))
    shipped = [r for r in results if r["ok"]]
    if shipped:
        messages.success(
            request, _("%(n)s order(s) shipped with their waybill numbers.") % {"n": len(shipped)}
        )
    numbers = dict(
        shop_selectors.order_list(actor=request.actor)
        .filter(pk__in=[r["order"] for r in results if not r["ok"]])
        .values_list("pk", "order_no")
    )
    for r in results:
        if not r["ok"]:
            messages.error(
                request,
                f"{numbers.get(r['order'], r['order'])}: {r['error']['message']}",
            )
    return redirect(_order_list_url(request))


@shop_required
@require_POST
def waybill_batch(request: HttpRequest) -> HttpResponse:
    """Start the batch job for the ticked orders (or all matching), then show its progress
    on the order list (``?batch_job=<id>``)."""
    actor = request.actor
    try:
        ids, _selected = _selected_orders(request, limit=BATCH_LIMIT)
    except AppError as err:
        messages.error(request, _error_text(err))
        return redirect(_order_list_url(request))
    if not ids:
        messages.error(request, _("Select the orders to allocate waybill numbers for."))
        return redirect(_order_list_url(request))
    try:
        job = services.waybill_batch_start(
            actor=actor,
            order_ids=ids,
            subscription=_int_or_none(request.POST.get("subscription")),
        )
    except AppError as err:
        messages.error(request, _error_text(err))
        return redirect(_order_list_url(request))
    return redirect(_order_list_url(request, batch_job=job.pk))


@shop_required
def waybill_batch_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    """htmx: the batch's progress bar, polled until it ends, then its results."""
    job = job_get(actor=request.actor, job_id=job_id)
    if job.kind != "waybill_batch":
        raise NotFound()
    results = (job.result or {}).get("results", [])
    ok = [r for r in results if r.get("ok")]
    failed = [r for r in results if not r.get("ok")]
    order_nos = {}
    if job.is_finished:
        order_nos = dict(
            shop_selectors.order_list(actor=request.actor)
            .filter(pk__in=[r["order"] for r in results])
            .values_list("pk", "order_no")
        )
        for r in results:
            r["order_no"] = order_nos.get(r["order"], r["order"])
    return render(
        request,
        "console/waybills/_batch_progress.html",
        {"job": job, "ok": ok, "failed": failed, "results": results},
    )


# --- the order detail page's waybills -------------------------------------------------------


@shop_required
def order_waybills(request: HttpRequest, order_id: int) -> HttpResponse:
    """htmx: the order's numbers with cancel and ship, or a 取号 form when it has none."""
    order = shop_selectors.order_get(actor=request.actor, order_id=order_id)
    waybills = list(selectors.waybills_for_order(actor=request.actor, order_id=order.pk))
    live = [w for w in waybills if w.status in LIVE_STATUSES]
    shippable = order.status in ALLOCATABLE
    for w in waybills:
        w.cancellable = waybill_cancellable(w)
        w.shippable = shippable and w in live
    subs = []
    if shippable and not live:
        subs = [s for s in subscription_list(actor=request.actor) if s.status in USABLE]
    return render(
        request,
        "console/waybills/_order_waybills.html",
        {
            "order": order,
            "waybills": waybills,
            "subscriptions": subs,
            "addresses": shop_selectors.address_list(actor=request.actor),
            "back": reverse("console:order_detail", args=[order.pk]),
        },
    )


@shop_required
@require_POST
def order_waybill_allocate(request: HttpRequest, order_id: int) -> HttpResponse:
    """取号 for one order from its detail page."""
    order = shop_selectors.order_get(actor=request.actor, order_id=order_id)
    back = reverse("console:order_detail", args=[order.pk])
    try:
        count = _int_or_none(request.POST.get("package_count") or 1)
        if count is None:
            raise ValidationError.for_fields(package_count="A whole number from 1 to 20.")
        allocation = services.waybill_allocate(
            actor=request.actor,
            order=order,
            subscription=_int_or_none(request.POST.get("subscription")),
            package_count=count,
        )
    except AppError as err:
        return _refused(request, err, back)
    messages.success(
        request,
        _("Waybill number %(waybill_no)s allocated.")
        % {"waybill_no": allocation.parent.waybill_no},
    )
    return _done(request, back)


@shop_required
@require_POST
def order_waybill_ship(request: HttpRequest, order_id: int) -> HttpResponse:
    """Ship the order with one of its numbers (and a return address)."""
    order = shop_selectors.order_get(actor=request.actor, order_id=order_id)
    back = reverse("console:order_detail", args=[order.pk])
    try:
        services.waybill_ship(
            actor=request.actor,
            order=order,
            waybill_no=request.POST.get("waybill_no", ""),
            return_address_id=_int_or_none(request.POST.get("return_address")),
        )
    except AppError as err:
        return _refused(request, err, back)
    messages.success(request, _("Shipped."))
    return _done(request, back)
