"""Usage details (使用详情): the shop's numbers with filters, the 7-day chart of its busiest
services, cancelling a number (also posted from the order detail page, with ``next``) and
reconciliation statements (对账单) of the filters shown."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from carriers.selectors import cancellable_now, carrier_list, subscription_list
from shops.views import shop_required
from waybill_console.errors import AppError, ValidationError
from waybills import selectors, services
from waybills.models import WaybillStatus
from waybills.services.allocation import USABLE
from waybills.services.changes import (
    waybill_cancel_group,
    waybill_cancel_groups,
    waybill_cancellable,
)
from waybills.views import common

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
    "printed",
)

#: the three series of the usage chart, with their bar colours
SERIES = (
    ("allocated", "#1d5fd1"),
    ("cancelled", "#e4393c"),
    ("recycled", "#1a7f37"),
)
BAR_W, BAR_GAP, GROUP_W, PLOT_H, TOP, LEFT = 14, 2, 60, 120, 16, 10


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
        error, field_errors = err, common.field_errors(err)
    if filters and filters.subscription and filters.subscription not in {s.pk for s in subs}:
        error = ValidationError.for_fields(subscription=_("Not one of this shop's services."))
        field_errors = common.field_errors(error)
        filters = None
    page = None
    if filters is not None:
        qs = selectors.waybill_list(actor=actor, filters=filters)
        page = Paginator(qs, common.PAGE_SIZE).get_page(request.GET.get("page"))
        rows = list(page.object_list)
        # a factory's number for an ended dropship order is listed (its account was
        # charged) but no longer acted on: no cancel button
        actionable = set(
            selectors.waybill_actionable(actor=actor)
            .filter(pk__in=[w.pk for w in rows])
            .values_list("pk", flat=True)
        )
        groups = waybill_cancel_groups(rows)  # SF 子母件: cancelled whole or not at all
        for w in rows:
            w.cancellable = w.pk in actionable and waybill_cancellable(w)
            w.cancel_numbers = groups.get(w.pk, [])
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
    """取消面单 (``whole_order=1``: every number of an SF 子母件 together). Another shop's
    number is the same 404 as a missing one."""
    waybill = selectors.waybill_get(actor=request.actor, waybill_no=waybill_no)
    back = common.next_url(request, reverse("console:waybill_usage"))
    whole_order = request.POST.get("whole_order") == "1"
    numbers = [w.waybill_no for w in waybill_cancel_group(waybill)] if whole_order else []
    try:
        services.waybill_cancel(actor=request.actor, waybill=waybill, whole_order=whole_order)
    except AppError as err:
        return common.refused(request, err, back)
    if len(numbers) > 1:
        text = _("All %(count)s waybills of the order cancelled: %(waybill_nos)s.") % {
            "count": len(numbers),
            "waybill_nos": ", ".join(numbers),
        }
    else:
        text = _("Waybill %(waybill_no)s cancelled.") % {"waybill_no": waybill.waybill_no}
    messages.success(request, text)
    return common.done(request, back)


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
        messages.error(request, common.error_text(err))
        return redirect(reverse("console:waybill_usage") + "?" + urlencode(params))
    return redirect("console:job_detail", job_id=job.pk)
