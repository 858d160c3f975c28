"""The factory portal (厂家工作台, ``/factory/``): overview, merchants and bindings, the
dropship orders it was handed (print, return a number, ship), settlement prices and
statements.

A factory never sees a merchant's real shop number, order number or consumer data: order
rows are :func:`dropship.selectors.factory_view` values only, and a merchant is named on
these pages by its dropship name, its masked shop number and a *reference* (the id of its
binding with this factory), which the views turn back into the shop number the services
take. Doors only: parse the form, call one service or selector, render.
"""

from __future__ import annotations

from dataclasses import replace

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from carriers.selectors import carrier_list, carrier_name, subscription_list
from dropship import selectors, services
from dropship.forms import (
    PAGE_SIZE,
    date_range_default,
    error_text,
    factory_page,
    ids,
    int_or_none,
    next_url,
    ship_results_message,
    statement_download_response,
    statement_rows,
)
from dropship.models import BindingStatus
from dropship.services.factory import factory_order_get_for_factory
from printing import selectors as print_selectors
from waybill_console.confirm import confirmed, ship_confirmation
from waybill_console.crypto import mask_code
from waybill_console.errors import AppError, NotFound, ValidationError
from waybills.services.allocation import USABLE

FILTER_KEYS = ("merchant", "status", "returned", "after_sale", "shipped")


def _merchants(actor) -> list[dict]:
    """The merchants this factory is or was bound to, newest binding first, each once:
    ``ref`` (binding id, what the pages post), ``label`` (dropship name and masked shop
    number) and ``shop_no`` (server side only, never rendered)."""
    seen: dict[int, dict] = {}
    for b in selectors.binding_list(actor=actor).filter(confirmed_at__isnull=False):
        if b.merchant_id in seen:
            continue
        profile = getattr(b.merchant, "dropship_profile", None)
        name = (profile.display_name if profile else "") or ""
        seen[b.merchant_id] = {
            "ref": b.pk,
            "merchant_id": b.merchant_id,
            "shop_no": b.merchant.shop_no,
            "label": f"{name} ({mask_code(b.merchant.shop_no)})".strip(),
            "active": b.status == BindingStatus.ACTIVE,
        }
    return list(seen.values())


def _merchant_pk(merchants: list[dict], ref) -> int | None:
    """The merchant behind a posted reference (None for none, NotFound for a stranger)."""
    ref = int_or_none(ref)
    if ref is None:
        return None
    for m in merchants:
        if m["ref"] == ref:
            return m["merchant_id"]
    raise NotFound()


def _merchant_shop_no(merchants: list[dict], ref) -> str:
    """The shop number behind a posted reference ('' for none, NotFound for a stranger)."""
    ref = int_or_none(ref)
    if ref is None:
        return ""
    for m in merchants:
        if m["ref"] == ref:
            return m["shop_no"]
    raise NotFound()


# --- overview ---------------------------------------------------------------------------------


