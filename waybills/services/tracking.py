"""Tracking: a carrier's progress on its numbers (the waybill and the order follow), and
the violations of a recycled number that shows tracking after all."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from carriers.quota import quota_rededuct
from shops.models import Order
from shops.services.order_shipping import order_record_logistics
from shops.services.order_states import SHIPPABLE, order_transition
from waybill_console.errors import AppError, NotFound, ValidationError
from waybill_console.tenancy import Actor
from waybills.models import (
    LIVE_STATUSES,
    REDEDUCTION_COUNT,
    TrackingEvent,
    TrackingStatus,
    Violation,
    Waybill,
    WaybillStatus,
)
from waybills.services import waybill_outbox
from waybills.services.changes import waybill_lock

W = WaybillStatus

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
        errors["status"] = str(
            _("One of %(values)s.") % {"values": ", ".join(TrackingStatus.values)}
        )
    if not isinstance(occurred_at, datetime):
        errors["occurred_at"] = str(_("An ISO-8601 date and time."))
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
        waybill = waybill_lock(waybill)
        event = TrackingEvent.objects.create(
            waybill=waybill,
            occurred_at=occurred_at,
            status=status,
            description=(description or "")[:200],
            location=(location or "")[:80],
        )
        violation = None
        if waybill.status == W.RECYCLED and not hasattr(waybill, "violation"):
            violation = violation_record(waybill=waybill, at=at)
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
        waybill_outbox.waybills_emit(waybill_outbox.TRACKING, [waybill])
        if violation is not None:  # told as the number now reads (tracked at…)
            waybill_outbox.violation_emit(violation)
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
        order_transition(order, "ship", actor=None, at=at, waybill_no=waybill.waybill_no)
    try:
        order_record_logistics(order=order, status=status, at=at)
    except AppError:
        pass  # an out-of-order event the order cannot follow (e.g. delivered, then failed)


def tracking_record_pushed(*, waybill: Waybill, events: list[dict]) -> int:
    """A carrier's push for one of its numbers (Kuaidi100, SF): each event not yet recorded
    goes through :func:`tracking_record`, acting as the number's branch; an event already
    recorded (same time and status: a replayed push, or the same event pushed again) is
    skipped, and so is one the rules refuse (logged). Under the waybill's lock, so two
    deliveries of one push cannot both record. ``events``: ``occurred_at``, ``status``,
    ``description``, ``location``. Returns how many were recorded."""
    actor = Actor(shop=None, branch=waybill.subscription.branch)
    recorded = 0
    with transaction.atomic():
        waybill_lock(waybill)
        seen = set(
            TrackingEvent.objects.filter(waybill=waybill).values_list("occurred_at", "status")
        )
        for event in events:
            key = (event["occurred_at"], event["status"])
            if key in seen:
                continue
            try:
                tracking_record(
                    actor=actor,
                    waybill_no=waybill.waybill_no,
                    occurred_at=event["occurred_at"],
                    status=event["status"],
                    description=(event.get("description") or "")[:200],
                    location=(event.get("location") or "")[:80],
                )
            except (ValidationError, NotFound) as err:
                logger.info("pushed tracking event skipped: %s %s", err.code, err.detail)
                continue
            seen.add(key)
            recorded += 1
    return recorded


def tracking_route_pushed(
    *, carrier_id: int, waybill_no: str, carrier_order_id: str, event: dict
) -> str:
    """One route a carrier pushed for one of its numbers (SF): ``recorded``, ``replayed``,
    or why it was skipped (a number not in the console; a number of another order id than
    the one we gave the carrier)."""
    waybill = (
        Waybill.objects.filter(carrier_id=carrier_id, waybill_no=waybill_no)
        .select_related("subscription__branch__carrier")
        .first()
    )
    if waybill is None or waybill.subscription is None:
        return "unknown number"
    if (
        carrier_order_id
        and waybill.carrier_order_id
        and carrier_order_id != waybill.carrier_order_id
    ):
        return "another order id"
    recorded = tracking_record_pushed(waybill=waybill, events=[event])
    return "recorded" if recorded else "replayed"


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
    """Deduct the violation's count through the quota owner; False (still owed, nothing
    changed) while the balance cannot cover it."""
    with transaction.atomic():
        deducted = quota_rededuct(
            subscription=violation.subscription,
            count=REDEDUCTION_COUNT,
            note="recycled number showed tracking",
            reference=f"waybill:{violation.waybill.waybill_no}",
        )
        if not deducted:
            return False
        Violation.objects.filter(pk=violation.pk).update(deducted_at=at)
    violation.deducted_at = at
    return True
