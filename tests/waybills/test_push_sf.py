"""SF's route push (``POST /api/v1/carrier/push/sf/``) over real HTTP: the fake SF posts
routes to the running app as SF would, with the push secret of the SF gateway in the
URL. A good push moves the waybill and the order; a replay changes nothing; a push
without the secret is refused with nothing changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from carriers.gateways.sf import op_code_status
from carriers.models import Carrier, GatewayConfig
from shops.models import Order
from tests.conftest import main_actor, make_order
from tests.fakes.sf import MONTHLY_CARD, FakeSF, gateway_config
from tests.waybills.conftest import open_service
from waybills.models import TrackingEvent, TrackingStatus, Waybill
from waybills.services import waybill_allocate

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "sf-push-3c1f0a8e9b7d4e62a5f1"
TAKEN = {"return_code": "0000", "return_msg": "成功"}
BEIJING = timezone.get_fixed_timezone(8 * 60)


@pytest.fixture
def fake(settings):
    settings.CARRIER_RETRIES = 0
    server = FakeSF().start()
    yield server
    server.stop()


@pytest.fixture
def waybill(fake, shop_a):
    """An SF number drawn through the fake two hours ago."""
    gateway_config(fake, push_token=TOKEN)
    sub = open_service(shop_a, "SF", balance=0, monthly_account=MONTHLY_CARD)
    order = make_order(shop_a)
    drawn_at = timezone.now() - timedelta(hours=2)
    return waybill_allocate(
        actor=main_actor(shop_a), order=order.pk, subscription=sub.pk, now=drawn_at
    ).parent


def _url(live_server, token: str | None = TOKEN) -> str:
    url = f"{live_server.url}/api/v1/carrier/push/sf/"
    return url if token is None else f"{url}?token={token}"


def _beijing(moment) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _route(fake: FakeSF, waybill: Waybill, op_code: str, at, remark: str = "") -> dict:
    return fake.route(
        mailno=waybill.waybill_no,
        orderid=waybill.carrier_order_id,
        op_code=op_code,
        accept_time=_beijing(at),
        remark=remark,
        address="杭州市西湖区",
    )


def _state(waybill: Waybill) -> tuple:
    waybill.refresh_from_db()
    order = Order.objects.get(pk=waybill.order_id)
    events = list(TrackingEvent.objects.filter(waybill=waybill).values_list("status", flat=True))
    return waybill.status, order.status, events


def test_a_pushed_pickup_ships_the_order_and_a_replay_records_nothing(fake, waybill, live_server):
    picked_at = (timezone.now() - timedelta(hours=1)).replace(microsecond=0)
    pickup = _route(fake, waybill, "50", picked_at, "顺丰速运 已收取快件")
    answer = fake.push_routes(_url(live_server), [pickup])
    assert (answer.status_code, answer.json()) == (200, TAKEN)
    assert _state(waybill) == ("picked_up", "shipped", ["picked_up"])
    event = TrackingEvent.objects.get(waybill=waybill)
    assert event.occurred_at == picked_at  # SF's Beijing time, read as such
    assert (event.description, event.location) == ("顺丰速运 已收取快件", "杭州市西湖区")
    order = Order.objects.get(pk=waybill.order_id)
    assert order.tracking_no == waybill.waybill_no and order.picked_up_at == picked_at

    # SF pushes the same route again (and once more inside one push): nothing new
    again = fake.push_routes(_url(live_server), [pickup, pickup])
    assert (again.status_code, again.json()) == (200, TAKEN)
    assert _state(waybill) == ("picked_up", "shipped", ["picked_up"])

    moving = _route(fake, waybill, "30", picked_at + timedelta(minutes=20), "快件完成分拣")
    signed = _route(fake, waybill, "80", picked_at + timedelta(minutes=40), "快件已签收")
    assert fake.push_routes(_url(live_server), [moving, signed]).json() == TAKEN
    assert _state(waybill) == ("delivered", "delivered", ["delivered", "in_transit", "picked_up"])


@pytest.mark.parametrize("token", [None, "", "sf-push-wrong", TOKEN.upper()])
def test_a_push_without_the_secret_is_refused_and_changes_nothing(
    fake, waybill, live_server, token
):
    before = _state(waybill)
    pickup = _route(fake, waybill, "50", timezone.now() - timedelta(minutes=30))
    answer = fake.push_routes(_url(live_server, token), [pickup])
    assert answer.status_code == 403
    assert answer.json()["code"] == "PERMISSION_DENIED"
    assert answer.json().get("return_code") != "0000"
    assert _state(waybill) == before == ("allocated", "paid", [])


def test_another_gateways_secret_does_not_open_the_sf_push(fake, waybill, live_server):
    GatewayConfig.objects.create(
        carrier=Carrier.objects.get(code="ZTO"), kind="kuaidi100", callback_salt="zto-salt-1"
    )
    pickup = _route(fake, waybill, "50", timezone.now() - timedelta(minutes=30))
    assert fake.push_routes(_url(live_server, "zto-salt-1"), [pickup]).status_code == 403
    assert _state(waybill)[2] == []


def test_a_push_that_cannot_be_read_is_not_taken_and_records_nothing(fake, waybill, live_server):
    at = timezone.now() - timedelta(minutes=30)
    eleven = [_route(fake, waybill, "30", at + timedelta(seconds=i)) for i in range(11)]
    not_taken = fake.push_routes(_url(live_server), eleven)
    assert (not_taken.status_code, not_taken.json()["return_code"]) == (200, "1000")
    bad_time = {**_route(fake, waybill, "50", at), "acceptTime": "2026/12/01 10:00"}
    assert fake.push_routes(_url(live_server), [bad_time]).json()["return_code"] == "1000"
    assert fake.push_routes(_url(live_server), []).json()["return_code"] == "1000"
    assert _state(waybill)[2] == []


def test_a_route_for_a_number_not_ours_is_acknowledged_and_skipped(fake, waybill, live_server):
    at = timezone.now() - timedelta(minutes=30)
    stranger = {**_route(fake, waybill, "50", at), "mailno": "SF1234567890128"}
    other_order = {**_route(fake, waybill, "50", at), "orderid": "SOMEONE-ELSES-ORDER"}
    answer = fake.push_routes(_url(live_server), [stranger, other_order])
    assert answer.json() == TAKEN  # pushing them again would not change anything
    assert _state(waybill)[2] == []


def test_a_returned_parcel_is_a_failed_delivery(fake, waybill, live_server):
    at = timezone.now() - timedelta(minutes=50)
    routes = [
        _route(fake, waybill, "54", at, "顺丰速运 已收取快件"),
        _route(fake, waybill, "648", at + timedelta(minutes=30), "快件已退回"),
    ]
    assert fake.push_routes(_url(live_server), routes).json() == TAKEN
    assert _state(waybill) == ("failed", "delivery_failed", ["failed", "picked_up"])


def test_op_codes_map_onto_tracking_statuses():
    expected = {
        "50": TrackingStatus.PICKED_UP,
        "54": TrackingStatus.PICKED_UP,
        "30": TrackingStatus.IN_TRANSIT,
        "44": TrackingStatus.IN_TRANSIT,
        "70": TrackingStatus.IN_TRANSIT,
        "80": TrackingStatus.DELIVERED,
        "8080": TrackingStatus.DELIVERED,
        "648": TrackingStatus.FAILED,
        "99": TrackingStatus.FAILED,
    }
    assert {code: op_code_status(code) for code in expected} == expected
