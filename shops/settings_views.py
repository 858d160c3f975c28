"""Shop settings pages: shipping addresses and sub-accounts."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shops import regions, selectors, services
from shops.views import shop_required
from waybill_console import permissions as perms
from waybill_console.errors import AppError

ADDRESS_FIELDS = ("contact_name", "phone", "province", "city", "district", "street", "detail")


def _address_data(request) -> dict:
    data = {k: request.POST.get(k, "") for k in ADDRESS_FIELDS}
    data["is_default_sender"] = request.POST.get("is_default_sender") == "on"
    data["is_default_return"] = request.POST.get("is_default_return") == "on"
    return data


@shop_required
def address_list(request: HttpRequest) -> HttpResponse:
    context = {
        "addresses": selectors.address_list(actor=request.actor),
        "limit": services.ADDRESS_LIMIT,
        "provinces": regions.provinces(),
        "form": {},
    }
    if request.method == "POST":
        form = _address_data(request)
        try:
            services.address_create(actor=request.actor, data=form)
        except AppError as err:
            context.update(error=err.as_dict(), form=form)
            return render(request, "console/shops/addresses.html", context, status=err.status)
        messages.success(request, _("Address added."))
        return redirect("console:address_list")
    return render(request, "console/shops/addresses.html", context)


@shop_required
def address_edit(request: HttpRequest, address_id: int) -> HttpResponse:
    address = selectors.address_get(actor=request.actor, address_id=address_id)
    form = {k: getattr(address, k) for k in ADDRESS_FIELDS}
    form.update(
        is_default_sender=address.is_default_sender, is_default_return=address.is_default_return
    )
    context = {"address": address, "provinces": regions.provinces(), "form": form}
    if request.method == "POST":
        form = _address_data(request)
        try:
            services.address_update(actor=request.actor, address_id=address.pk, data=form)
        except AppError as err:
            context.update(error=err.as_dict(), form=form)
            return render(request, "console/shops/address_form.html", context, status=err.status)
        messages.success(request, _("Address saved."))
        return redirect("console:address_list")
    return render(request, "console/shops/address_form.html", context)


@shop_required
@require_POST
def address_delete(request: HttpRequest, address_id: int) -> HttpResponse:
    try:
        services.address_delete(actor=request.actor, address_id=address_id)
    except AppError as err:
        messages.error(request, err.render_message())
    else:
        messages.success(request, _("Address deleted."))
    return redirect("console:address_list")


def region_children(request: HttpRequest) -> JsonResponse:
    """The region pickers' options: provinces, or the children of ``code``."""
    code = request.GET.get("code", "")
    found = regions.children(code) if code else regions.provinces()
    return JsonResponse({"regions": [{"code": r.code, "name": r.name} for r in found]})


@shop_required
def account_list(request: HttpRequest) -> HttpResponse:
    request.actor.require(perms.ACCOUNT_MANAGE)
    context = {
        "memberships": selectors.sub_account_list(actor=request.actor),
        "grantable": [(p, perms.label(p)) for p in perms.GRANTABLE],
        "form": {},
    }
    if request.method == "POST":
        form = {
            "username": request.POST.get("username", ""),
            "display_name": request.POST.get("display_name", ""),
            "permissions": request.POST.getlist("permissions"),
        }
        try:
            services.sub_account_create(
                actor=request.actor, password=request.POST.get("password", ""), **form
            )
        except AppError as err:
            context.update(error=err.as_dict(), form=form)
            return render(request, "console/shops/accounts.html", context, status=err.status)
        messages.success(request, _("Sub-account created."))
        return redirect("console:account_list")
    return render(request, "console/shops/accounts.html", context)


@shop_required
@require_POST
def account_update(request: HttpRequest, membership_id: int) -> HttpResponse:
    action = request.POST.get("action")
    kwargs = {}
    if action == "permissions":
        kwargs["permissions"] = request.POST.getlist("permissions")
    elif action in ("disable", "enable"):
        kwargs["is_active"] = action == "enable"
    services.sub_account_update(actor=request.actor, membership_id=membership_id, **kwargs)
    messages.success(request, _("Sub-account updated."))
    return redirect("console:account_list")
