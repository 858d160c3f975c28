"""Kuaidi100's tracking pushes, sent by the local Kuaidi100 over real HTTP to the running
app (``live_server``) at the callback URL it was given when the number was ordered.

What is asserted is what the merchant sees (the waybill's and the order's state, the
tracking events) and what Kuaidi100 reads (the answer); on a refusal, that nothing
changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from carriers.gateways.kuaidi100 import CHINA
from shops.models import Order
from tests.conftest import ensure_carrier_catalog, main_actor, make_order
from tests.fakes.kuaidi100 import FakeKuaidi100, connect
from tests.waybills.conftest import open_service
from waybills.models import TrackingEvent, Waybill
from waybills.services import waybill_allocate

pytestmark = pytest.mark.django_db(transaction=True)

TAKEN = {"result": True, "returnCode": "200", "message": "成功"}


@pytest.fixture
def fake():
    server = FakeKuaidi100().start()
    yield server
    server.stop()


@pytest.fixture
def waybill(fake, shop_a, settings, live_server):
    """A ZTO number ordered through the local Kuaidi100, subscribed to tracking pushes."""
    settings.PUBLIC_BASE_URL = live_server.url
    ensure_carrier_catalog()
    connect(fake)
    sub = open_service(shop_a, "ZTO", balance=5, monthly_account="ZTO-EB-0001")
    order = make_order(shop_a)
    number = waybill_allocate(actor=main_actor(shop_a), order=order.pk, subscription=sub.pk)
    return number.parent


def china(minutes: int) -> str:
    """A time ``minutes`` from now as Kuaidi100 writes it (China time, to the second)."""
    at = timezone.now() + timedelta(minutes=minutes)
    return timezone.localtime(at, CHINA).strftime("%Y-%m-%d %H:%M:%S")


def state(waybill) -> tuple:
    waybill.refresh_from_db()
    order = Order.objects.get(pk=waybill.order_id)
    events = list(
        TrackingEvent.objects.filter(waybill=waybill)
        .order_by("occurred_at")
        .values_list("status", "description")
    )
    return waybill.status, order.status, order.tracking_no, events


def test_a_signed_pickup_ships_the_order_and_a_replay_records_nothing_new(fake, waybill):
    subscribed = fake.subscriptions[waybill.waybill_no]
    assert subscribed["callback"].endswith("/api/v1/carrier/push/kuaidi100/")
    picked_up = china(1)
    pickup = fake.push_form(
        waybill.waybill_no, state=1, events=[(picked_up, "【杭州市】快件已揽收", "揽收")]
    )
    assert fake.push(waybill.waybill_no, form=pickup) == (200, TAKEN)
    assert state(waybill) == (
        "picked_up",
        "shipped",
        waybill.waybill_no,
        [("picked_up", "【杭州市】快件已揽收")],
    )
    event = TrackingEvent.objects.get(waybill=waybill)
    assert timezone.localtime(event.occurred_at, CHINA).strftime("%Y-%m-%d %H:%M:%S") == (picked_up)
    assert event.location == "浙江,杭州市"

    # the same push again, and the next one with the whole track: only the news is recorded
    assert fake.push(waybill.waybill_no, form=pickup) == (200, TAKEN)
    history = [
        (china(3), "【杭州转运中心】已发出", "在途"),
        (picked_up, "【杭州市】快件已揽收", "揽收"),
    ]
    assert fake.push(waybill.waybill_no, state=0, events=history) == (200, TAKEN)
    assert state(waybill) == (
        "in_transit",
        "in_transit",
        waybill.waybill_no,
        [("picked_up", "【杭州市】快件已揽收"), ("in_transit", "【杭州转运中心】已发出")],
    )


def test_an_item_without_a_status_takes_the_state_only_if_it_is_the_newest(fake, waybill):
    # no per-item status (no resultv2): the newest is signed for, the older one is unknown
    events = [(china(2), "已签收,签收人:本人"), (china(1), "派件中")]
    assert fake.push(waybill.waybill_no, state=3, events=events) == (200, TAKEN)
    assert state(waybill)[0] == "delivered"
    assert state(waybill)[3] == [("delivered", "已签收,签收人:本人")]


def test_a_wrong_signature_is_refused_and_nothing_changes(fake, waybill):
    before = state(waybill)
    pickup = [(china(1), "快件已揽收", "揽收")]
    forged = fake.push_form(waybill.waybill_no, state=1, events=pickup, salt="guessed")
    status, body = fake.push(waybill.waybill_no, form=forged)
    assert (status, body["code"]) == (401, "NOT_AUTHENTICATED")
    signed = fake.push_form(waybill.waybill_no, state=1, events=pickup)
    tampered = {**signed, "param": signed["param"].replace("快件已揽收", "快件已签收")}
    assert fake.push(waybill.waybill_no, form=tampered)[0] == 401
    unsigned = {"param": signed["param"]}
    assert fake.push(waybill.waybill_no, form=unsigned)[0] == 400
    assert state(waybill) == before == ("allocated", "paid", waybill.waybill_no, [])


def test_a_carrier_not_connected_through_kuaidi100_is_refused(fake, waybill):
    form = fake.push_form(
        waybill.waybill_no, state=1, events=[(china(1), "揽收", "揽收")], com="yuantong"
    )
    status, body = fake.push(waybill.waybill_no, form=form)
    assert (status, body["code"]) == (401, "NOT_AUTHENTICATED")
    assert state(waybill)[3] == []


def test_a_number_not_in_the_console_is_answered_and_nothing_changes(fake, waybill):
    url = fake.subscriptions[waybill.waybill_no]["callback"]
    stranger = "73100000000001"
    assert not Waybill.objects.filter(waybill_no=stranger).exists()
    form = fake.push_form(stranger, state=1, events=[(china(1), "快件已揽收", "揽收")])
    assert fake.push(stranger, url=url, form=form) == (200, TAKEN)
    assert not TrackingEvent.objects.exists()


def test_an_unreadable_push_is_a_validation_error(fake, waybill):
    url = fake.subscriptions[waybill.waybill_no]["callback"]
    status, body = fake.push(waybill.waybill_no, url=url, form={"param": "{", "sign": "00"})
    assert (status, body["code"]) == (400, "VALIDATION_ERROR")
    assert not TrackingEvent.objects.exists()
