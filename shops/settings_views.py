"""Shop settings pages: shipping addresses and sub-accounts."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import password_validation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from shops import regions, selectors, services
from shops.views import shop_required
from waybill_console import confirm
from waybill_console import permissions as perms
from waybill_console.errors import AppError, ValidationError

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


def _account_context(**extra) -> dict:
    return {
        "permission_grid": perms.grid(),
        "password_help": password_validation.password_validators_help_texts(),
        **extra,
    }


@shop_required
def account_list(request: HttpRequest) -> HttpResponse:
    """The shop's accounts, and the form that adds a sub-account."""
    request.actor.require(perms.ACCOUNT_MANAGE)
    memberships = list(selectors.sub_account_list(actor=request.actor))
    for m in memberships:
        m.permission_labels = [perms.label(p) for p in perms.GRANTABLE if p in m.permissions]
    context = _account_context(memberships=memberships, form={})
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


#: the edit page's forms: ``action`` → the service call it makes
ACCOUNT_ACTIONS = {
    "permissions": lambda r, pk: services.sub_account_update(
        actor=r.actor, membership_id=pk, permissions=r.POST.getlist("permissions")
    ),
    "rename": lambda r, pk: services.sub_account_update(
        actor=r.actor, membership_id=pk, display_name=r.POST.get("display_name", "")
    ),
    "password": lambda r, pk: services.sub_account_password_reset(
        actor=r.actor, membership_id=pk, password=r.POST.get("password", "")
    ),
    "disable": lambda r, pk: services.sub_account_update(
        actor=r.actor, membership_id=pk, is_active=False
    ),
    "enable": lambda r, pk: services.sub_account_update(
        actor=r.actor, membership_id=pk, is_active=True
    ),
}

ACCOUNT_DONE = {
    "permissions": gettext_lazy("Permissions saved."),
    "rename": gettext_lazy("Name saved."),
    "password": gettext_lazy("Password reset: the account's open sessions have ended."),
    "disable": gettext_lazy("Sub-account disabled: it can no longer sign in to this shop."),
    "enable": gettext_lazy("Sub-account enabled."),
}


def _disable_confirmation(request: HttpRequest, membership) -> HttpResponse:
    """The confirmation step before a sub-account is disabled (the house's step for
    actions that lock someone out: a page, keyboard-ready, that a bare POST cannot skip)."""
    return confirm.confirmation(
        request,
        title=_("Disable sub-account"),
        question=_(
            "Disable %(name)s? It can no longer sign in to this shop; its permissions are "
            "kept and it can be enabled again."
        )
        % {"name": membership.display_name or membership.user.get_username()},
        confirm_label=_("Yes, disable"),
        back=reverse("console:account_update", args=[membership.pk]),
    )


@shop_required
def account_update(request: HttpRequest, membership_id: int) -> HttpResponse:
    """One sub-account: its permission grid, rename, password reset, disable / enable
    (disable behind the confirmation step). Each form posts its ``action``."""
    membership = selectors.sub_account_get(actor=request.actor, membership_id=membership_id)
    context = _account_context(
        account=membership, checked=membership.permissions, display_name=membership.display_name
    )
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in ACCOUNT_ACTIONS:
            raise ValidationError.for_fields(action=_("Choose what to change."))
        if action == "disable" and not confirm.confirmed(request):
            return _disable_confirmation(request, membership)
        try:
            ACCOUNT_ACTIONS[action](request, membership.pk)
        except AppError as err:
            context["error"] = err.as_dict()
            if action == "permissions":
                context["checked"] = request.POST.getlist("permissions")
            if action == "rename":
                context["display_name"] = request.POST.get("display_name", "")
            return render(request, "console/shops/account_edit.html", context, status=err.status)
        messages.success(request, ACCOUNT_DONE[action])
        return redirect("console:account_update", membership_id=membership.pk)
    return render(request, "console/shops/account_edit.html", context)
