"""The dispatcher: each committed event becomes one delivery per enabled endpoint of its
shop that wants the type, and a notification when people are told of the type.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` in batches, so two dispatchers never
take the same event and a burst of ten thousand events is a few dozen statements. The
deliveries, the notifications and the ``dispatched_at`` mark commit together: a
dispatcher killed half-way leaves the batch for the next one, and the unique
(endpoint, event) pair keeps a delivery from being made twice.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from events.models import Delivery, Endpoint, Event, Notification
from events.services import notifications
from events.services.outbox import kick_taken
from events.types import TYPES

BATCH = 500


def events_dispatch(*, batch: int = BATCH) -> int:
    """Dispatch every undispatched event; the number dispatched."""
    kick_taken()
    total = 0
    while True:
        done = _dispatch_batch(batch)
        if not done:
            break
        total += done
    if total:
        from events.services.delivery import deliver_kick

        deliver_kick()
    return total


def _dispatch_batch(batch: int) -> int:
    now = timezone.now()
    with transaction.atomic():
        events = list(
            Event.objects.select_for_update(skip_locked=True)
            .filter(dispatched_at__isnull=True)
            .order_by("id")[:batch]
        )
        if not events:
            return 0
        by_shop: dict[int, list[Endpoint]] = {}
        for endpoint in Endpoint.objects.filter(
            shop_id__in={e.shop_id for e in events}, is_enabled=True
        ).only("id", "shop_id", "event_types"):
            by_shop.setdefault(endpoint.shop_id, []).append(endpoint)
        deliveries = [
            Delivery(endpoint=endpoint, event=event, next_attempt_at=now, created_at=now)
            for event in events
            for endpoint in by_shop.get(event.shop_id, ())
            if endpoint.wants(event.type)
        ]
        Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        told = [e for e in events if e.type in TYPES and TYPES[e.type].notify]
        if told:
            Notification.objects.bulk_create(
                [notifications.notification_for(e) for e in told], ignore_conflicts=True
            )
        Event.objects.filter(id__in=[e.id for e in events]).update(dispatched_at=now)
    return len(events)


def events_purge(*, days: float | None = None, now=None) -> int:
    """Drop events (with their deliveries, attempt logs and notifications) older than
    ``EVENT_LOG_DAYS``, none of whose deliveries is still pending; the events dropped.
    Beat runs it daily: a burst of ten thousand events a day does not grow the tables
    for ever."""
    from datetime import timedelta

    from django.conf import settings

    from events.models import DeliveryStatus

    now = now or timezone.now()
    cutoff = now - timedelta(days=days if days is not None else settings.EVENT_LOG_DAYS)
    old = Event.objects.filter(at__lt=cutoff, dispatched_at__isnull=False).exclude(
        deliveries__status=DeliveryStatus.PENDING
    )
    total = 0
    while True:
        ids = list(old.values_list("pk", flat=True)[:5000])
        if not ids:
            return total
        Event.objects.filter(pk__in=ids).delete()
        total += len(ids)
