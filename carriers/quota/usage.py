"""Usage counters kept on the subscription beside its quota (shown on its page)."""

from __future__ import annotations

from django.db.models import F

from carriers.models import Subscription


def printed_add(*, per_subscription: dict[int, int]) -> None:
    """Count labels printed, per subscription, in the caller's transaction (ids in order:
    the rows are locked in a fixed order, so two confirmations never deadlock)."""
    for sub_id in sorted(per_subscription):
        Subscription.objects.filter(pk=sub_id).update(
            printed_total=F("printed_total") + per_subscription[sub_id]
        )
