"""After the draw: cancel (with the cap), update until pickup, tracking, shipping.

The cancel cap lives in the database: ``subscription_cancel_cap`` refuses any row where
more than 20 % of over-50 allocations were cancelled, and a cancel sets ``cancel_basis``
to the allocated count in the same UPDATE, so two concurrent cancels at the boundary
cannot both pass (the second waits for the row lock, re-reads the row and fails the
CHECK). The conditional UPDATE in front of it only turns the common case into a clean
refusal without an error round trip.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from carriers.gateways import gateway_for
from carriers.gateways.base import Receiver
from carriers.models import LedgerEntry, Subscription
from shops.models import Address, Order
from shops.services import orders as order_services
from shops.services.orders import BATCH_SHIP_LIMIT, SHIPPABLE, clean_receiver
from waybill_console import permissions as perms
from waybill_console.crypto import mask_name, mask_phone
from waybill_console.errors import AppError, NotFound, ValidationError
from waybill_console.tenancy import Actor
from waybills.errors import (
    BatchShipTooLarge,
    CancelLimitReached,
    WaybillNotCancellable,
    WaybillNotUpdatable,
    WaybillOrderMismatch,
    WaybillReceiverNotEditable,
)
from waybills.models import (
    LIVE_STATUSES,
    REDEDUCTION_COUNT,
    TrackingEvent,
    TrackingStatus,
    Violation,
    Waybill,
    WaybillStatus,
)
from waybills.selectors import waybill_check

W = WaybillStatus
CAP_FREE_UP_TO = 50
CAP_RATIO = 5  # cancelled * 5 <= allocated, i.e. 20 %


def _locked(waybill: Waybill) -> Waybill:
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
    """Whether the number itself may be cancelled (the cap is the subscription's)."""
    try:
        _refuse_cancel(waybill)
    except WaybillNotCancellable:
        return False
    return True


def waybill_cancel(*, actor: Actor, waybill: Waybill, now: datetime | None = None) -> Waybill:
    """Cancel an unused number, within the cap (≤ 50 allocated: always; above: ≤ 20 %)."""
    actor.require(perms.WAYBILL_CANCEL)
    waybill_check(actor=actor, waybill=waybill)
    _refuse_cancel(waybill)
    at = now or timezone.now()
    # reserve (cap and state, committed), then tell the carrier, then undo if it refused:
    # no transaction stays open across the call, and the carrier never hears of a cancel
    # that the cap refused
    with transaction.atomic():
        waybill = _locked(waybill)
        _refuse_cancel(waybill)
        try:
            with transaction.atomic():
                rows = (
                    Subscription.objects.filter(pk=waybill.subscription_id)
                    .filter(
                        Q(allocated_total__lte=CAP_FREE_UP_TO)
                        | Q(cancelled_total__lt=F("allocated_total") / CAP_RATIO)
                    )
                    .update(
                        cancelled_total=F("cancelled_total") + 1,
                        cancel_basis=F("allocated_total"),
                    )
                )
        except IntegrityError:  # the CHECK constraint: a concurrent cancel took the last one
            rows = 0
        if not rows:
            raise CancelLimitReached(detail={"cancellable_now": 0})
        waybill.status = W.CANCELLED
        waybill.cancelled_at = at
        waybill.last_changed_at = at
        waybill.save(update_fields=["status", "cancelled_at", "last_changed_at"])
        _refresh_order_mark(waybill.order_id)
    try:
        gateway_for(waybill.carrier.code).cancel(
            subscription=waybill.subscription, waybill_no=waybill.waybill_no
        )
    except AppError:
        _undo_cancel(waybill)
        raise
    return waybill


def _undo_cancel(waybill: Waybill) -> None:
    """The carrier refused the cancel: the number is allocated again, the count given back
    (fewer cancels can never break the cap)."""
    with transaction.atomic():
        rows = Waybill.objects.filter(pk=waybill.pk, status=W.CANCELLED).update(
            status=W.ALLOCATED, cancelled_at=None
        )
        if rows:
            Subscription.objects.filter(pk=waybill.subscription_id).update(
                cancelled_total=F("cancelled_total") - 1
            )
            _refresh_order_mark(waybill.order_id)
    waybill.status, waybill.cancelled_at = W.ALLOCATED, None


def _refresh_order_mark(order_id: int) -> None:
    """The order shows the number of its live parent, or none."""
    live = (
        Waybill.objects.filter(order_id=order_id, status__in=LIVE_STATUSES)
        .order_by("package_no")
        .first()
    )
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.shipped_at is not None and order.tracking_no and live is None:
        return  # shipped (by hand or before): keep what was shipped
    if live is None:
        Order.objects.filter(pk=order_id).update(has_waybill=False, tracking_no="", carrier_code="")
    else:
        Order.objects.filter(pk=order_id).update(
            has_waybill=True, tracking_no=live.waybill_no, carrier_code=live.carrier.code
        )


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
        errors["weight_grams"] = "Grams, a whole number from 1."
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
            group = [_locked(waybill)]
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
    (:func:`shops.services.orders.clean_items`: the same bounds for every door), stored as
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
    clean = order_services.clean_items(items, errors, prefix="items", require_sku=False)
    return [
        {
            **{k: i[k] for k in ("sku", "spec") if i[k]},
            "name": i["product_name"],
            "quantity": i["quantity"],
        }
        for i in clean
    ]


# --- tracking ---------------------------------------------------------------------------------

#: how far along each tracking status is (a late "picked up" never moves a parcel back)
RANK = {W.ALLOCATED: 0, W.PICKED_UP: 1, W.IN_TRANSIT: 2, W.FAILED: 3, W.DELIVERED: 4}
TRACKING_TO_STATUS = {
    TrackingStatus.PICKED_UP: W.PICKED_UP,
    TrackingStatus.IN_TRANSIT: W.IN_TRANSIT,
    TrackingStatus.DELIVERED: W.DELIVERED,
    TrackingStatus.FAILED: W.FAILED,
}


#: when a reported tracking event may have happened, the one place for these bounds: at
#: most ``TRACKING_CLOCK_SKEW`` after now or before the number was drawn (the carrier's
#: clock and ours differ a little), and at most ``TRACKING_MAX_AGE`` ago (an event older
#: than that is a replay or a wrong number, not news)
TRACKING_CLOCK_SKEW = timedelta(minutes=10)
TRACKING_MAX_AGE = timedelta(days=60)

logger = logging.getLogger("waybills.tracking")


def _tracking_time_error(occurred_at: datetime, now: datetime) -> str | None:
    if timezone.is_naive(occurred_at):
        return str(_("A date and time with its time zone (ISO-8601)."))
    if occurred_at > now + TRACKING_CLOCK_SKEW:
        return str(_("The event cannot be more than %(minutes)s minutes in the future.")) % {
            "minutes": int(TRACKING_CLOCK_SKEW.total_seconds() // 60)
        }
    if occurred_at < now - TRACKING_MAX_AGE:
        return str(_("The event cannot be more than %(days)s days old.")) % {
            "days": TRACKING_MAX_AGE.days
        }
    return None


def tracking_record(
    *,
    actor: Actor,
    waybill_no: str,
    occurred_at: datetime,
    status: str,
    description: str = "",
    location: str = "",
    now: datetime | None = None,
) -> TrackingEvent:
    """A carrier reports progress on one of its numbers; the waybill and the order follow.

    A branch reports only on numbers drawn on a subscription of that branch: any other
    number, even one of the same carrier, is not found and nothing changes. The event's
    time must fall within the bounds above (:data:`TRACKING_CLOCK_SKEW`,
    :data:`TRACKING_MAX_AGE`, and not before the number was drawn).

    Tracking on a recycled number means the parcel was handed over after all: the count is
    deducted again and a violation is recorded (owed if the balance is empty)."""
    if actor.branch is None and not actor.is_staff:
        raise NotFound()
    at = now or timezone.now()
    errors = {}
    if status not in TrackingStatus.values:
        errors["status"] = f"One of {', '.join(TrackingStatus.values)}."
    if not isinstance(occurred_at, datetime):
        errors["occurred_at"] = "An ISO-8601 date and time."
    elif problem := _tracking_time_error(occurred_at, at):
        errors["occurred_at"] = problem
    if errors:
        raise ValidationError.for_fields(**errors)
    qs = Waybill.objects.filter(waybill_no=(waybill_no or "").strip())
    if actor.branch is not None:
        qs = qs.filter(carrier_id=actor.branch.carrier_id, subscription__branch_id=actor.branch.pk)
    waybill = qs.first()
    if waybill is None:
        if actor.branch is not None:
            logger.warning(
                "tracking refused: %s reported a number not of its branch", actor.describe()
            )
        raise NotFound()
    if occurred_at < waybill.allocated_at - TRACKING_CLOCK_SKEW:
        raise ValidationError.for_fields(
            occurred_at=str(_("The event cannot be before the number was drawn (%(at)s)."))
            % {"at": timezone.localtime(waybill.allocated_at).isoformat(timespec="seconds")}
        )
    with transaction.atomic():
        waybill = _locked(waybill)
        event = TrackingEvent.objects.create(
            waybill=waybill,
            occurred_at=occurred_at,
            status=status,
            description=(description or "")[:200],
            location=(location or "")[:80],
        )
        if waybill.status == W.RECYCLED and not hasattr(waybill, "violation"):
            violation_record(waybill=waybill, at=at)
        waybill.has_tracking = True
        waybill.first_tracked_at = waybill.first_tracked_at or occurred_at
        if waybill.status in RANK:
            target = TRACKING_TO_STATUS[status]
            if status == TrackingStatus.PICKED_UP or waybill.picked_up_at is None:
                waybill.picked_up_at = waybill.picked_up_at or occurred_at
            if (
                RANK[target] > RANK[waybill.status]
                or target == W.IN_TRANSIT
                and (waybill.status == W.FAILED)
            ):
                waybill.status = target
        waybill.last_changed_at = at
        waybill.save()
        if waybill.status in LIVE_STATUSES:
            _order_follows(waybill, status, occurred_at)
    return event


def _order_follows(waybill: Waybill, status: str, at: datetime) -> None:
    order = Order.objects.select_for_update().get(pk=waybill.order_id)
    if order.tracking_no and order.tracking_no != waybill.waybill_no and order.shipped_at:
        return  # the order shipped under another number
    if order.status in SHIPPABLE:
        # the carrier has the parcel: the order ships with this number
        order.carrier_code, order.tracking_no, order.has_waybill = (
            waybill.carrier.code,
            waybill.waybill_no,
            True,
        )
        order_services._transition(order, "ship", actor=None, at=at, waybill_no=waybill.waybill_no)
    try:
        order_services.order_record_logistics(order=order, status=status, at=at)
    except AppError:
        pass  # an out-of-order event the order cannot follow (e.g. delivered, then failed)


def violation_record(*, waybill: Waybill, at: datetime) -> Violation:
    """Deduct a recycled number's count again; owed while the balance is empty."""
    violation = Violation.objects.create(
        shop_id=waybill.shop_id,
        subscription_id=waybill.subscription_id,
        waybill=waybill,
        detected_at=at,
        note="tracking after recycling",
    )
    violation_settle(violation=violation, at=at)
    return violation


def violation_settle(*, violation: Violation, at: datetime) -> bool:
    from carriers.errors import QuotaInsufficient
    from carriers.services import ledger_post

    try:
        with transaction.atomic():
            ledger_post(
                subscription=violation.subscription,
                kind=LedgerEntry.Kind.REDEDUCTION,
                amount=-REDEDUCTION_COUNT,
                note="recycled number showed tracking",
                reference=f"waybill:{violation.waybill.waybill_no}"[:64],
            )
            Violation.objects.filter(pk=violation.pk).update(deducted_at=at)
    except QuotaInsufficient:
        return False
    violation.deducted_at = at
    return True


# --- shipping with a platform waybill ----------------------------------------------------------


def waybill_ship(
    *,
    actor: Actor,
    order: Order,
    waybill_no: str,
    return_address_id: int | None = None,
    now: datetime | None = None,
) -> Order:
    """Ship the order with one of its live numbers; a second ship gets ALREADY_SHIPPED."""
    actor.require(perms.SHIP)
    shop = actor.require_shop()
    if order.shop_id != shop.pk:
        raise NotFound()
    waybill_no = (waybill_no or "").strip().upper()
    address = None
    if return_address_id:
        address = Address.objects.filter(shop=shop, pk=return_address_id).first()
        if address is None:
            raise ValidationError.for_fields(return_address="Not one of this shop's addresses.")
    at = now or timezone.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status not in SHIPPABLE:
            order_services._transition(order, "ship", actor=actor, at=at)  # ALREADY_SHIPPED…
        waybill = Waybill.objects.filter(  # the order's own numbers, not a factory's (代发)
            order_id=order.pk,
            shop_id=order.shop_id,
            waybill_no=waybill_no,
            status__in=LIVE_STATUSES,
        ).first()
        if waybill is None:
            raise WaybillOrderMismatch(detail={"waybill_no": waybill_no})
        order_services._refuse_if_blocked(order)
        order.carrier_code, order.tracking_no = waybill.carrier.code, waybill.waybill_no
        order.has_waybill, order.shipped_by_hand = True, False
        order.return_address = address or order.return_address
        order_services._transition(
            order, "ship", actor=actor, at=at, carrier=waybill.carrier.code, waybill_no=waybill_no
        )
    return order


def waybill_ship_batch(
    *,
    actor: Actor,
    shipments: list[dict],
    return_address_id: int | None = None,
    selected: int | None = None,
) -> list[dict]:
    """Up to 500 orders, each ``{"order": id, "waybill_no": …}`` (no number: the order's own
    live parent number). One result per order; a failure never stops the others.

    ``selected``: how many orders the merchant selected, when the caller passes only the
    first ones of a larger selection ("all N matching"): more than 500 is refused before
    anything is shipped, naming N."""
    from shops.selectors import order_get

    count = max(len(shipments), selected or 0)
    if count > BATCH_SHIP_LIMIT:
        raise BatchShipTooLarge(limit=BATCH_SHIP_LIMIT, count=count, detail={"count": count})
    actor.require(perms.SHIP)
    results = []
    for entry in shipments:
        try:
            order = order_get(actor=actor, order_id=int(entry.get("order")))
            number = entry.get("waybill_no") or order.tracking_no
            order = waybill_ship(
                actor=actor,
                order=order,
                waybill_no=number,
                return_address_id=return_address_id,
            )
            results.append({"order": order.pk, "ok": True, "waybill_no": order.tracking_no})
        except AppError as err:
            results.append({"order": entry.get("order"), "ok": False, "error": err.as_dict()})
        except (TypeError, ValueError):
            results.append(
                {
                    "order": entry.get("order"),
                    "ok": False,
                    "error": ValidationError.for_fields(order="An order id.").as_dict(),
                }
            )
    return results
