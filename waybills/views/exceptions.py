"""Allocation exceptions (面单异常) with their retries, and violations (违规记录)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from carriers.selectors import carrier_list
from shops.views import shop_required
from waybill_console.errors import ValidationError
from waybills import selectors, services
from waybills.services.receiver_edit import RECEIVER_PROBLEM_CODES
from waybills.views import common


@shop_required
def exception_list(request: HttpRequest) -> HttpResponse:
    show_all = request.GET.get("all") == "1"
    qs = selectors.exception_list(actor=request.actor, open_only=not show_all)
    page = Paginator(qs, common.PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "console/waybills/exceptions.html",
        {
            "page": page,
            "show_all": show_all,
            "open_count": qs.count() if not show_all else None,
            "receiver_codes": RECEIVER_PROBLEM_CODES,
        },
    )


@shop_required
def violation_list(request: HttpRequest) -> HttpResponse:
    """违规记录: recycled numbers that later showed tracking, by detection day and carrier."""
    error, field_errors, page = None, {}, None
    try:
        filters = selectors.UsageFilters.from_params(request.GET)
    except ValidationError as err:
        error, field_errors = err, common.field_errors(err)
    else:
        qs = selectors.violation_list(actor=request.actor, filters=filters)
        page = Paginator(qs, common.PAGE_SIZE).get_page(request.GET.get("page"))
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
        messages.error(
            request,
            _("%(subject)s: %(message)s")
            % {"subject": row.order.order_no, "message": result["error"]["message"]},
        )
    return redirect(common.next_url(request, reverse("console:waybill_exceptions")))


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
