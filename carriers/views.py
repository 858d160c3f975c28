"""Pages: e-waybill service (subscriptions and their quota), the opening wizard, branches."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from carriers import selectors, services
from shops import regions
from shops.selectors import address_list
from shops.views import shop_required
from waybill_console.actors import actor_names
from waybill_console.errors import AppError, page_error


@shop_required
def subscription_list(request: HttpRequest) -> HttpResponse:
    subs = list(selectors.subscription_list(actor=request.actor))
    for sub in subs:
        sub.cancellable = selectors.cancellable_now(sub)
        sub.low_balance = selectors.balance_is_low(sub)
        sub.recent = list(selectors.ledger_list(subscription=sub)[:5])
    # who moved the balance, by name (the branch, a member, 系统), never ``token#9``
    entries = [e for sub in subs for e in sub.recent]
    names = actor_names([e.actor for e in entries], shop=request.actor.shop)
    for entry in entries:
        entry.who = names[entry.actor]
    return render(
        request,
        "console/carriers/subscriptions.html",
        {"subscriptions": subs, "low_balance": selectors.LOW_BALANCE},
    )


ACTIONS = {
    "cancel": services.subscription_cancel,
    "set-default": services.subscription_set_default,
    "reapply": services.subscription_reapply,
}


@shop_required
@require_POST
def subscription_action(request: HttpRequest, subscription_id: int, action: str) -> HttpResponse:
    sub = selectors.subscription_get(actor=request.actor, subscription_id=subscription_id)
    if action not in ACTIONS:
        return redirect("console:subscription_list")
    try:
        ACTIONS[action](actor=request.actor, subscription=sub)
        messages.success(request, _("Done."))
    except AppError as err:
        messages.error(request, err.render_message())
    return redirect("console:subscription_list")


@shop_required
def subscription_share(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """共享给其他店铺: tick the owner's other shops that may draw on this service."""
    sub = selectors.subscription_get(actor=request.actor, subscription_id=subscription_id)
    try:
        services.subscription_share_check(actor=request.actor, subscription=sub)
    except AppError as err:
        return page_error(request, err)
    context = {"subscription": sub, "candidates": selectors.share_candidates(subscription=sub)}
    if request.method == "POST":
        try:
            services.subscription_share(
                actor=request.actor, subscription=sub, shop_nos=request.POST.getlist("shops")
            )
        except AppError as err:
            context["error"] = err.as_dict()
            context["shared"] = set(request.POST.getlist("shops"))
            return render(request, "console/carriers/share.html", context, status=err.status)
        messages.success(request, _("Sharing saved."))
        return redirect("console:subscription_list")
    context["shared"] = set(sub.shared_with.values_list("shop_no", flat=True))
    return render(request, "console/carriers/share.html", context)


@shop_required
def subscription_apply(request: HttpRequest) -> HttpResponse:
    """The wizard: carrier → shipping address → matching branch → contact → agreement."""
    params = request.POST if request.method == "POST" else request.GET
    carriers = selectors.carrier_list()
    addresses = list(address_list(actor=request.actor))
    carrier = carriers.filter(code=(params.get("carrier") or "").upper()).first()
    address = next((a for a in addresses if str(a.pk) == params.get("address")), None)
    region_only = params.get("region_only") == "1"
    branches = []
    if carrier:
        if region_only or address is None:
            branches = selectors.branch_search(
                carrier=carrier.code,
                province=params.get("province", ""),
                city=params.get("city", ""),
                q=params.get("q", ""),
            )[:100]
        else:
            branches = selectors.branch_search(
                carrier=carrier.code,
                province=address.province_code,
                city=address.city_code,
                q=params.get("q", ""),
            )[:100]
            if not branches and not params.get("q"):
                branches = selectors.branch_search(
                    carrier=carrier.code, province=address.province_code
                )[:100]
    context = {
        "carriers": carriers,
        "addresses": addresses,
        "carrier": carrier,
        "address": address,
        "branches": branches,
        "params": params,
        "asks": selectors.account_fields(carrier=carrier) if carrier else {},
        "provinces": regions.provinces(),
        "region_only": region_only,
        "contact_name": params.get("contact_name") or (address.contact_name if address else ""),
        "contact_phone": params.get("contact_phone") or (address.phone if address else ""),
    }
    if request.method == "POST":
        try:
            sub = services.subscription_apply(
                actor=request.actor,
                carrier=params.get("carrier", ""),
                branch=params.get("branch", ""),
                address=int(params.get("address") or 0),
                contact_name=params.get("contact_name", ""),
                contact_phone=params.get("contact_phone", ""),
                monthly_account=params.get("monthly_account", ""),
                secret_key=params.get("secret_key", ""),
                agree=params.get("agree") == "on",
            )
        except AppError as err:
            context["error"] = err.as_dict()
            return render(request, "console/carriers/apply.html", context, status=err.status)
        messages.success(
            request,
            _("Application sent to %(branch)s; it is pending review.")
            % {"branch": sub.branch.name},
        )
        return redirect("console:subscription_list")
    return render(request, "console/carriers/apply.html", context)


@shop_required
def subscription_agreement(request: HttpRequest) -> HttpResponse:
    """《电子面单服务协议》: what the wizard's tick accepts, readable in the page's language."""
    return render(request, "console/carriers/agreement.html")


@shop_required
def branch_search(request: HttpRequest) -> HttpResponse:
    p = request.GET
    qs = selectors.branch_search(
        carrier=p.get("carrier", ""),
        province=p.get("province", ""),
        city=p.get("city", ""),
        q=p.get("q", ""),
    )
    page = Paginator(qs, 50).get_page(p.get("page"))
    return render(
        request,
        "console/carriers/branches.html",
        {
            "page": page,
            "carriers": selectors.carrier_list(),
            "provinces": regions.provinces(),
            "params": p,
        },
    )
