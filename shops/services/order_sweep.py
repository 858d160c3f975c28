"""Orders: the time-rule sweep (payment reminders, unpaid and unanswered orders cancelled,
failed deliveries returned, deadlines near warned of and SLA breaches recorded), set-based,
in keyset batches.

A deadline near (即将超时: due within :data:`~shops.services.order_states.AT_RISK_WINDOW`,
the 概览's "at risk") is told once per order and deadline (``sla.at_risk``, marked by the
order's ``sla_at_risk`` history event); a deadline missed once too (``sla.missed``, with
its name in ``sla_breaches``). Both are written in the batch's transaction."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from shops.models import CancelRequestStatus, Order, OrderEvent, OrderStatus
from shops.services import order_outbox
from shops.services.order_states import (
    AT_RISK_WINDOW,
    CANCEL_REQUEST_ANSWER_WITHIN,
    NOT_YET_SHIPPED,
    REMINDER_AFTER,
    REROUTE_WITHIN,
    UNPAID_CANCEL_AFTER,
    current_time,
    sla_clock_start,
    sla_pickup_due,
)

S = OrderStatus


def orders_apply_time_rules(*, as_of: datetime | None = None, batch_size: int = 5000) -> dict:
    """One sweep of every time rule, set-based and in batches. Safe to run twice."""
    at = current_time(as_of)
    counts = {
        "reminded_15m": 0,
        "reminded_16h": 0,
        "cancelled_unpaid": 0,
        "cancelled_no_answer": 0,
        "returned": 0,
        "sla_at_risk": 0,
        "sla_breaches": 0,
    }
    counts["reminded_15m"] = _remind(at - REMINDER_AFTER[0], 0, at, "payment_reminder_15m")
    counts["reminded_16h"] = _remind(at - REMINDER_AFTER[1], 1, at, "payment_reminder_16h")
    counts["cancelled_unpaid"] = _bulk_cancel(
        Order.objects.filter(status=S.UNPAID, created_at__lte=at - UNPAID_CANCEL_AFTER),
        at,
        reason="unpaid_timeout",
        batch_size=batch_size,
    )
    counts["cancelled_no_answer"] = _bulk_cancel(
        Order.objects.filter(
            cancel_request_status=CancelRequestStatus.PENDING,
            cancel_requested_at__lte=at - CANCEL_REQUEST_ANSWER_WITHIN,
            status__in=NOT_YET_SHIPPED,
        ),
        at,
        reason="cancel_request_unanswered",
        batch_size=batch_size,
        extra={"cancel_request_status": CancelRequestStatus.APPROVED},
    )
    counts["returned"] = _bulk_move(
        # the same 12 days (included) as :func:`reroute_window_open`
        Order.objects.filter(status=S.DELIVERY_FAILED, failed_at__lt=at - REROUTE_WITHIN),
        at,
        status=S.RETURNED,
        kind="returned",
        batch_size=batch_size,
    )
    counts["sla_at_risk"] = _warn_at_risk(at, batch_size=batch_size)
    counts["sla_breaches"] = _mark_breaches(at, batch_size=batch_size)
    return counts


def _ids_in_batches(qs, batch_size: int):
    last = 0
    while True:
        ids = list(qs.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return
        yield ids
        last = ids[-1]


def _remind(created_before: datetime, sent: int, at: datetime, kind: str) -> int:
    total = 0
    qs = Order.objects.filter(status=S.UNPAID, reminders_sent=sent, created_at__lte=created_before)
    for ids in _ids_in_batches(qs, 5000):
        with transaction.atomic():
            updated = list(
                Order.objects.filter(pk__in=ids, status=S.UNPAID, reminders_sent=sent)
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)
            )
            Order.objects.filter(pk__in=updated).update(reminders_sent=sent + 1, updated_at=at)
            OrderEvent.objects.bulk_create(
                OrderEvent(order_id=pk, at=at, kind=kind, actor="system") for pk in updated
            )
        total += len(updated)
    return total


def _bulk_cancel(qs, at: datetime, *, reason: str, batch_size: int, extra=None) -> int:
    return _bulk_move(
        qs,
        at,
        status=S.CANCELLED,
        kind="cancel",
        batch_size=batch_size,
        fields={"cancelled_at": at, "cancel_reason": reason, **(extra or {})},
        data={"by": reason},
    )


def _bulk_move(
    qs,
    at: datetime,
    *,
    status: str,
    kind: str,
    batch_size: int,
    fields: dict | None = None,
    data: dict | None = None,
) -> int:
    """Move the matching orders to ``status`` in batches, one event each (sweeps only)."""
    total = 0
    for ids in _ids_in_batches(qs, batch_size):
        with transaction.atomic():
            rows = list(
                qs.filter(pk__in=ids)
                .select_for_update(skip_locked=True)
                .values_list("pk", "status")
            )
            Order.objects.filter(pk__in=[pk for pk, _ in rows]).update(
                status=status, sla_due_at=None, updated_at=at, **(fields or {})
            )
            OrderEvent.objects.bulk_create(
                OrderEvent(
                    order_id=pk,
                    at=at,
                    kind=kind,
                    actor="system",
                    data={"status_from": st, "status_to": status, **(data or {})},
                )
                for pk, st in rows
            )
        total += len(rows)
    return total


def _breach_name(order: Order) -> str:
    if order.status == S.PAID:
        return "ready_to_ship"
    if order.picked_up_at is None:
        if order.sla_due_at == sla_pickup_due(order, sla_clock_start(order)):
            return "pickup"
    return "in_transit"


#: what :func:`_breach_name` and the deadline rules read of an order
_DEADLINE_FIELDS = (
    "pk",
    "status",
    "paid_at",
    "promised_ship_at",
    "ready_to_ship_at",
    "shipped_at",
    "picked_up_at",
    "sla_due_at",
)


def _mark_breaches(at: datetime, *, batch_size: int) -> int:
    """Record each missed deadline once (an event, and its name in ``sla_breaches``)."""
    total = 0
    qs = Order.objects.filter(sla_due_at__lte=at)
    for ids in _ids_in_batches(qs, batch_size):
        with transaction.atomic():
            orders = list(
                Order.objects.filter(pk__in=ids, sla_due_at__lte=at)
                .select_for_update(skip_locked=True)
                .only(*_DEADLINE_FIELDS, "sla_breaches")
            )
            events = []
            for order in orders:
                name = _breach_name(order)
                if name in order.sla_breaches:
                    continue
                order.sla_breaches = [*order.sla_breaches, name]
                events.append(
                    OrderEvent(
                        order_id=order.pk,
                        at=at,
                        kind="sla_breached",
                        actor="system",
                        data={"deadline": name, "due_at": order.sla_due_at.isoformat()},
                    )
                )
            Order.objects.bulk_update([o for o in orders if o.sla_breaches], ["sla_breaches"])
            OrderEvent.objects.bulk_create(events)
            order_outbox.orders_emit(order_outbox.SLA_MISSED, [e.order_id for e in events])
        total += len(events)
    return total


#: the order history event that marks a deadline warned of (its ``data.deadline``)
AT_RISK_EVENT = "sla_at_risk"


def _warn_at_risk(at: datetime, *, batch_size: int) -> int:
    """Warn once of each deadline coming within ``AT_RISK_WINDOW`` (not yet missed: that is
    :func:`_mark_breaches`'s); the orders warned of."""
    total = 0
    qs = Order.objects.filter(sla_due_at__gt=at, sla_due_at__lte=at + AT_RISK_WINDOW)
    for ids in _ids_in_batches(qs, batch_size):
        with transaction.atomic():
            orders = list(
                Order.objects.filter(
                    pk__in=ids, sla_due_at__gt=at, sla_due_at__lte=at + AT_RISK_WINDOW
                )
                .select_for_update(skip_locked=True)
                .only(*_DEADLINE_FIELDS)
            )
            warned = set(
                OrderEvent.objects.filter(
                    order_id__in=[o.pk for o in orders], kind=AT_RISK_EVENT
                ).values_list("order_id", "data__deadline")
            )
            events = []
            for order in orders:
                name = _breach_name(order)
                if (order.pk, name) in warned:
                    continue
                events.append(
                    OrderEvent(
                        order_id=order.pk,
                        at=at,
                        kind=AT_RISK_EVENT,
                        actor="system",
                        data={"deadline": name, "due_at": order.sla_due_at.isoformat()},
                    )
                )
            OrderEvent.objects.bulk_create(events)
            order_outbox.orders_emit(order_outbox.SLA_AT_RISK, [e.order_id for e in events])
        total += len(events)
    return total
