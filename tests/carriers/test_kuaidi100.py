"""The Kuaidi100 (快递100) gateway against a local Kuaidi100 over real HTTP
(:mod:`tests.fakes.kuaidi100`: signatures checked, the documented answers and refusals).

Allocations go through the one path (``waybill_allocate``), the carrier configured as an
operator would (:class:`GatewayConfig` kind ``kuaidi100``); what is asserted is what the
merchant and the carrier see: numbers, routing on the waybill, balances, the reservation,
what the carrier was sent and what it issued."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from carriers.gateways import gateway_for
from carriers.gateways.builtin import number_is_valid
from carriers.gateways.kuaidi100 import Kuaidi100Gateway, push_sign, sign
from carriers.models import GatewayCall, GatewayConfig, Reservation
from carriers.quota import ledger_check
from carriers.services import subscription_recharge
from tests.conftest import ensure_carrier_catalog, main_actor, make_order
from tests.fakes.kuaidi100 import KEY, ROUTING, SALT, FakeKuaidi100, connect
from tests.waybills.conftest import branch_actor, open_service
from waybill_console.errors import AppError
from waybills.models import Waybill
from waybills.services import waybill_allocate, waybill_allocate_many, waybill_cancel
from waybills.services.settle import reservations_settle

pytestmark = pytest.mark.django_db(transaction=True)

PARTNER_ID, PARTNER_KEY = "ZTO-EB-0001", "eb-partner-key"
PUBLIC = "https://wbc.example"


@pytest.fixture
def fake():
    server = FakeKuaidi100().start()
    yield server
    server.stop()


@pytest.fixture
def sub(fake, shop_a, settings):
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.CARRIER_READ_TIMEOUT = 3.0
    ensure_carrier_catalog()
    connect(fake)
    return open_service(
        shop_a, "ZTO", balance=10, monthly_account=PARTNER_ID, secret_key=PARTNER_KEY
    )


def balance(sub) -> int:
    sub.refresh_from_db(fields=["balance"])
    return sub.balance


def test_the_signatures_reproduce_the_computed_vectors():
    param = '{"kuaidicom":"zhongtong","kuaidinum":"73100000000001"}'
    assert sign(param, "1576123932000", "testkey", "testsecret") == (
        "008F9E8E687096B13184022DE4DD665F"
    )
    assert push_sign('{"status":"polling"}', "salt123") == "D3E37349DAA1504C5808621A3D636F88"


def test_a_number_is_ordered_from_kuaidi100_with_the_routing_it_answers(fake, sub, shop_a):
    assert isinstance(gateway_for("ZTO"), Kuaidi100Gateway)
    order = make_order(shop_a)
    waybill = waybill_allocate(actor=main_actor(shop_a), order=order.pk, subscription=sub.pk).parent

    [asked] = fake.calls("order")
    answered = fake.orders[waybill.carrier_order_id]
    assert waybill.waybill_no == answered["kuaidinum"] and number_is_valid(
        "ZTO", waybill.waybill_no
    )
    param = asked["param"]
    assert (param["printType"], param["kuaidicom"], param["orderId"], param["reorder"]) == (
        "NON",
        "zhongtong",
        waybill.carrier_order_id,
        False,
    )
    assert (param["partnerId"], param["partnerKey"], param["net"]) == (
        PARTNER_ID,
        PARTNER_KEY,
        sub.branch.code,
    )
    assert param["recMan"] == {
        "name": "张三",
        "mobile": "13812345678",
        "printAddr": "浙江省杭州市西湖区文三路 90 号 3 幢 501",
    }
    assert param["sendMan"]["name"] == "王经理" and param["sendMan"]["printAddr"].startswith(
        "浙江省杭州市余杭区"
    )
    assert (param["count"], "needChild" in param) == (1, False)
    assert (param["needSubscribe"], param["pollCallBackUrl"], param["salt"]) == (
        True,
        f"{PUBLIC}/api/v1/carrier/push/kuaidi100/",
        SALT,
    )
    # the label's routing is the carrier's; the rest of its answer is the print data
    assert (waybill.sort_code, waybill.package_center_code, waybill.package_center_name) == (
        "310-W01-00",
        "571",
        "杭州中心",
    )
    assert (waybill.short_address_code, waybill.short_address_name) == ("", "杭州 西湖 310")
    assert waybill.print_data["kdComOrderNum"] == answered["kdComOrderNum"]
    assert waybill.print_data["twoDimensionCode"] == ROUTING["twoDimensionCode"]
    assert waybill.print_data["destRouteLabel"] == ROUTING["destRouteLabel"]
    assert balance(sub) == 9
    # the call log keeps no consumer data and no partner key
    [call] = GatewayCall.objects.filter(kind="kuaidi100", operation="order")
    logged = json.dumps(call.request, ensure_ascii=False) + call.response
    assert call.ok and call.carrier_order_id == waybill.carrier_order_id
    for secret in ("张三", "13812345678", "文三路", PARTNER_KEY, SALT, "王经理"):
        assert secret not in logged
    assert ledger_check() == []


def test_parent_and_sub_numbers_come_from_one_order(fake, sub, shop_a):
    order = make_order(shop_a)
    allocation = waybill_allocate(
        actor=main_actor(shop_a), order=order.pk, subscription=sub.pk, package_count=3
    )
    [asked] = fake.calls("order")
    assert (asked["param"]["count"], asked["param"]["needChild"]) == (3, "1")
    answered = fake.orders[allocation.parent.carrier_order_id]
    numbers = [w.waybill_no for w in allocation.waybills]
    assert numbers == [answered["kuaidinum"], *answered["childNum"].split(",")]
    children = Waybill.objects.filter(order=order, package_no__gt=1)
    assert {w.parent_id for w in children} == {allocation.parent.pk}
    assert balance(sub) == 7


@pytest.mark.parametrize(
    ("code", "expected", "message"),
    [
        (30004, "QUOTA_INSUFFICIENT", "单号余额不足，请尽快联系网点申购"),
        (30003, "MONTHLY_ACCOUNT_INVALID", "商家编码不存在/月结账号失效，请与物流公司核实"),
        (30001, "ALLOCATION_FAILED", "获取单号失败"),
        (-1, "ALLOCATION_FAILED", "获取单号失败"),
    ],
)
def test_a_refusal_is_our_stable_error_and_gives_the_quota_back(
    fake, sub, shop_a, code, expected, message
):
    fake.fail = (code, f"快递100说:{code}")
    order = make_order(shop_a)
    with pytest.raises(AppError) as refused:
        waybill_allocate(actor=main_actor(shop_a), order=order.pk, subscription=sub.pk)
    assert (refused.value.code, refused.value.render_message()) == (expected, message)
    assert refused.value.detail == {"carrier_code": code, "carrier_message": f"快递100说:{code}"}
    assert not refused.value.outcome_unknown
    assert Reservation.objects.get(order=order).state == "released"
    assert balance(sub) == 10 and not Waybill.objects.filter(order=order).exists()
    assert ledger_check() == []


def test_a_wrong_operator_secret_is_refused_by_the_signature_check_and_named(fake, shop_a):
    ensure_carrier_catalog()
    connect(fake, secret="not-the-secret")
    sub = open_service(shop_a, "ZTO", balance=5, monthly_account=PARTNER_ID)
    order = make_order(shop_a)
    with pytest.raises(AppError) as refused:
        waybill_allocate(actor=main_actor(shop_a), order=order.pk, subscription=sub.pk)
    assert refused.value.code == "GATEWAY_SIGNATURE_INVALID"
    assert refused.value.render_message() == (
        "快递公司接口验证签名失败：平台配置的快递100 key 或 secret 有误，请联系平台客服。"
    )
    assert fake.orders == {}
    assert balance(sub) == 5 and Reservation.objects.get(order=order).state == "released"


def test_no_partner_account_is_refused_before_anything_is_sent(fake, shop_a):
    ensure_carrier_catalog()
    connect(fake)
    sub = open_service(shop_a, "ZTO", balance=5)
    order = make_order(shop_a)
    with pytest.raises(AppError) as refused:
        waybill_allocate(actor=main_actor(shop_a), order=order.pk, subscription=sub.pk)
    assert refused.value.code == "MONTHLY_ACCOUNT_INVALID"
    assert fake.requests == [] and balance(sub) == 5


def test_a_lost_answer_keeps_the_reservation_and_the_sweep_commits_the_first_number(
    fake, sub, shop_a, settings
):
    settings.CARRIER_READ_TIMEOUT, settings.CARRIER_RETRIES = 0.3, 0
    fake.delay = 1.0  # the number is issued, the answer comes after our read time-out
    order = make_order(shop_a)
    with pytest.raises(AppError) as lost:
        waybill_allocate(actor=main_actor(shop_a), order=order.pk, subscription=sub.pk)
    assert lost.value.code == "ALLOCATION_TIMEOUT" and lost.value.outcome_unknown
    held = Reservation.objects.get(order=order)
    assert held.state == "reserved" and balance(sub) == 9
    [first] = fake.orders.values()

    fake.delay = 0
    later = timezone.now() + timedelta(minutes=10)
    assert reservations_settle(now=later) == {"committed": 1, "released": 0, "waiting": 0}
    [waybill] = Waybill.objects.filter(order=order)
    assert waybill.waybill_no == first["kuaidinum"]
    assert waybill.sort_code == "310-W01-00"
    assert len(fake.orders) == 1 and balance(sub) == 9
    assert ledger_check() == []


def test_a_retry_after_a_read_time_out_gets_the_number_already_issued(fake, sub, shop_a, settings):
    settings.CARRIER_READ_TIMEOUT = 0.3
    fake.delay = 1.0  # the first answer is lost; the carrier answers a replay at once
    order = make_order(shop_a)
    allocation = waybill_allocate(actor=main_actor(shop_a), order=order.pk, subscription=sub.pk)
    asked = fake.calls("order")
    assert len(asked) == 2 and asked[0]["form"] == asked[1]["form"]  # the very same request
    [issued] = fake.orders.values()
    assert list(fake.by_number) == [issued["kuaidinum"]]  # one number issued, not two
    assert allocation.parent.waybill_no == issued["kuaidinum"] and balance(sub) == 9


def test_an_unreadable_answer_is_an_unknown_outcome_settled_by_replay(fake, sub, shop_a):
    fake.malformed = True
    order = make_order(shop_a)
    with pytest.raises(AppError) as unread:
        waybill_allocate(actor=main_actor(shop_a), order=order.pk, subscription=sub.pk)
    assert unread.value.code == "ALLOCATION_FAILED" and unread.value.outcome_unknown
    assert Reservation.objects.get(order=order).state == "reserved"
    fake.malformed = False
    allocation = waybill_allocate(actor=main_actor(shop_a), order=order.pk, subscription=sub.pk)
    [issued] = fake.orders.values()
    assert allocation.parent.waybill_no == issued["kuaidinum"] and balance(sub) == 9


def test_a_server_error_keeps_the_reservation_and_a_refused_replay_releases_it(fake, sub, shop_a):
    fake.http_status = 500  # nothing issued, nothing said
    order = make_order(shop_a)
    with pytest.raises(AppError) as failed:
        waybill_allocate(actor=main_actor(shop_a), order=order.pk, subscription=sub.pk)
    assert failed.value.code == "ALLOCATION_TIMEOUT"
    assert Reservation.objects.get(order=order).state == "reserved" and balance(sub) == 9

    fake.http_status, fake.fail = None, (30004, "账号单量不足")
    later = timezone.now() + timedelta(minutes=10)
    assert reservations_settle(now=later) == {"committed": 0, "released": 1, "waiting": 0}
    assert balance(sub) == 10 and not Waybill.objects.filter(order=order).exists()
    assert ledger_check() == []


def test_a_batch_asks_the_carrier_concurrently_with_a_bound(fake, sub, shop_a, settings):
    settings.CARRIER_CONCURRENCY = 8
    settings.CARRIER_RATE_PER_SECOND = 0
    subscription_recharge(actor=branch_actor(sub), subscription=sub, count=50)
    fake.delay = 0.05
    orders = [make_order(shop_a) for _ in range(50)]
    results = waybill_allocate_many(actor=main_actor(shop_a), orders=orders, subscription=sub.pk)
    assert [r["ok"] for r in results] == [True] * 50
    numbers = [r["waybill_no"] for r in results]
    assert len(set(numbers)) == 50
    assert set(numbers) == {o["kuaidinum"] for o in fake.orders.values()}
    assert 2 <= fake.max_in_flight <= 8
    assert GatewayCall.objects.filter(kind="kuaidi100", operation="order").count() == 50
    assert balance(sub) == 10


def test_cancel_sends_the_carrier_order_number_it_answered(fake, sub, shop_a):
    order = make_order(shop_a)
    owner = main_actor(shop_a)
    waybill = waybill_allocate(actor=owner, order=order.pk, subscription=sub.pk).parent
    waybill_cancel(actor=owner, waybill=waybill)
    [asked] = fake.calls("cancel")
    assert asked["param"] == {
        "kuaidicom": "zhongtong",
        "kuaidinum": waybill.waybill_no,
        "partnerId": PARTNER_ID,
        "partnerKey": PARTNER_KEY,
        "net": sub.branch.code,
        "orderId": fake.orders[waybill.carrier_order_id]["kdComOrderNum"],
    }
    assert fake.cancelled == [waybill.waybill_no]
    waybill.refresh_from_db()
    assert waybill.status == "cancelled"


def test_a_cancel_the_carrier_refuses_is_undone_with_its_reason(fake, sub, shop_a):
    order = make_order(shop_a)
    owner = main_actor(shop_a)
    waybill = waybill_allocate(actor=owner, order=order.pk, subscription=sub.pk).parent
    fake.cancel_fail = (30001, "该单号已揽收,不能取消")
    with pytest.raises(AppError) as refused:
        waybill_cancel(actor=owner, waybill=waybill)
    assert (refused.value.code, refused.value.render_message()) == (
        "CARRIER_REFUSED",
        "快递公司拒绝了请求：该单号已揽收,不能取消",
    )
    waybill.refresh_from_db()
    assert waybill.status == "allocated" and fake.cancelled == []


def test_a_number_is_subscribed_to_tracking_again_through_poll(fake, sub, shop_a):
    order = make_order(shop_a)
    waybill = waybill_allocate(actor=main_actor(shop_a), order=order.pk, subscription=sub.pk).parent
    gateway = gateway_for("ZTO")
    gateway.track(subscription=sub, waybill_no=waybill.waybill_no)  # already tracked: 501
    gateway.track(subscription=sub, waybill_no="73100000000001")
    [_, asked] = fake.calls("subscribe")
    assert asked["form"]["schema"] == "json"
    assert asked["param"] == {
        "company": "zhongtong",
        "number": "73100000000001",
        "key": KEY,
        "parameters": {
            "callbackurl": f"{PUBLIC}/api/v1/carrier/push/kuaidi100/",
            "salt": SALT,
            "resultv2": "1",
        },
    }
    assert fake.subscriptions["73100000000001"]["salt"] == SALT
    config = GatewayConfig.objects.get(kind="kuaidi100")
    config.key = "not-our-key"
    config.save()
    with pytest.raises(AppError) as refused:  # Kuaidi100's 600: the operator's key
        gateway_for("ZTO").track(subscription=sub, waybill_no="73100000000002")
    assert refused.value.code == "GATEWAY_SIGNATURE_INVALID"
    assert "73100000000002" not in fake.subscriptions
