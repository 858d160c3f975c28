"""SF Express (丰桥) as the SF carrier's gateway, against a local fake of SF's API over real
HTTP (``tests/fakes/sf.py``: it checks every msgDigest and answers SF's codes).

Numbers are drawn through the one allocation path (``waybill_allocate``) with the gateway
configured as ops configure it (``GatewayConfig`` of kind ``sf``); what is asserted is what
the merchant and SF would see: numbers, label data, quota, what SF was asked."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from carriers.errors import (
    AllocationFailed,
    AllocationTimeout,
    CancelLimitReached,
    GatewaySignatureInvalid,
    MonthlyAccountInvalid,
)
from carriers.gateways import gateway_for
from carriers.gateways.builtin import number_is_valid
from carriers.gateways.sf import SEARCH_ORDER, SFGateway, msg_digest
from carriers.models import BranchAccount, GatewayCall, Reservation, Subscription
from carriers.quota import ledger_check
from carriers.selectors import cancellable_now
from tests.conftest import main_actor, make_order, token_client
from tests.fakes.sf import MONTHLY_CARD, FakeSF, gateway_config
from tests.waybills.conftest import open_service
from waybill_console.errors import AppError
from waybill_console.tenancy import Actor
from waybills.errors import CancelWholeOrderOnly
from waybills.models import AllocationException, Waybill
from waybills.services import (
    tracking_record,
    waybill_allocate,
    waybill_allocate_many,
    waybill_cancel,
)
from waybills.services.settle import reservations_settle

CREATE, UPDATE = "EXP_RECE_CREATE_ORDER", "EXP_RECE_UPDATE_ORDER"


def test_msg_digest_reproduces_sfs_official_worked_example():
    msg_data = '{"language":"zh-CN","orderId":"QIAO-20200618-004"}'
    digest = msg_digest(msg_data, "12312334453453", "fjcg5PGKaNpPSHFAZ4QsCOkV71R3zVci")
    assert digest == "IIKJtuLVzoFTu4kHI8M8vA=="
    # the same text without URL-encoding signs differently (the contract notes' control)
    assert digest != "OwYXm3XG9fjHK7A+/t7Ckw=="


@pytest.fixture
def fake():
    server = FakeSF().start()
    yield server
    server.stop()


@pytest.fixture
def quick(settings):
    """Short time-outs, no retries, a breaker that never opens in these few calls."""
    settings.CARRIER_CONNECT_TIMEOUT = 1.0
    settings.CARRIER_READ_TIMEOUT = 0.5
    settings.CARRIER_RETRIES = 0
    settings.CARRIER_BREAKER_FAILURES = 100
    return settings


@pytest.fixture
def sf(fake, quick, shop_a):
    """The SF carrier answered by the fake, and shop A's SF service on monthly card
    :data:`MONTHLY_CARD`."""
    gateway_config(fake)
    assert isinstance(gateway_for("SF"), SFGateway)
    return open_service(shop_a, "SF", balance=0, monthly_account=MONTHLY_CARD)


def _draw(shop, sub, **kw):
    order = make_order(shop)
    return order, waybill_allocate(
        actor=main_actor(shop), order=order.pk, subscription=sub.pk, **kw
    )


def _order_at_sf(fake: FakeSF, carrier_order_id: str) -> dict:
    return fake.orders[carrier_order_id]


def _numbers_at_sf(fake: FakeSF, carrier_order_id: str) -> list[str]:
    return [
        i["waybillNo"] for i in _order_at_sf(fake, carrier_order_id)["msg"]["waybillNoInfoList"]
    ]


@pytest.mark.django_db(transaction=True)
def test_a_number_comes_from_sf_with_its_routing_and_the_label_data(fake, sf, shop_a):
    order, allocation = _draw(shop_a, sf)
    waybill = allocation.parent

    [create] = fake.calls_of(CREATE)
    assert create["digest_ok"] and create["form"]["partnerID"] == fake.partner_id
    msg = create["msgData"]
    assert msg["orderId"] == waybill.carrier_order_id
    assert (msg["monthlyCard"], msg["parcelQty"], msg["expressTypeId"]) == (MONTHLY_CARD, 1, 2)
    assert msg["isReturnRoutelabel"] == 1
    sender, receiver = msg["contactInfoList"]
    assert (sender["contactType"], sender["contact"], sender["mobile"]) == (
        1,
        "王经理",
        "13800001111",
    )
    # SF gets the receiver in full (opened for this call); the call log keeps it masked
    assert receiver == {
        "contactType": 2,
        "contact": "张三",
        "mobile": "13812345678",
        "country": "CN",
        "province": "浙江省",
        "city": "杭州市",
        "county": "西湖区",
        "address": "文三路 90 号 3 幢 501",
    }
    assert msg["cargoDetails"] == [{"name": "日用品", "count": 1, "unit": "件"}]

    assert waybill.waybill_no == _numbers_at_sf(fake, waybill.carrier_order_id)[0]
    assert number_is_valid("SF", waybill.waybill_no)
    assert waybill.sort_code == "571WG-AB-035"  # SF's destRouteLabel
    assert waybill.package_center_code == "571WG"
    label = _order_at_sf(fake, waybill.carrier_order_id)["msg"]["routeLabelInfo"][0]
    qr = label["routeLabelData"]["twoDimensionCode"]
    assert f"'k5':'{waybill.waybill_no}'" in qr
    assert waybill.print_data["qr"] == qr  # SF's 丰密 QR is what the label prints
    assert waybill.print_data["route_code"] == "571WG-AB-035"
    assert waybill.print_data["coding_mapping"] == "F12"
    assert waybill.print_data["pro_name"] == "顺丰标快"
    assert waybill.print_data["qr_by_number"] == {waybill.waybill_no: qr}
    order.refresh_from_db()
    assert order.tracking_no == waybill.waybill_no

    [call] = GatewayCall.objects.filter(kind="sf", operation="order")
    assert call.ok and call.carrier_order_id == waybill.carrier_order_id
    logged = call.request["msgData"]["contactInfoList"][1]
    assert (logged["contact"], logged["mobile"], logged["address"]) == (
        "张*",
        "138****5678",
        "****",
    )
    assert "13812345678" not in json.dumps(call.request, ensure_ascii=False) + call.response
    assert "文三路" not in json.dumps(call.request, ensure_ascii=False) + call.response
    assert fake.check_word not in json.dumps(call.request)
    assert ledger_check() == []


@pytest.mark.django_db(transaction=True)
def test_parent_and_child_numbers_are_one_sf_order_with_parcel_qty(fake, sf, shop_a):
    _, allocation = _draw(shop_a, sf, package_count=3, weight_grams=2500)
    numbers = [w.waybill_no for w in allocation.waybills]
    [create] = fake.calls_of(CREATE)
    assert (create["msgData"]["parcelQty"], create["msgData"]["totalWeight"]) == (3, 2.5)
    parent = allocation.parent
    assert numbers == _numbers_at_sf(fake, parent.carrier_order_id)  # the master first
    assert [w.package_no for w in allocation.waybills] == [1, 2, 3]
    assert all(w.parent_id == parent.pk for w in allocation.waybills[1:])
    assert set(parent.print_data["qr_by_number"]) == set(numbers)

    # no weight given: SF still needs one for 子母件, the declared default per parcel
    _draw(shop_a, sf, package_count=2)
    second = fake.calls_of(CREATE)[-1]["msgData"]
    assert (second["parcelQty"], second["totalWeight"]) == (2, 2.0)


@pytest.mark.django_db(transaction=True)
def test_sf_answering_8016_after_a_lost_answer_gives_the_numbers_it_issued(fake, sf, shop_a):
    order = make_order(shop_a)
    actor = main_actor(shop_a)
    fake.script(CREATE, ("answer_late", 1.5))  # SF takes the order; its answer comes too late
    with pytest.raises(AllocationTimeout):
        waybill_allocate(actor=actor, order=order.pk, subscription=sf.pk)
    held = Reservation.objects.get(order=order)
    assert held.state == "reserved"
    assert list(fake.orders) == [held.carrier_order_id]
    assert not Waybill.objects.filter(order=order).exists()

    allocation = waybill_allocate(actor=actor, order=order.pk, subscription=sf.pk)
    assert allocation.created
    assert allocation.parent.carrier_order_id == held.carrier_order_id
    assert [allocation.parent.waybill_no] == _numbers_at_sf(fake, held.carrier_order_id)
    second_create = fake.calls_of(CREATE)[-1]
    assert json.loads(json.loads(second_create["answer"])["apiResultData"])["errorCode"] == "8016"
    [search] = fake.calls_of(SEARCH_ORDER)
    assert search["msgData"]["orderId"] == held.carrier_order_id and search["digest_ok"]
    assert len(fake.orders) == 1  # one SF order, one number
    held.refresh_from_db()
    assert held.state == "committed"
    assert AllocationException.objects.get(order=order).resolved_at is not None
    assert ledger_check() == []


@pytest.mark.django_db(transaction=True)
def test_a_time_out_keeps_the_reservation_and_the_sweep_asks_sf(fake, sf, shop_a):
    issued_order, unsent_order, unreadable_order = (make_order(shop_a) for _ in range(3))
    actor = main_actor(shop_a)
    fake.script(CREATE, ("answer_late", 1.5), "http500", "malformed")
    for order in (issued_order, unsent_order, unreadable_order):
        with pytest.raises(AllocationTimeout):
            waybill_allocate(actor=actor, order=order.pk, subscription=sf.pk)
    states = dict(Reservation.objects.values_list("order_id", "state"))
    assert set(states.values()) == {"reserved"}  # every outcome unknown: all kept
    assert len(fake.orders) == 1  # only the first reached SF's order book

    assert reservations_settle()["committed"] == 0  # too young: an answer may still come
    later = timezone.now() + timedelta(minutes=10)
    assert reservations_settle(now=later) == {"committed": 1, "released": 2, "waiting": 0}
    [waybill] = Waybill.objects.filter(order=issued_order)
    assert [waybill.waybill_no] == _numbers_at_sf(fake, waybill.carrier_order_id)
    assert waybill.print_data["qr"]  # the search answer carries the label data too
    assert not Waybill.objects.filter(order__in=[unsent_order, unreadable_order]).exists()
    assert len(fake.calls_of(SEARCH_ORDER)) == 3
    assert ledger_check() == []


@pytest.mark.django_db(transaction=True)
def test_an_invalid_monthly_card_is_refused_with_sfs_reason_and_nothing_drawn(fake, quick, shop_a):
    gateway_config(fake)
    sub = open_service(shop_a, "SF", balance=0, monthly_account="7550000000")
    order = make_order(shop_a)
    with pytest.raises(MonthlyAccountInvalid) as refused:
        waybill_allocate(actor=main_actor(shop_a), order=order.pk, subscription=sub.pk)
    assert refused.value.render_message() == "商家编码不存在/月结账号失效，请与物流公司核实"
    assert refused.value.detail == {
        "carrier_code": "8119",
        "carrier_message": "月结卡号不存在或已失效",
    }
    assert fake.orders == {}
    assert Reservation.objects.get(order=order).state == "released"
    assert not Waybill.objects.filter(order=order).exists()
    assert AllocationException.objects.get(order=order).code == "MONTHLY_ACCOUNT_INVALID"
    assert ledger_check() == []


@pytest.mark.django_db(transaction=True)
def test_a_wrong_check_word_is_refused_by_sfs_gateway_and_nothing_drawn(fake, quick, shop_a):
    gateway_config(fake, check_word="not-the-check-word")
    sub = open_service(shop_a, "SF", balance=0, monthly_account=MONTHLY_CARD)
    order = make_order(shop_a)
    with pytest.raises(GatewaySignatureInvalid) as refused:
        waybill_allocate(actor=main_actor(shop_a), order=order.pk, subscription=sub.pk)
    assert refused.value.detail == {"api_result_code": "A1006", "api_error_msg": "数字签名无效"}
    assert "顺丰丰桥" in refused.value.render_message()  # names the gateway to correct
    [create] = fake.calls_of(CREATE)
    assert not create["digest_ok"]
    assert fake.orders == {}
    assert Reservation.objects.get(order=order).state == "released"  # definite: not kept
    assert not Waybill.objects.filter(order=order).exists()


# --- cancel: SF cancels the whole order (every number of a 子母件) ------------------------------


def _statuses(waybills) -> list[str]:
    return list(
        Waybill.objects.filter(pk__in=[w.pk for w in waybills])
        .order_by("pk")
        .values_list("status", flat=True)
    )


def _cancel_counts(sub) -> tuple[int, int]:
    """(the subscription's cancelled, its branch account's cancelled: the cap's count)."""
    account = BranchAccount.objects.filter(shop_id=sub.shop_id, branch_id=sub.branch_id).first()
    return (
        Subscription.objects.get(pk=sub.pk).cancelled_total,
        account.cancelled_total if account else 0,
    )


@pytest.mark.django_db(transaction=True)
def test_one_number_of_an_sf_multi_package_order_is_refused_and_nothing_is_sent(fake, sf, shop_a):
    order, allocation = _draw(shop_a, sf, package_count=3)
    parent, child, _third = allocation.waybills
    numbers = [w.waybill_no for w in allocation.waybills]

    with pytest.raises(CancelWholeOrderOnly) as refused:
        waybill_cancel(actor=main_actor(shop_a), waybill=child)
    assert (refused.value.code, refused.value.status) == ("CANCEL_WHOLE_ORDER_ONLY", 409)
    assert refused.value.detail == {"waybill_nos": numbers}
    assert refused.value.render_message() == (
        f"顺丰速运按订单整单取消：该订单的 3 个包裹（{', '.join(numbers)}）只能一并取消，"
        "不能只取消其中一个。"
    )
    with translation.override("en"):
        assert refused.value.render_message() == (
            "顺丰速运 cancels all packages of an order together: this order's 3 packages "
            f"({', '.join(numbers)}) can only be cancelled all at once."
        )
    # the API refuses the same way (the parent too: its siblings are live)
    api = token_client(shop_a)
    response = api.post(f"/api/v1/waybills/{parent.waybill_no}/cancel/")
    assert response.status_code == 409
    assert response.json()["code"] == "CANCEL_WHOLE_ORDER_ONLY"
    assert response.json()["detail"] == {"waybill_nos": numbers}

    assert fake.calls_of(UPDATE) == []  # SF never heard of it
    assert not _order_at_sf(fake, parent.carrier_order_id)["cancelled"]
    assert _statuses(allocation.waybills) == ["allocated"] * 3
    assert _cancel_counts(sf) == (0, 0)
    order.refresh_from_db()
    assert order.tracking_no == parent.waybill_no


@pytest.mark.django_db(transaction=True)
def test_the_whole_sf_order_is_cancelled_with_one_call_each_number_counted(fake, sf, shop_a):
    order, allocation = _draw(shop_a, sf, package_count=3)
    parent, child, _third = allocation.waybills
    before = cancellable_now(Subscription.objects.get(pk=sf.pk))

    api = token_client(shop_a)
    response = api.post(
        f"/api/v1/waybills/{child.waybill_no}/cancel/", {"whole_order": True}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["waybill_no"], response.json()["status"]) == (
        child.waybill_no,
        "cancelled",
    )
    [call] = fake.calls_of(UPDATE)  # one SF call for the three numbers
    assert call["digest_ok"]
    assert call["msgData"] == {
        "orderId": parent.carrier_order_id,
        "dealType": 2,
        "language": "zh-CN",
    }
    assert _order_at_sf(fake, parent.carrier_order_id)["cancelled"]
    assert _statuses(allocation.waybills) == ["cancelled"] * 3
    assert _cancel_counts(sf) == (3, 3)  # each number counted against the cap
    assert cancellable_now(Subscription.objects.get(pk=sf.pk)) == before - 3
    order.refresh_from_db()
    assert (order.has_waybill, order.tracking_no) == (False, "")
    assert GatewayCall.objects.filter(kind="sf", operation="cancel").count() == 1

    again = api.post(
        f"/api/v1/waybills/{parent.waybill_no}/cancel/", {"whole_order": True}, format="json"
    )
    assert again.status_code == 409 and again.json()["detail"] == {"reason": "already_cancelled"}
    assert len(fake.calls_of(UPDATE)) == 1
    assert ledger_check() == []


@pytest.mark.django_db(transaction=True)
def test_a_whole_order_cancel_counts_every_number_against_the_cap(fake, sf, shop_a):
    big = [_draw(shop_a, sf, package_count=n)[1].waybills for n in (20, 20, 17)]
    _, small = _draw(shop_a, sf, package_count=3)
    sub = Subscription.objects.get(pk=sf.pk)
    assert sub.allocated_total == 60 and cancellable_now(sub) == 12  # 60 / 5

    # 20 numbers at once would take the cancelled share past 20 %: refused whole
    with pytest.raises(CancelLimitReached):
        waybill_cancel(actor=main_actor(shop_a), waybill=big[0][5], whole_order=True)
    assert _statuses(big[0]) == ["allocated"] * 20
    assert _cancel_counts(sf) == (0, 0)
    assert fake.calls_of(UPDATE) == []

    waybill_cancel(actor=main_actor(shop_a), waybill=small.waybills[0], whole_order=True)
    assert _statuses(small.waybills) == ["cancelled"] * 3
    assert _cancel_counts(sf) == (3, 3)
    assert cancellable_now(Subscription.objects.get(pk=sf.pk)) == 9
    assert len(fake.calls_of(UPDATE)) == 1


@pytest.mark.django_db(transaction=True)
def test_sf_refusing_a_whole_order_cancel_undoes_every_number(fake, sf, shop_a):
    _, allocation = _draw(shop_a, sf, package_count=2)
    fake.script(UPDATE, ("error", "8252", "订单已揽收，不能取消"))
    with pytest.raises(AllocationFailed) as refused:
        waybill_cancel(actor=main_actor(shop_a), waybill=allocation.parent, whole_order=True)
    assert refused.value.detail["carrier_code"] == "8252"
    assert len(fake.calls_of(UPDATE)) == 1
    assert _statuses(allocation.waybills) == ["allocated"] * 2
    assert _cancel_counts(sf) == (0, 0)  # both counts given back


@pytest.mark.django_db(transaction=True)
def test_a_group_with_a_picked_up_number_cannot_be_cancelled_at_all(fake, sf, shop_a):
    _, allocation = _draw(shop_a, sf, package_count=2)
    parent, child = allocation.waybills
    tracking_record(
        actor=Actor(shop=None, branch=sf.branch),
        waybill_no=parent.waybill_no,
        occurred_at=timezone.now(),
        status="picked_up",
    )
    for whole_order in (False, True):
        with pytest.raises(AppError) as refused:
            waybill_cancel(actor=main_actor(shop_a), waybill=child, whole_order=whole_order)
        assert refused.value.code == "WAYBILL_NOT_CANCELLABLE"
        assert refused.value.detail == {"reason": "picked_up", "waybill_no": parent.waybill_no}
        assert refused.value.render_message() == (
            f"同一订单的面单 {parent.waybill_no} 不能取消：包裹已揽收。"
            "承运商按订单整单取消，这些单号只能一并取消。"
        )
    assert fake.calls_of(UPDATE) == []
    assert Waybill.objects.get(pk=child.pk).status == "allocated"


@pytest.mark.django_db(transaction=True)
def test_the_order_page_offers_the_whole_order_cancel_and_does_it(fake, sf, shop_a, client):
    order, allocation = _draw(shop_a, sf, package_count=2)
    numbers = [w.waybill_no for w in allocation.waybills]
    client.force_login(shop_a.memberships.get().user)
    html = client.get(f"/console/waybills/orders/{order.pk}/").content.decode()
    assert html.count('data-testid="cancel-whole-order"') == 2
    assert 'data-testid="cancel-waybill"' not in html
    assert "整单取消（2 个面单）" in html
    assert f"确定一并取消该订单的 2 个面单 {', '.join(numbers)} 吗？" in html

    back = f"/console/orders/{order.pk}/"
    response = client.post(
        f"/console/waybills/{numbers[1]}/cancel/", {"whole_order": "1", "next": back}
    )
    assert response.status_code == 302
    assert _statuses(allocation.waybills) == ["cancelled"] * 2
    assert len(fake.calls_of(UPDATE)) == 1
    page = client.get(response.url).content.decode()
    assert f"已整单取消该订单的 2 个面单：{', '.join(numbers)}。" in page


@pytest.mark.django_db(transaction=True)
def test_query_answers_none_for_an_order_sf_does_not_know(fake, sf, shop_a):
    gateway = gateway_for("SF")
    assert gateway.query(subscription=sf, carrier_order_id="WB0P1NEVERASKED") is None
    _, allocation = _draw(shop_a, sf)
    found = gateway.query(subscription=sf, carrier_order_id=allocation.parent.carrier_order_id)
    assert found.numbers == [allocation.parent.waybill_no]
    assert found.routing.sort_code == "571WG-AB-035"


@pytest.mark.django_db(transaction=True)
def test_a_batch_asks_sf_concurrently_within_the_bound(fake, sf, shop_a, settings):
    settings.CARRIER_CONCURRENCY = 3
    settings.CARRIER_READ_TIMEOUT = 5.0
    orders = [make_order(shop_a) for _ in range(7)]
    fake.script(CREATE, *[("slow", 0.3)] * 7)
    results = waybill_allocate_many(actor=main_actor(shop_a), orders=orders, subscription=sf.pk)
    assert [r["ok"] for r in results] == [True] * 7
    assert fake.most_in_flight == 3  # three at a time, never more
    by_order = {r["order"]: r["waybill_no"] for r in results}
    for order in orders:
        waybill = Waybill.objects.get(order=order)
        assert [by_order[order.pk]] == _numbers_at_sf(fake, waybill.carrier_order_id)
    assert len(fake.orders) == 7
    assert ledger_check() == []
