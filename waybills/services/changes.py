"""Changing a drawn number: cancel (with the cap) and update until pickup.

The cancel cap is the quota owner's (:mod:`carriers.quota.cancel_cap`): counted per
merchant per carrier branch, on one row that the database refuses to take past the cap,
so concurrent cancels at the boundary cannot both pass. A cancel counts it while holding
the waybill's lock, and gives it back if the carrier refuses.

Tracking is in ``waybills.services.tracking``, shipping in ``waybills.services.shipping``.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from carriers.gateways import gateway_for
from carriers.gateways.base import Receiver, cancel_calls, cancels_whole_order
from carriers.quota import cancel_give_back, cancel_take
from shops.services.order_events import WAYBILL_CANCELLED, order_waybill_events_record
from shops.services.order_intake import clean_items, clean_receiver
from shops.services.order_marks import order_marks_refresh
from waybill_console import permissions as perms
from waybill_console.crypto import mask_name, mask_phone
from waybill_console.errors import AppError, ValidationError
from waybill_console.tenancy import Actor
from waybills.errors import (
    CancelWholeOrderOnly,
    WaybillNotCancellable,
    WaybillNotUpdatable,
    WaybillReceiverNotEditable,
)
from waybills.models import LIVE_STATUSES, Waybill, WaybillStatus
from waybills.selectors import waybill_check
from waybills.services import waybill_outbox

W = WaybillStatus


def waybill_lock(waybill: Waybill) -> Waybill:
    return Waybill.objects.select_for_update().get(pk=waybill.pk)


def _refuse_cancel(waybill: Waybill) -> None:
    if waybill.status == W.CANCELLED:
        raise WaybillNotCancellable("already_cancelled")
    if waybill.status == W.RECYCLED:
        raise WaybillNotCancellable("recycled")
    if waybill.picked_up_at or waybill.status != W.ALLOCATED:
        raise WaybillNotCancellable("picked_up")
    if waybill.has_tracking:
        raise WaybillNotCancellable("has_tracking")
    order = waybill.order
    if order.shipped_at is not None and order.tracking_no == waybill.waybill_no:
        raise WaybillNotCancellable("shipped")  # the parcel went out under this number


def waybill_cancellable(waybill: Waybill) -> bool:
    """Whether the number itself may be cancelled (the cap is the branch account's)."""
    try:
        _refuse_cancel(waybill)
    except WaybillNotCancellable:
        return False
    return True


def waybill_cancel_group(waybill: Waybill, *, lock: bool = False) -> list[Waybill]:
    """The numbers one cancel at the carrier takes with ``waybill``, by id (the lock order):
    where the carrier cancels whole orders (:func:`carriers.gateways.base.cancels_whole_order`,
    SF), ``waybill`` and the live numbers issued under its carrier-side order id (a 子母件);
    elsewhere ``waybill`` alone. ``lock``: taken FOR UPDATE (in the caller's transaction)."""
    whole = waybill.carrier_order_id and cancels_whole_order(gateway_for(waybill.carrier.code))
    rows = Waybill.objects.select_for_update() if lock else Waybill.objects.all()
    if not whole:
        return [rows.get(pk=waybill.pk)] if lock else [waybill]
    return list(
        rows.filter(
            Q(pk=waybill.pk)
            | Q(
                shop_id=waybill.shop_id,
                subscription_id=waybill.subscription_id,
                carrier_order_id=waybill.carrier_order_id,
                status__in=[s.value for s in LIVE_STATUSES],
            )
        ).order_by("pk")
    )


def waybill_cancel_groups(waybills: list[Waybill]) -> dict[int, list[str]]:
    """For a page's rows: id -> the numbers a cancel of that row takes, for the rows whose
    cancel takes more than the row itself (:func:`waybill_cancel_group`); one query."""
    keys = {
        (w.subscription_id, w.carrier_order_id)
        for w in waybills
        if w.status in LIVE_STATUSES
        and w.carrier_order_id
        and cancels_whole_order(gateway_for(w.carrier.code))
    }
    if not keys:
        return {}
    numbers: dict[tuple, list[str]] = {}
    live = (
        Waybill.objects.filter(
            shop_id__in={w.shop_id for w in waybills},
            carrier_order_id__in={k[1] for k in keys},
            status__in=[s.value for s in LIVE_STATUSES],
        )
        .order_by("pk")
        .values_list("subscription_id", "carrier_order_id", "waybill_no")
    )
    for sub_id, carrier_order_id, number in live:
        if (sub_id, carrier_order_id) in keys:
            numbers.setdefault((sub_id, carrier_order_id), []).append(number)
    groups = {}
    for w in waybills:
        group = numbers.get((w.subscription_id, w.carrier_order_id), [])
        if len(group) > 1 and w.waybill_no in group:
            groups[w.pk] = group
    return groups


def _refuse_group(waybill: Waybill, group: list[Waybill], whole_order: bool) -> None:
    """A cancel that takes other numbers with ``waybill`` (the carrier cancels the whole
    order): each of them must be cancellable, and the caller must have asked for them all."""
    if len(group) < 2:
        return
    for row in group:
        if row.pk != waybill.pk:
            try:
                _refuse_cancel(row)
            except WaybillNotCancellable as refused:
                raise WaybillNotCancellable(
                    refused.detail["reason"], sibling=row.waybill_no
                ) from None
    if not whole_order:
        raise CancelWholeOrderOnly(
            carrier=waybill.carrier.name, waybill_nos=[w.waybill_no for w in group]
        )


def waybill_cancel(
    *,
    actor: Actor,
    waybill: Waybill,
    whole_order: bool = False,
    now: datetime | None = None,
) -> Waybill:
    """Cancel an unused number, within the cancel cap of the subscription's branch
    (CANCEL_LIMIT_REACHED past it, nothing changed).

    Where the carrier cancels whole orders (SF: every number of a 子母件 at once), a number
    whose order has other live numbers is cancelled only together with them: with
    ``whole_order`` every number of the group is cancelled (each counted against the cap)
    with one carrier call; without it the cancel is refused (CANCEL_WHOLE_ORDER_ONLY,
    nothing changed, nothing sent). Elsewhere ``whole_order`` changes nothing.

    Locks: the group's waybills by id, then (in :func:`carriers.quota.cancel_take`) the
    branch account and the subscription, then the order."""
    actor.require(perms.WAYBILL_CANCEL)
    waybill_check(actor=actor, waybill=waybill)
    _refuse_cancel(waybill)
    _refuse_group(waybill, waybill_cancel_group(waybill), whole_order)
    at = now or timezone.now()
    # reserve (cap and state, committed), then tell the carrier, then undo if it refused:
    # no transaction stays open across the call, and the carrier never hears of a cancel
    # that the cap refused
    with transaction.atomic():
        group = waybill_cancel_group(waybill, lock=True)
        waybill = next(w for w in group if w.pk == waybill.pk)
        _refuse_cancel(waybill)
        _refuse_group(waybill, group, whole_order)
        for row in group:
            cancel_take(subscription_id=row.subscription_id)
            row.status = W.CANCELLED
            row.cancelled_at = at
            row.last_changed_at = at
            row.save(update_fields=["status", "cancelled_at", "last_changed_at"])
        _refresh_order_mark(waybill.order_id)
    gateway = gateway_for(waybill.carrier.code)
    numbers = [waybill.waybill_no] + [w.waybill_no for w in group if w.pk != waybill.pk]
    try:
        for number in cancel_calls(gateway, numbers):
            gateway.cancel(
                subscription=waybill.subscription,
                waybill_no=number,
                carrier_order_id=waybill.carrier_order_id,
            )
    except AppError:
        _undo_cancel(group)
        raise
    # the cancel stands once the carrier took it (a refusal undoes it): the order's history
    # and ``waybill.cancelled`` are written then, together
    with transaction.atomic():
        order_waybill_events_record(
            kind=WAYBILL_CANCELLED,
            waybills=[
                {
                    "order_id": waybill.order_id,
                    "shop_id": waybill.shop_id,
                    "waybill_no": waybill.waybill_no,
                    "carrier": waybill.carrier.code,
                    "packages": len(numbers) if len(numbers) > 1 else None,
                }
            ],
            actor_name=actor.describe(),
            at=at,
        )
        waybill_outbox.waybills_emit(waybill_outbox.CANCELLED, group)
    return waybill


def _undo_cancel(group: list[Waybill]) -> None:
    """The carrier refused the cancel: the numbers are allocated again, the counts given
    back (fewer cancels can never break the cap)."""
    with transaction.atomic():
        for waybill in group:
            rows = Waybill.objects.filter(pk=waybill.pk, status=W.CANCELLED).update(
                status=W.ALLOCATED, cancelled_at=None
            )
            if rows:
                cancel_give_back(subscription_id=waybill.subscription_id)
        _refresh_order_mark(group[0].order_id)
    for waybill in group:
        waybill.status, waybill.cancelled_at = W.ALLOCATED, None


def _refresh_order_mark(order_id: int) -> None:
    """The order shows the number of its live parent, or none (shops owns the mark)."""
    order_marks_refresh(order_ids=[order_id], live_statuses=[s.value for s in LIVE_STATUSES])


def waybill_update(
    *,
    actor: Actor,
    waybill: Waybill,
    receiver: dict | None = None,
    weight_grams: int | None = None,
    items: list | None = None,
    now: datetime | None = None,
) -> Waybill:
    """Change the receiver (screened again), weight or items until the parcel is picked up.

    A receiver change redirects the parcel, so it is an order change: it needs the order
    permission too (``order.manage``, the one that guards an order's address), only the
    shop whose order it is may make it (a factory's number for a merchant's order: 403),
    and it is written to the order (``order_change_address``, with its
    ``address_changed`` event naming the number, no consumer data) and to the order's
    other numbers of the same service not yet picked up (子母件), in one transaction: the
    order's receiver and the snapshots stay equal. Locks: the numbers by id, then the
    order (as a cancel takes them)."""
    from shops.services.orders import order_change_address

    actor.require(perms.WAYBILL_ALLOCATE)
    if receiver is not None:
        actor.require(perms.ORDER_MANAGE)
    waybill_check(actor=actor, waybill=waybill)
    if receiver is not None and waybill.order.shop_id != waybill.shop_id:
        raise WaybillReceiverNotEditable()
    errors: dict = {}
    cleaned = clean_receiver(receiver, errors) if receiver is not None else None
    if weight_grams is not None and (
        not isinstance(weight_grams, int) or not 1 <= weight_grams <= 100_000_000
    ):
        errors["weight_grams"] = gettext("Grams, a whole number from 1.")
    if items is not None:
        items = waybill_items_clean(items, errors)
    if errors:
        raise ValidationError.for_fields(**errors)
    if waybill.status != W.ALLOCATED or waybill.picked_up_at:
        raise WaybillNotUpdatable()
    screen = None
    if cleaned is not None:
        screen = gateway_for(waybill.carrier.code).screen(
            subscription=waybill.subscription,
            receiver=Receiver(cleaned.province, cleaned.city, cleaned.district, cleaned.detail),
            services=waybill.services or None,
        )
    at = now or timezone.now()
    with transaction.atomic():
        if cleaned is None:
            group = [waybill_lock(waybill)]
        else:
            group = list(
                Waybill.objects.select_for_update()
                .filter(
                    Q(pk=waybill.pk)
                    | Q(
                        order_id=waybill.order_id,
                        shop_id=waybill.shop_id,
                        subscription_id=waybill.subscription_id,
                        status=W.ALLOCATED,
                        picked_up_at__isnull=True,
                    )
                )
                .order_by("pk")
            )
        waybill = next(w for w in group if w.pk == waybill.pk)
        if waybill.status != W.ALLOCATED or waybill.picked_up_at:
            raise WaybillNotUpdatable()
        if cleaned is not None:
            order_change_address(
                actor=actor,
                order=waybill.order,
                receiver=receiver,
                now=at,
                waybill_no=waybill.waybill_no,
            )
            for row in group:
                _set_receiver(row, cleaned, screen, at)
                if row.pk != waybill.pk:
                    row.save()
        if weight_grams is not None:
            waybill.weight_grams = weight_grams
        if items is not None:
            waybill.items = items
        waybill.last_changed_at = at
        waybill.save()
    return waybill


def _set_receiver(waybill: Waybill, cleaned, screen, at: datetime) -> None:
    """The receiver snapshot (ciphertext and masks) and the screening result that goes
    with the address."""
    waybill.receiver_name = cleaned.name
    waybill.receiver_phone = cleaned.phone
    waybill.receiver_detail = cleaned.detail
    waybill.receiver_name_masked = mask_name(cleaned.name)
    waybill.receiver_phone_masked = mask_phone(cleaned.phone)
    waybill.receiver_province = cleaned.province
    waybill.receiver_city = cleaned.city
    waybill.receiver_district = cleaned.district
    waybill.sort_code = screen.sort_code
    waybill.package_center_code = screen.package_center_code
    waybill.package_center_name = screen.package_center_name
    waybill.short_address_code = screen.short_address_code
    waybill.short_address_name = screen.short_address_name
    waybill.receiver_changed_at = at
    waybill.last_changed_at = at


def waybill_items_clean(items, errors: dict) -> list[dict]:
    """A waybill's own items (what its label lists), under the order items' rule
    (:func:`shops.services.order_intake.clean_items`: the same bounds for every door), stored as
    the label reads them (``name``, ``quantity``, and ``sku`` and ``spec`` when given).
    ``name`` is taken for ``product_name``, as the number's answer shows it; an empty list
    clears them (the label lists the order's items again)."""
    if isinstance(items, list) and not items:
        return []
    if isinstance(items, list):
        items = [
            {**i, "product_name": i.get("product_name", i.get("name"))}
            if isinstance(i, dict)
            else i
            for i in items
        ]
    clean = clean_items(items, errors, prefix="items", require_sku=False)
    return [
        {
            **{k: i[k] for k in ("sku", "spec") if i[k]},
            "name": i["product_name"],
            "quantity": i["quantity"],
        }
        for i in clean
    ]
