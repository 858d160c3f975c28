"""The waybill block of the order detail page (a ``shops`` page, which loads
:func:`order_waybills` with htmx): the order's numbers with cancel and ship, or 取号."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from carriers.selectors import subscription_list
from shops import selectors as shop_selectors
from shops.services.order_states import order_block
from shops.views import shop_required
from waybill_console.errors import AppError, ValidationError
from waybills import selectors, services
from waybills.models import LIVE_STATUSES
from waybills.services.allocation import ALLOCATABLE, USABLE
from waybills.services.changes import waybill_cancel_groups, waybill_cancellable
from waybills.views import common


@shop_required
def order_waybills(request: HttpRequest, order_id: int) -> HttpResponse:
    """htmx: the order's numbers with cancel and ship (and their tracking), or a 取号 form
    when it has none; for a blocked order (after-sale, cancellation under review) the
    reason instead of 取号 and 发货 (the services refuse them too)."""
    order = shop_selectors.order_get(actor=request.actor, order_id=order_id)
    waybills = list(selectors.waybills_for_order(actor=request.actor, order_id=order.pk))
    live = [w for w in waybills if w.status in LIVE_STATUSES]
    # after-sale or a cancellation under review: the reason up front, no 取号 and no 发货
    blocked = order_block(order) if order.status in ALLOCATABLE else None
    shippable = order.status in ALLOCATABLE and blocked is None
    groups = waybill_cancel_groups(waybills)  # SF 子母件: cancelled whole or not at all
    for w in waybills:
        w.cancellable = waybill_cancellable(w)
        w.cancel_numbers = groups.get(w.pk, [])
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
            "tracking": selectors.tracking_for_order(actor=request.actor, order_id=order.pk),
            "factory_numbers": selectors.factory_numbers_for_order(
                actor=request.actor, order_id=order.pk
            )
            if subs
            else [],
            "subscriptions": subs,
            "blocked": blocked,
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
    asked = common.factory_numbers_confirmation(request, order, back)
    if asked is not None:
        return asked
    try:
        count = common.int_or_none(request.POST.get("package_count") or 1)
        if count is None:
            raise ValidationError.for_fields(
                package_count=_("A whole number from 1 to %(n)s.") % {"n": 20}
            )
        allocation = services.waybill_allocate(
            actor=request.actor,
            order=order,
            subscription=common.int_or_none(request.POST.get("subscription")),
            package_count=count,
        )
    except AppError as err:
        return common.refused(request, err, back)
    messages.success(
        request,
        _("Waybill number %(waybill_no)s allocated.")
        % {"waybill_no": allocation.parent.waybill_no},
    )
    return common.done(request, back)


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
            return_address_id=common.int_or_none(request.POST.get("return_address")),
        )
    except AppError as err:
        return common.refused(request, err, back)
    messages.success(request, _("Shipped."))
    return common.done(request, back)
