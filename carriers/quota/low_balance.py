"""The low-balance notice (``quota.low``): a prepaid (franchise) service's balance goes
under :data:`carriers.selectors.LOW_BALANCE` (单号余额不足) with a draw.

Told once per crossing, never once per draw: a draw crosses when the balance it left is
under the line and the balance before it (what it left plus what it charged) was not. The
reserving statement answers the balance it left (the quota row's own value, read under its
lock), so a crossing is known exactly.

The notice is written in the reservation's transaction: a draw that may cross (the
balance read before it lies within :data:`NEAR` numbers above the line plus what it
draws) reserves inside a transaction (:func:`carriers.quota.reservations.reserve`) and the
allocation's one-round-trip path steps aside for it. A draw the read balance did not
foresee crossing (others drew or recharged meanwhile, more than :data:`NEAR`) is still
told, right after its own statement committed: the one case where the notice does not
commit with the draw (a crash between the two loses that notice, never the balance, and
概览 shows the low balance anyway).
"""

from __future__ import annotations

from carriers.models import Subscription

#: how far the read balance may lag behind the row's (draws of others between the read and
#: the reservation: a few requests, or batch chunks, at once)
NEAR = 500


def _line() -> int:
    from carriers.selectors import LOW_BALANCE

    return LOW_BALANCE


def _prepaid(sub: Subscription) -> bool:
    from carriers.quota.reservations import _prepaid as charged_per_number

    return charged_per_number(sub)


def low_balance_near(*, sub: Subscription, count: int) -> bool:
    """Whether drawing ``count`` numbers may take ``sub`` under the line, by its balance as
    read (a prepaid service at or above the line, within :data:`NEAR` plus ``count``)."""
    line = _line()
    return _prepaid(sub) and line <= sub.balance < line + count + NEAR


def low_balance_crossed(*, balance: int, charge: int) -> bool:
    """The draw that charged ``charge`` and left ``balance`` crossed the line."""
    line = _line()
    return charge > 0 and balance < line <= balance + charge


def low_balance_drawn(*, sub: Subscription, balance: int, count: int) -> bool:
    """A draw of ``count`` numbers left ``balance``: keep it on ``sub`` (the next draw of
    the same request or batch reads it) and tell ``quota.low`` if it crossed the line, in
    the caller's transaction when there is one. True when told."""
    sub.balance = balance
    charge = count if _prepaid(sub) else 0
    if not low_balance_crossed(balance=balance, charge=charge):
        return False
    return low_balance_emit(subscription_id=sub.pk)


def low_balance_emit(*, subscription_id: int) -> bool:
    """Write ``quota.low`` for the service's shop (people are told: the bell), as the
    subscriptions API shows the service."""
    from django.urls import reverse

    from carriers.api.serializers import SubscriptionSerializer
    from events.services.outbox import emit
    from events.services.outbox_sql import api_json

    sub = Subscription.objects.select_related("carrier", "branch", "shop").get(pk=subscription_id)
    return emit(
        sub.shop_id,
        "quota.low",
        api_json(SubscriptionSerializer(sub).data),
        link=reverse("console:subscription_list"),
    )
