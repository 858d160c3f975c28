"""The delivery engine against a local receiver over real HTTP, with a real Celery worker
on the events queue: Standard Webhooks signatures checked by the published library,
retries after 500s and time-outs, redirects not followed, internal addresses refused at
connect time, a slow endpoint not holding back another, an endpoint that keeps failing
disabled and its shop told."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from events import signing
from events.models import Delivery, DeliveryAttempt, Endpoint, Event, Notification
from events.services.delivery import deliveries_send
from events.services.dispatch import events_dispatch
from events.services.outbox import emit, emit_many
from tests.conftest import make_shop
from tests.fakes.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db(transaction=True)

QUOTA_LOW = {"id": 7, "carrier": "ZTO", "balance": 42}


def endpoint(shop, url: str, **kw) -> tuple[Endpoint, str]:
    secret = signing.new_secret()
    return Endpoint.objects.create(shop=shop, url=url, secret=secret, **kw), secret


def wait_delivery(delivery_filter: dict, status: str, timeout: float = 30.0) -> Delivery:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = Delivery.objects.filter(**delivery_filter).first()
        if found is not None and found.status == status:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {status} delivery for {delivery_filter}: {found and found.status}")


@pytest.mark.worker
def test_an_event_is_posted_signed_and_the_published_verifier_accepts_it(receiver, events_worker):
    shop = make_shop()
    ep, secret = endpoint(shop, receiver.url)
    with transaction.atomic():
        emit(shop.id, "quota.low", QUOTA_LOW, link="/console/carriers/")

    [got] = receiver.wait_for(1)
    payload = Webhook(secret).verify(got.body, got.headers)  # raises on a bad signature
    event = Event.objects.get(shop=shop)
    assert payload == {
        "type": "quota.low",
        "timestamp": event.at.isoformat(),
        "data": QUOTA_LOW,
    }
    assert got.headers["webhook-id"] == event.msg_id
    assert got.headers["content-type"] == "application/json"
    with pytest.raises(WebhookVerificationError):  # another endpoint's secret does not
        Webhook(signing.new_secret()).verify(got.body, got.headers)
    delivery = wait_delivery({"endpoint": ep}, "succeeded")
    assert delivery.attempts == 1 and delivery.last_status_code == 200
    assert delivery.last_latency_ms is not None


@pytest.mark.worker
def test_500s_and_a_time_out_are_retried_with_the_same_id_until_delivered(
    receiver, events_worker, settings
):
    settings.WEBHOOK_TIMEOUT = 0.5
    receiver.hang = 1.5
    receiver.script = [500, "timeout", 503]  # then 200
    shop = make_shop()
    ep, secret = endpoint(shop, receiver.url)
    emit(shop.id, "quota.low", QUOTA_LOW)

    delivery = wait_delivery({"endpoint": ep}, "succeeded", timeout=60)
    assert delivery.attempts == 4
    log = list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("id"))
    assert [(a.status_code, a.error) for a in log] == [
        (500, "HTTP 500"),
        (None, "timed out"),
        (503, "HTTP 503"),
        (200, ""),
    ]
    answered = receiver.wait_for(4, ok_only=False)
    assert {r.headers["webhook-id"] for r in answered} == {delivery.event.msg_id}
    for r in answered:  # each attempt signed afresh, each verifies
        Webhook(secret).verify(r.body, r.headers)
    ep.refresh_from_db()
    assert (ep.consecutive_failures, ep.failing_since) == (0, None)


def test_no_event_and_no_delivery_for_a_change_that_rolled_back(receiver):
    shop = make_shop()
    endpoint(shop, receiver.url)
    with pytest.raises(RuntimeError), transaction.atomic():
        emit(shop.id, "quota.low", QUOTA_LOW)
        raise RuntimeError("the change failed after the event was written")
    assert events_dispatch() == 0
    deliveries_send(seconds=5)
    assert not Event.objects.exists() and not Delivery.objects.exists()
    assert receiver.received == []


def test_a_loopback_url_is_refused_at_connect_time_unless_its_network_is_allowed(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    settings.WEBHOOK_RETRY_SCHEDULE = [60, 60]
    shop = make_shop()
    with WebhookReceiver() as r:
        # saved past the form's check (an address that changed since, a rebinding name)
        for url in (r.url, r.url.replace("127.0.0.1", "localhost")):
            ep, _ = endpoint(shop, url)
            emit(shop.id, "quota.low", QUOTA_LOW)
            events_dispatch()
            deliveries_send(seconds=10)
            delivery = Delivery.objects.get(endpoint=ep)
            assert delivery.status == "pending" and delivery.attempts == 1
            assert delivery.last_error.startswith("address not allowed: 127.0.0.1")
            ep.delete()
        assert r.received == []

        settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
        ep, _ = endpoint(shop, r.url)
        emit(shop.id, "quota.low", QUOTA_LOW)
        events_dispatch()
        deliveries_send(seconds=10)
        assert Delivery.objects.get(endpoint=ep).status == "succeeded"
        assert len(r.received) == 1


def test_a_redirect_is_not_followed_and_counts_as_a_failure(receiver):
    with WebhookReceiver() as elsewhere:
        receiver.redirect_to = elsewhere.url
        shop = make_shop()
        ep, _ = endpoint(shop, receiver.url)
        emit(shop.id, "quota.low", QUOTA_LOW)
        events_dispatch()
        deliveries_send(seconds=10)
        delivery = Delivery.objects.get(endpoint=ep)
        assert (delivery.status, delivery.last_status_code) == ("pending", 302)
        assert elsewhere.received == []


@pytest.mark.worker
def test_a_slow_endpoint_does_not_hold_back_another_shops_events(receiver, events_worker):
    events = 20
    with WebhookReceiver() as slow:
        slow.delay = 1.0  # every answer a second late (within the time-out)
        slow_shop, fast_shop = make_shop(), make_shop()
        endpoint(slow_shop, slow.url)
        endpoint(fast_shop, receiver.url)
        with transaction.atomic():  # the slow endpoint's events come first
            emit_many("quota.low", [(slow_shop.id, {"n": i}, "") for i in range(events)])
            emit_many("quota.low", [(fast_shop.id, {"n": i}, "") for i in range(events)])

        got = receiver.wait_for(events, timeout=30)
        assert [json.loads(r.body)["data"]["n"] for r in got] == list(range(events))  # in order
        # the fast endpoint was served in full while the slow one had taken a few
        assert len(slow.received) < events // 2


def test_an_endpoint_failing_for_days_is_disabled_and_its_shop_told(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.WEBHOOK_RETRY_SCHEDULE = [0, 0, 0]
    shop = make_shop()
    with WebhookReceiver() as r:
        r.default_status = 500
        ep, _ = endpoint(shop, r.url)
        Endpoint.objects.filter(pk=ep.pk).update(
            failing_since=timezone.now() - timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS),
            consecutive_failures=40,
        )
        emit(shop.id, "quota.low", QUOTA_LOW)
        events_dispatch()
        deliveries_send(seconds=10)
        ep.refresh_from_db()
        assert not ep.is_enabled and ep.disabled_reason.startswith("failing since")
        assert len(r.received) == 1  # nothing more is posted to a disabled endpoint
        events_dispatch()
        told = Notification.objects.get(shop=shop, type="webhook.endpoint.disabled")
        assert told.link == f"/console/webhooks/{ep.pk}/"
        emit(shop.id, "quota.low", QUOTA_LOW)
        events_dispatch()
        deliveries_send(seconds=5)
        assert len(r.received) == 1
        assert Delivery.objects.filter(endpoint=ep).count() == 1  # none made while disabled


def test_events_tasks_go_to_their_own_queue_never_the_allocation_workers():
    """A burst of deliveries waits on the events worker's queue, not in front of batch
    allocations and print jobs (the default queue)."""
    from waybill_console.celery import app

    for task in ("events.tasks.dispatch", "events.tasks.deliver", "events.tasks.sweep"):
        assert app.amqp.router.route({}, task)["queue"].name == "events"
    for task in ("waybill_console.tasks.run_job", "printing.tasks.send_print_job"):
        assert app.amqp.router.route({}, task)["queue"].name == "celery"


def test_old_events_are_purged_with_their_logs_but_never_one_still_being_delivered():
    shop = make_shop()
    ep, _ = endpoint(shop, "https://93.184.216.34/h")
    emit_many("quota.low", [(shop.id, {"n": i}, "") for i in range(3)])
    events_dispatch()
    old, pending, recent = Event.objects.order_by("id")
    Event.objects.filter(pk__in=[old.pk, pending.pk]).update(at=timezone.now() - timedelta(days=31))
    Delivery.objects.filter(event__in=[old, recent]).update(status="succeeded")
    from events.services.dispatch import events_purge

    assert events_purge() == 1
    assert set(Event.objects.values_list("pk", flat=True)) == {pending.pk, recent.pk}
    assert not Notification.objects.filter(event_id=old.pk).exists()
    assert Delivery.objects.filter(endpoint=ep).count() == 2


def _queued(queue: str) -> int:
    from waybill_console.celery import app

    with app.connection_for_write() as conn:
        return conn.default_channel.client.llen(queue)


def test_a_send_under_way_lets_the_next_retry_be_scheduled(receiver, settings):
    """The run scheduled for a retry starts: if it fails again, the retry after it is
    scheduled too (the "one scheduled run at a time" mark belongs to the run under way),
    not left to beat's sweep."""
    from waybill_console.celery import app

    settings.WEBHOOK_RETRY_SCHEDULE = [2, 2, 2]
    receiver.script = [500, 500]
    shop = make_shop()
    endpoint(shop, receiver.url)
    emit(shop.id, "quota.low", QUOTA_LOW)
    events_dispatch()
    before = _queued("events")
    try:
        deliveries_send(seconds=5)  # the first attempt fails: its retry is scheduled
        assert _queued("events") == before + 1
        deliveries_send(seconds=5)  # the scheduled run (nothing due yet) ends: again
        assert _queued("events") == before + 2
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.client.delete("events")