@factory_page
def home(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    bindings = list(selectors.binding_list(actor=actor))
    orders = selectors.factory_order_list(actor=actor)
    live = orders.filter(status="allocated", shipped_at__isnull=True)
    sheet = services.price_sheet(actor=actor)
    context = {
        "pending_count": sum(1 for b in bindings if b.status == BindingStatus.PENDING),
        "merchant_count": sum(1 for b in bindings if b.status == BindingStatus.ACTIVE),
        "to_print_count": live.filter(returned_at__isnull=True).count(),
        "returned_count": live.filter(returned_at__isnull=False).count(),
        "after_sale_count": live.filter(order__after_sale_status="in_progress").count(),
        "missing_price_count": sum(1 for row in sheet if row["price"] is None),
    }
    return render(request, "factory/dropship/home.html", context)


# --- merchants and bindings -------------------------------------------------------------------


@factory_page
def binding_list(request: HttpRequest) -> HttpResponse:
    rows = []
    for b in selectors.binding_list(actor=request.actor):
        profile = getattr(b.merchant, "dropship_profile", None)
        b.merchant_name = (profile.display_name if profile else "") or ""
        b.merchant_masked = mask_code(b.merchant.shop_no)
        rows.append(b)
    return render(
        request,
        "factory/dropship/bindings.html",
        {
            "pending": [b for b in rows if b.status == BindingStatus.PENDING],
            "active": [b for b in rows if b.status == BindingStatus.ACTIVE],
            "ended": [b for b in rows if b.status not in (BindingStatus.PENDING, "active")],
        },
    )


BINDING_ACTIONS = {
    "confirm": (services.binding_confirm, gettext_lazy("Binding confirmed.")),
    "reject": (services.binding_reject, gettext_lazy("Binding request rejected.")),
    "unbind": (services.binding_unbind, gettext_lazy("Unbound.")),
}


@factory_page
@require_POST
def binding_action(request: HttpRequest, binding_id: int, action: str) -> HttpResponse:
    if action not in BINDING_ACTIONS:
        raise NotFound()
    service, done = BINDING_ACTIONS[action]
    try:
        service(actor=request.actor, binding_id=binding_id)
    except AppError as err:
        if err.status == 404:
            raise
        messages.error(request, error_text(err))
        return redirect("factory:bindings")
    messages.success(request, str(done))
    return redirect("factory:bindings")


# --- dropship orders ----------------------------------------------------------------------------


def _order_list_url(request: HttpRequest) -> str:
    return next_url(request, reverse("factory:orders"))


@factory_page
def order_list(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    merchants = _merchants(actor)
    values = {k: request.GET.get(k, "") for k in FILTER_KEYS}
    error = None
    try:
        filters = replace(
            selectors.FactoryFilters.from_params(dict(values, merchant="")),
            merchant_id=_merchant_pk(merchants, values["merchant"]),
        )
    except AppError as err:
        filters, error = selectors.FactoryFilters(), err.as_dict()
    qs = selectors.factory_order_list(actor=actor, filters=filters).order_by("-allocated_at", "-id")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    fos = list(page.object_list)
    prices = selectors.prices_for(fos)
    rows = [selectors.factory_view(fo, prices) for fo in fos]
    subs = [s for s in subscription_list(actor=actor) if s.status in USABLE]
    context = {
        "page": page,
        "rows": rows,
        "values": values,
        "merchants": merchants,
        "error": error,
        "subscriptions": subs,
        "printers": print_selectors.printer_list(actor=actor),
        "carriers": carrier_list(),
    }
    return render(request, "factory/dropship/orders.html", context)


@factory_page
@require_POST
def order_print(request: HttpRequest) -> HttpResponse:
    """打印 the ticked orders with one of the factory's own services: one PDF for the
    browser, or a print job on one of its printers. The numbers go back to the merchants."""
    back = _order_list_url(request)
    target = request.POST.get("print_target", "pdf")
    try:
        chosen = ids(request, "orders")
        if not chosen:
            raise ValidationError(_("Select the orders to print."))
        printer_id = None if target == "pdf" else int_or_none(target)
        if target != "pdf" and printer_id is None:
            raise ValidationError.for_fields(print_target=_("A printer or PDF."))
        result, orders = services.factory_order_print(
            actor=request.actor,
            factory_order_ids=chosen,
            fmt="pdf" if printer_id is None else "printer",
            printer_id=printer_id,
            subscription=int_or_none(request.POST.get("subscription")),
        )
    except AppError as err:
        messages.error(request, error_text(err))
        return redirect(back)
    if printer_id is None:
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
        response = HttpResponse(result, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="dropship-labels-{stamp}.pdf"'
        return response
    messages.success(
        request,
        _("Print job #%(job)s: %(count)s labels; the numbers were returned to the merchants.")
        % {"job": result.pk, "count": len(orders)},
    )
    return redirect("console:print_job_detail", job_id=result.pk)


@factory_page
@require_POST
def order_return(request: HttpRequest, factory_order_id: int) -> HttpResponse:
    """回传运单号: the number drawn for the order, or one from the factory's own system."""
    back = _order_list_url(request)
    try:
        fo = services.factory_order_return(
            actor=request.actor,
            factory_order_id=factory_order_id,
            carrier=request.POST.get("carrier", ""),
            tracking_no=request.POST.get("tracking_no", ""),
        )
    except AppError as err:
        if err.status == 404:
            raise
        messages.error(request, error_text(err))
        return redirect(back)
    messages.success(
        request,
        _("Tracking number %(carrier)s %(tracking_no)s returned to the merchant.")
        % {"carrier": carrier_name(fo.carrier_code), "tracking_no": fo.tracking_no},
    )
    return redirect(back)


@factory_page
@require_POST
def order_ship(request: HttpRequest, factory_order_id: int) -> HttpResponse:
    """发货 of one order (confirmed first, like the batch: it cannot be undone)."""
    back = _order_list_url(request)
    if not confirmed(request):
        factory_order_get_for_factory(actor=request.actor, factory_order_id=factory_order_id)
        return ship_confirmation(request, count=1, back=back)
    try:
        fo = services.factory_order_ship(actor=request.actor, factory_order_id=factory_order_id)
    except AppError as err:
        if err.status == 404:
            raise
        messages.error(request, error_text(err))
        return redirect(back)
    messages.success(request, _("Shipped with %(tracking_no)s.") % {"tracking_no": fo.tracking_no})
    return redirect(back)


@factory_page
@require_POST
def order_ship_batch(request: HttpRequest) -> HttpResponse:
    back = _order_list_url(request)
    try:
        chosen = ids(request, "orders")
        if not chosen:
            raise ValidationError(_("Select the orders to ship."))
        if not confirmed(request):  # irreversible: the count is confirmed first
            return ship_confirmation(request, count=len(chosen), back=back)
        results = services.factory_order_ship_batch(actor=request.actor, factory_order_ids=chosen)
    except AppError as err:
        messages.error(request, error_text(err))
        return redirect(back)
    ship_results_message(request, results)
    return redirect(back)


# --- settlement prices ----------------------------------------------------------------------------


@factory_page
def price_list(request: HttpRequest) -> HttpResponse:
    """结算价格: every product merchants handed over, missing prices first; editable."""
    actor = request.actor
    merchants = _merchants(actor)
    refs = {m["merchant_id"]: m for m in merchants}
    error, status = None, 200
    if request.method == "POST":
        try:
            changes = _price_changes(request, merchants)
            if not changes:
                raise ValidationError(_("Nothing changed."))
            services.prices_set(actor=actor, prices=changes)
        except AppError as err:
            error, status = err.as_dict(), err.status
        else:
            messages.success(
                request, _("%(count)s settlement prices saved.") % {"count": len(changes)}
            )
            return redirect("factory:prices")
    rows = []
    for i, row in enumerate(services.price_sheet(actor=actor)):
        merchant = refs.get(row["merchant_id"])
        rows.append(
            {
                "index": i,
                "ref": merchant["ref"] if merchant else "",
                "merchant": merchant["label"] if merchant else row["merchant"],
                "sku": row["sku"],
                "product_name": row["product_name"],
                "price": "" if row["price"] is None else f"{row['price']:.2f}",
                "missing": row["price"] is None,
            }
        )
    return render(
        request,
        "factory/dropship/prices.html",
        {
            "rows": rows,
            "merchants": merchants,
            "error": error,
            "missing_count": sum(1 for r in rows if r["missing"]),
        },
        status=status,
    )


def _price_changes(request: HttpRequest, merchants: list[dict]) -> list[dict]:
    """The rows whose price differs from what the sheet showed, plus a new row if filled."""
    post = request.POST
    changes = []
    for i in range(int_or_none(post.get("rows")) or 0):
        price, shown = post.get(f"price-{i}", "").strip(), post.get(f"shown-{i}", "").strip()
        if price == shown:
            continue
        changes.append(
            {
                "merchant": _merchant_shop_no(merchants, post.get(f"ref-{i}")),
                "sku": post.get(f"sku-{i}", ""),
                "product_name": post.get(f"product-{i}", ""),
                "price": price or None,
            }
        )
    if post.get("new-sku", "").strip() or post.get("new-price", "").strip():
        changes.append(
            {
                "merchant": _merchant_shop_no(merchants, post.get("new-ref")),
                "sku": post.get("new-sku", ""),
                "product_name": post.get("new-product", ""),
                "price": post.get("new-price", "").strip() or None,
            }
        )
    return changes


# --- statements -----------------------------------------------------------------------------------


@factory_page
def statement_list(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    merchants = _merchants(actor)
    error, status, values = None, 200, {}
    if request.method == "POST":
        values = {
            k: request.POST.get(k, "") for k in ("merchant", "date_from", "date_to", "format")
        }
        try:
            services.statement_start(
                actor=actor,
                counterpart=_merchant_shop_no(merchants, values["merchant"]),
                date_from=values["date_from"],
                date_to=values["date_to"],
                file_format=values["format"] or "csv",
            )
        except AppError as err:
            error, status = err.as_dict(), err.status
        else:
            messages.success(request, _("Statement requested; it is being generated."))
            return redirect("factory:statements")
    if not values:
        start, end = date_range_default()
        values = {"date_from": start.isoformat(), "date_to": end.isoformat(), "format": "csv"}
    page = Paginator(selectors.statement_list(actor=actor), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    statements = statement_rows(page.object_list, actor.shop, download="factory:statement_download")
    context = {
        "page": page,
        "statements": statements,
        "merchants": merchants,
        "values": values,
        "error": error,
        "generating": any(s.state == "generating" for s in statements),
    }
    return render(request, "factory/dropship/statements.html", context, status=status)


@factory_page
def statement_download(request: HttpRequest, statement_id: int) -> HttpResponse:
    """Only a statement this factory asked for (its copy masks the merchant's ids)."""
    return statement_download_response(request, statement_id)
