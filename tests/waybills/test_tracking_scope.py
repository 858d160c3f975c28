"""A carrier branch reports tracking only for numbers drawn on its own subscriptions, and
only with a plausible event time (``waybills.services.tracking.TRACKING_*``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from carriers.models import Branch, LedgerEntry, Subscription
from shops.models import Order
from tests.conftest import main_actor, make_order, token_client
from tests.waybills.conftest import open_service
from waybills import services
from waybills.models import TrackingEvent, Violation, Waybill
from waybills.services.changes import waybill_cancellable
from waybills.services.tracking import TRACKING_CLOCK_SKEW, TRACKING_MAX_AGE

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/carrier/tracking-events/"


def post_event(api, waybill_no: str, at, status: str = "picked_up"):
    return api.post(
        EVENTS,
        {"waybill_no": waybill_no, "occurred_at": at.isoformat(), "status": status,
         "description": "快件已揽收", "location": "杭州"},
        format="json",
    )  # fmt: skip


def other_branch_of(branch: Branch) -> Branch:
    """Another branch of the same carrier (another province)."""
    return Branch.objects.filter(carrier=branch.carrier).exclude(pk=branch.pk).order_by("pk")[0]


def draw(shop, sub, at=None) -> Waybill:
    return services.waybill_allocate(
        actor=main_actor(shop), order=make_order(shop), subscription=sub, now=at
    ).parent


def snapshot(waybill: Waybill) -> tuple:
    w = Waybill.objects.get(pk=waybill.pk)
    order = Order.objects.get(pk=w.order_id)
    sub = Subscription.objects.get(pk=w.subscription_id)
    return (
        w.status, w.has_tracking, w.picked_up_at, w.first_tracked_at, w.last_changed_at,
        order.status, order.tracking_no, order.shipped_at,
        sub.balance, LedgerEntry.objects.filter(subscription=sub).count(),
        TrackingEvent.objects.filter(waybill=w).count(), Violation.objects.count(),
    )  # fmt: skip


def test_another_branch_of_the_same_carrier_cannot_post_tracking(shop_a, shop_b):
    victim_sub = open_service(shop_a, "ZTO", balance=5)
    waybill = draw(shop_a, victim_sub)
    intruder = other_branch_of(victim_sub.branch)
    assert intruder.carrier_id == victim_sub.branch.carrier_id
    before = snapshot(waybill)
    now = timezone.now()
    for status in ("picked_up", "in_transit", "delivered", "failed"):
        response = post_event(token_client(branch=intruder), waybill.waybill_no, now, status)
        assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
    # the same answer as for a number that does not exist
    unknown = post_event(token_client(branch=intruder), "75999999999999", now)
    assert unknown.status_code == 404 and unknown.json() == response.json()
    assert snapshot(waybill) == before  # not shipped, still cancellable
    assert waybill_cancellable(Waybill.objects.get(pk=waybill.pk))
    # the number's own branch still reports it
    own = post_event(token_client(branch=victim_sub.branch), waybill.waybill_no, now)
    assert own.status_code == 201
    assert Order.objects.get(pk=waybill.order_id).status == "shipped"


def test_another_branch_cannot_make_a_recycled_number_deduct_again(shop_a):
    """Tracking on a recycled number deducts its count again; another branch of the same
    carrier posting one must change nothing (no violation, no ledger entry)."""
    t0 = timezone.now() - timedelta(days=20)
    sub = open_service(shop_a, "ZTO", balance=5)
    waybill = draw(shop_a, sub, at=t0)
    services.waybill_cancel(actor=main_actor(shop_a), waybill=waybill, now=t0)
    assert services.waybills_recycle(as_of=t0 + timedelta(days=15))["cancelled"] == 1
    assert Waybill.objects.get(pk=waybill.pk).status == "recycled"
    before = snapshot(waybill)
    assert before[8] == 5  # the count came back to the balance

    intruder = token_client(branch=other_branch_of(sub.branch))
    response = post_event(intruder, waybill.waybill_no, timezone.now() - timedelta(hours=1))
    assert response.status_code == 404
    assert snapshot(waybill) == before
    assert not Violation.objects.exists()
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REDEDUCTION).exists()

    # the own branch's report is the real violation: deducted once
    own = post_event(token_client(branch=sub.branch), waybill.waybill_no, timezone.now())
    assert own.status_code == 201
    assert Subscription.objects.get(pk=sub.pk).balance == 4
    assert Violation.objects.get().waybill_id == waybill.pk


@pytest.mark.parametrize(
    "offset,word",
    [
        (TRACKING_CLOCK_SKEW + timedelta(minutes=1), "future"),
        (timedelta(days=3), "future"),
        (-(TRACKING_MAX_AGE + timedelta(days=1)), "old"),
        (-timedelta(days=3650), "old"),
    ],
)
def test_event_times_far_from_now_are_refused(shop_a, offset, word):
    sub = open_service(shop_a, "ZTO", balance=5)
    waybill = draw(shop_a, sub, at=timezone.now() - TRACKING_MAX_AGE - timedelta(days=5))
    before = snapshot(waybill)
    api = token_client(branch=sub.branch, language="en")
    response = post_event(api, waybill.waybill_no, timezone.now() + offset)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR" and list(body["detail"]) == ["occurred_at"]
    assert word in body["detail"]["occurred_at"][0]
    assert snapshot(waybill) == before


def test_an_event_before_the_number_was_drawn_is_refused(shop_a):
    drawn_at = timezone.now() - timedelta(days=2)
    sub = open_service(shop_a, "ZTO", balance=5)
    waybill = draw(shop_a, sub, at=drawn_at)
    before = snapshot(waybill)
    api = token_client(branch=sub.branch, language="en")
    early = post_event(api, waybill.waybill_no, drawn_at - TRACKING_CLOCK_SKEW - timedelta(hours=1))
    assert early.status_code == 400 and list(early.json()["detail"]) == ["occurred_at"]
    assert "before the number was drawn" in early.json()["detail"]["occurred_at"][0]
    assert snapshot(waybill) == before
    # within the clock skew of the draw, and a few minutes ahead of now: accepted
    assert post_event(api, waybill.waybill_no, drawn_at - timedelta(minutes=5)).status_code == 201
    ahead = timezone.now() + TRACKING_CLOCK_SKEW - timedelta(minutes=1)
    assert post_event(api, waybill.waybill_no, ahead, "in_transit").status_code == 201
    assert TrackingEvent.objects.filter(waybill=waybill).count() == 2


def test_the_bounds_are_checked_for_every_caller_of_the_service(shop_a):
    """The service itself refuses (ops' admin action and the API reach the same rule)."""
    from waybill_console.errors import ValidationError
    from waybill_console.tenancy import Actor

    sub = open_service(shop_a, "ZTO", balance=5)
    waybill = draw(shop_a, sub)
    before = snapshot(waybill)
    for actor in (Actor(shop=None, branch=sub.branch), Actor(shop=None, is_staff=True)):
        with pytest.raises(ValidationError) as caught:
            services.tracking_record(
                actor=actor,
                waybill_no=waybill.waybill_no,
                occurred_at=timezone.now() + timedelta(days=1),
                status="picked_up",
            )
        assert list(caught.value.detail) == ["occurred_at"]
    assert snapshot(waybill) == before
