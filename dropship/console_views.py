"""The merchant's dropship pages (代发管理) in the console: identity and sender, the bound
factories (厂家管理), the dropship order list with allocation and shipping, statements.

Doors only: each view parses the form, calls one service or selector and renders; the
rules live in :mod:`dropship.services` and :mod:`dropship.selectors`.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from dropship import selectors, services
from dropship.forms import (
    PAGE_SIZE,
    date_range_default,
    error_text,
    ids,
    int_or_none,
    merchant_page,
    next_url,
    result_error_text,
    ship_results_message,
    statement_download_response,
    statement_rows,
)
from dropship.models import Allocation, BindingStatus, DropshipProfile
from dropship.services.identity import identity_locked
from shops import selectors as shop_selectors
from shops.views import shop_required
from waybill_console.confirm import confirmed, ship_confirmation
from waybill_console.errors import AppError, ValidationError, page_error

#: the dropship list's tabs (MerchantFilters.state)
STATE_TABS = (
    ("", gettext_lazy("All")),
    ("unallocated", gettext_lazy("Unallocated")),
    ("allocated", gettext_lazy("Allocated to factory")),
    ("returned", gettext_lazy("Number returned")),
    ("shipped", gettext_lazy("Shipped")),
    ("cancelled", gettext_lazy("Allocation cancelled")),
)
PROFILE_FIELDS = (
    "identity",
    "display_name",
    "sender_name",
    "sender_phone",
    "sender_province",
    "sender_city",
    "sender_district",
    "sender_detail",
)


# --- 代发管理: identity and sender -----------------------------------------------------------


@shop_required
def dropship_home(request: HttpRequest) -> HttpResponse:
    """Both sides reach this page: a merchant keeps its dropship name and sender here, a
    shop that has not bound anyone yet may still switch identity, a factory is pointed to
    its portal."""
    actor = request.actor
    shop = actor.require_shop()
    profile = services.profile_for(shop)
    error, status = None, 200
    if request.method == "POST":
        data = {k: request.POST.get(k, "") for k in PROFILE_FIELDS if k in request.POST}
        try:
            profile = services.profile_update(actor=actor, data=data)
        except AppError as err:
            error, status = err.as_dict(), err.status
            for k, v in data.items():  # show what was typed
                setattr(profile, k, v)
        else:
            messages.success(request, _("Dropship settings saved."))
            if profile.identity == DropshipProfile.Identity.FACTORY:
                return redirect("factory:home")
            return redirect("console:dropship_home")
    context = {
        "profile": profile,
        "identities": DropshipProfile.Identity.choices,
        "locked": identity_locked(shop),
        "is_factory": profile.identity == DropshipProfile.Identity.FACTORY and profile.pk,
        "error": error,
    }
    if profile.identity == DropshipProfile.Identity.MERCHANT and profile.pk:
        bindings = list(selectors.binding_list(actor=actor))
        context["active_count"] = sum(1 for b in bindings if b.status == BindingStatus.ACTIVE)
        context["pending_count"] = sum(1 for b in bindings if b.status == BindingStatus.PENDING)
    return render(request, "console/dropship/home.html", context, status=status)


# --- 厂家管理: bindings ------------------------------------------------------------------------


@merchant_page
def binding_list(request: HttpRequest) -> HttpResponse:
    bindings = selectors.binding_list(actor=request.actor)
    return render(
        request,
        "console/dropship/bindings.html",
        {"bindings": bindings, "factory_shop_no": request.GET.get("factory_shop_no", "")},
    )


@merchant_page
@require_POST
def binding_request(request: HttpRequest) -> HttpResponse:
    """绑定厂家 by the factory's shop number; a refusal shows next to the field."""
    shop_no = request.POST.get("factory_shop_no", "")
    try:
        binding = services.binding_request(actor=request.actor, factory_shop_no=shop_no)
    except AppError as err:
        return page_error(
            request,
            err,
            template="console/dropship/bindings.html",
            context={
                "bindings": selectors.binding_list(actor=request.actor),
                "factory_shop_no": shop_no,
            },
        )
    messages.success(
        request,
        _("Binding request sent to %(factory)s; it takes effect once the factory confirms.")
        % {"factory": binding.factory.name},
    )
    return redirect("console:dropship_bindings")


@merchant_page
@require_POST
def binding_unbind(request: HttpRequest, binding_id: int) -> HttpResponse:
    try:
        binding = services.binding_unbind(actor=request.actor, binding_id=binding_id)
    except AppError as err:
        if err.status == 404:
            raise
        messages.error(request, error_text(err))
        return redirect("console:dropship_bindings")
    messages.success(request, _("Unbound from %(factory)s.") % {"factory": binding.factory.name})
    return redirect("console:dropship_bindings")


# --- 代发订单: the dropship list ---------------------------------------------------------------


def _list_url(request: HttpRequest) -> str:
    """Back to the list as it was filtered (the allocate form's ``factory`` is its target,
    the list's factory filter travels as ``factory_filter``)."""
    names = {"state": "state", "factory": "factory_filter", "q": "q"}
    query = {k: request.POST.get(v) for k, v in names.items() if request.POST.get(v)}
    url = reverse("console:dropship_orders")
    return f"{url}?{urlencode(query)}" if query else url


