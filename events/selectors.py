"""Reads of events' tables."""

from __future__ import annotations

from django.utils import timezone

from events.models import Delivery, DeliveryStatus


def deliveries_due() -> bool:
    """Some pending delivery's time has come (its endpoint may still be resting)."""
    return Delivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now()
    ).exists()
