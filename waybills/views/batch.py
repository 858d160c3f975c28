"""Batch allocation (批量取号) and batch shipping (批量发货) from the order list.

The order list belongs to ``shops``, which must not import this app: its form posts the
selection here (the ticked ``ids``, or ``all_matching=1`` with the list's filters), loads
:func:`waybill_batch_controls` with htmx, and shows :func:`waybill_batch_progress`.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from carriers.selectors import subscription_list
from shops import selectors as shop_selectors
from shops.services.order_shipping import BATCH_SHIP_LIMIT
from shops.views import shop_required
from waybill_console.confirm import confirmation, confirmed, ship_confirmation
from waybill_console.errors import AppError, NotFound
from waybill_console.jobs import job_get
from waybills import selectors, services
from waybills.services.allocation import BATCH_LIMIT, USABLE
from waybills.services.shipping import waybill_ship_batch_refuse_if_too_large
from waybills.views import common


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
    ids = [i for i in (common.int_or_none(v) for v in request.POST.getlist("ids")) if i]
    return ids, len(ids)


@shop_required
@require_POST
def waybill_batch_ship(request: HttpRequest) -> HttpResponse:
    """批量发货 of the ticked orders, or of all N orders matching the filters ("select all",
    across pages), with their own platform numbers, choosing a return address; one message
    per refused order. More than 500 selected: refused before anything is shipped. It cannot
    be undone: without ``confirm=1`` the answer is the confirmation page (确认发货 N 个订单？,
    listing the blocked orders it will refuse), not the shipping."""
    try:
        ids, selected = _selected_orders(request, limit=BATCH_SHIP_LIMIT)
    except AppError as err:
        messages.error(request, common.error_text(err))
        return redirect(_order_list_url(request))
    if not ids:
        messages.error(request, _("Select the orders to ship."))
        return redirect(_order_list_url(request))
    if not confirmed(request):  # irreversible: the count is confirmed first
        try:
            waybill_ship_batch_refuse_if_too_large(selected)
        except AppError as err:
            messages.error(request, common.error_text(err))
            return redirect(_order_list_url(request))
        return ship_confirmation(
            request,
            count=selected,
            back=_order_list_url(request),
            notes=[
                _("%(subject)s: %(message)s")
                % {"subject": order.order_no, "message": blocked.render_message()}
                for order, blocked in shop_selectors.order_blocks(
                    actor=request.actor, order_ids=ids
                )
            ],
        )
    try:
        results = services.waybill_ship_batch(
            actor=request.actor,
            shipments=[{"order": i} for i in ids],
            return_address_id=common.int_or_none(request.POST.get("return_address")),
            selected=selected,
        )
    except AppError as err:
        messages.error(request, common.error_text(err))
        return redirect(_order_list_url(request))
    shipped = [r for r in results if r["ok"]]
    if shipped:
        messages.success(
            request, _("%(n)s order(s) shipped with their waybill numbers.") % {"n": len(shipped)}
        )
    numbers = shop_selectors.order_numbers(
        actor=request.actor, ids=[r["order"] for r in results if not r["ok"]]
    )
    for r in results:
        if not r["ok"]:
            messages.error(
                request,
                _("%(subject)s: %(message)s")
                % {
                    "subject": numbers.get(r["order"], r["order"]),
                    "message": r["error"]["message"],
                },
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
        messages.error(request, common.error_text(err))
        return redirect(_order_list_url(request))
    if not ids:
        messages.error(request, _("Select the orders to allocate waybill numbers for."))
        return redirect(_order_list_url(request))
    numbered = selectors.factory_numbers_for_orders(actor=actor, order_ids=ids)
    if numbered and not confirmed(request):  # one more parcel for those: asked first
        names = shop_selectors.order_numbers(actor=actor, ids=numbered)
        return confirmation(
            request,
            title=_("Batch allocate"),
            question=ngettext(
                "%(n)s of the selected orders was already shipped in part by a factory with "
                "its own waybill numbers. Allocate numbers of your own for all %(count)s "
                "orders anyway?",
                "%(n)s of the selected orders were already shipped in part by a factory with "
                "their own waybill numbers. Allocate numbers of your own for all %(count)s "
                "orders anyway?",
                len(numbered),
            )
            % {"n": len(numbered), "count": len(ids)},
            confirm_label=_("Allocate anyway"),
            back=_order_list_url(request),
            notes=[
                _("%(subject)s: %(message)s")
                % {"subject": names.get(order_id, order_id), "message": "、".join(numbers)}
                for order_id, numbers in numbered.items()
            ],
        )
    try:
        job = services.waybill_batch_start(
            actor=actor,
            order_ids=ids,
            subscription=common.int_or_none(request.POST.get("subscription")),
        )
    except AppError as err:
        messages.error(request, common.error_text(err))
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
        order_nos = shop_selectors.order_numbers(
            actor=request.actor, ids=[r["order"] for r in results]
        )
        for r in results:
            r["order_no"] = order_nos.get(r["order"], r["order"])
    return render(
        request,
        "console/waybills/_batch_progress.html",
        {"job": job, "ok": ok, "failed": failed, "results": results},
    )