@merchant_page
def order_list(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    error = None
    try:
        filters = selectors.MerchantFilters.from_params(request.GET)
    except AppError as err:
        filters, error = selectors.MerchantFilters(), err.as_dict()
    qs = selectors.dropship_order_list(actor=actor, filters=filters)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    orders = list(page.object_list)
    live = {
        a.order_item_id: a
        for a in selectors.allocation_list(actor=actor)
        .filter(order_id__in=[o.pk for o in orders], status=Allocation.Status.ALLOCATED)
        .select_related("factory_order__factory")
    }
    for order in orders:
        order.rows = [{"item": item, "allocation": live.get(item.pk)} for item in order.items.all()]
        order.shipments = [fo for fo in order.factory_orders.all()]
    factories = list(selectors.bound_factories(actor=actor))
    context = {
        "page": page,
        "orders": orders,
        "filters": filters,
        "tabs": STATE_TABS,
        "error": error,
        "factories": factories,
        "addresses": shop_selectors.address_list(actor=actor),
        "query": urlencode({k: v for k, v in vars(filters).items() if v}),
        "has_binding": selectors.binding_list(actor=actor)
        .filter(confirmed_at__isnull=False)
        .exists(),
    }
    return render(request, "console/dropship/orders.html", context)


@merchant_page
@require_POST
def allocate(request: HttpRequest) -> HttpResponse:
    """分配: the ticked items, or every item of the ticked orders, to one bound factory."""
    back = _list_url(request)
    item_ids, order_ids = ids(request, "items"), ids(request, "orders")
    try:
        if not item_ids and not order_ids:
            raise ValidationError(_("Select the items or orders to allocate."))
        results = services.allocation_create(
            actor=request.actor,
            factory=request.POST.get("factory", ""),
            order_items=item_ids,
            orders=order_ids,
        )
    except AppError as err:
        messages.error(request, error_text(err))
        return redirect(back)
    ok = [r for r in results if r["ok"]]
    failed = [r for r in results if not r["ok"]]
    (messages.success if not failed else messages.warning)(
        request,
        _("%(ok)s items allocated, %(failed)s refused.") % {"ok": len(ok), "failed": len(failed)},
    )
    for r in failed:
        what = (
            _("Item #%(id)s") % {"id": r["order_item"]}
            if r.get("order_item")
            else _("Order #%(id)s") % {"id": r.get("order")}
        )
        messages.error(
            request,
            _("%(subject)s: %(message)s") % {"subject": what, "message": result_error_text(r)},
        )
    return redirect(back)


@merchant_page
@require_POST
def allocation_cancel(request: HttpRequest, allocation_id: int) -> HttpResponse:
    back = next_url(request, reverse("console:dropship_orders"))
    try:
        services.allocation_cancel(actor=request.actor, allocation_id=allocation_id)
    except AppError as err:
        if err.status == 404:
            raise
        messages.error(request, error_text(err))
        return redirect(back)
    messages.success(request, _("Allocation cancelled."))
    return redirect(back)


@merchant_page
@require_POST
def ship(request: HttpRequest, factory_order_id: int) -> HttpResponse:
    """Ship one factory's part of an order with the number it returned."""
    back = next_url(request, reverse("console:dropship_orders"))
    try:
        fo = services.factory_order_ship(
            actor=request.actor,
            factory_order_id=factory_order_id,
            return_address_id=int_or_none(request.POST.get("return_address")),
        )
    except AppError as err:
        if err.status == 404:
            raise
        messages.error(request, error_text(err))
        return redirect(back)
    messages.success(
        request,
        _("Shipped with %(carrier)s %(tracking_no)s.")
        % {"carrier": fo.carrier_code, "tracking_no": fo.tracking_no},
    )
    return redirect(back)


@merchant_page
@require_POST
def ship_batch(request: HttpRequest) -> HttpResponse:
    """批量发货: the ticked factory orders, with one return address (confirmed with the
    count first: without ``confirm=1`` the answer is the confirmation page)."""
    back = next_url(request, reverse("console:dropship_orders"))
    try:
        chosen = ids(request, "shipments")
        if not chosen:
            raise ValidationError(_("Select the returned orders to ship."))
        if not confirmed(request):  # irreversible: the count is confirmed first
            return ship_confirmation(request, count=len(chosen), back=back)
        results = services.factory_order_ship_batch(
            actor=request.actor,
            factory_order_ids=chosen,
            return_address_id=int_or_none(request.POST.get("return_address")),
        )
    except AppError as err:
        messages.error(request, error_text(err))
        return redirect(back)
    ship_results_message(request, results)
    return redirect(back)


# --- 对账单 ---------------------------------------------------------------------------------


@merchant_page
def statement_list(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    error, status, values = None, 200, {}
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in ("factory", "date_from", "date_to", "format")}
        try:
            services.statement_start(
                actor=actor,
                counterpart=values["factory"],
                date_from=values["date_from"],
                date_to=values["date_to"],
                file_format=values["format"] or "csv",
            )
        except AppError as err:
            error, status = err.as_dict(), err.status
        else:
            messages.success(request, _("Statement requested; it is being generated."))
            return redirect("console:dropship_statements")
    if not values:
        start, end = date_range_default()
        values = {"date_from": start.isoformat(), "date_to": end.isoformat(), "format": "csv"}
    page = Paginator(selectors.statement_list(actor=actor), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    statements = statement_rows(
        page.object_list, actor.shop, download="console:dropship_statement_download"
    )
    bound = selectors.binding_list(actor=actor).filter(confirmed_at__isnull=False)
    context = {
        "page": page,
        "statements": statements,
        "factories": list({b.factory.shop_no: b.factory for b in bound}.values()),
        "values": values,
        "error": error,
        "generating": any(s.state == "generating" for s in statements),
    }
    return render(request, "console/dropship/statements.html", context, status=status)


@merchant_page
def statement_download(request: HttpRequest, statement_id: int) -> HttpResponse:
    """Only a statement this shop asked for (the job is the shop's)."""
    return statement_download_response(request, statement_id)
