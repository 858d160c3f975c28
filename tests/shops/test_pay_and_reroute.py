"""Seed rules of issue 15: an unpaid order can be paid (API, page, import) instead of always
being cancelled at 48 h; a failed delivery is re-routed once, within 12 days (included), to
a new receiver (name, phone, address, postcode) on the page and through the API."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from shops import services
from shops.models import Order, OrderEvent
from shops.selectors import OrderFilters, order_list
from shops.services import imports
from tests.conftest import main_actor, make_order, make_user, token_client
from waybill_console import permissions as perms
from waybill_console.errors import AppError

pytestmark = pytest.mark.django_db

CN = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 1, 10, 0, tzinfo=CN)

NEW_RECEIVER = {
    "name": "李四海",
    "phone": "13998765432",
    "province": "江苏省",
    "city": "南京市",
    "district": "玄武区",
    "detail": "中山路 18 号 7 栋 302",
}


def _snapshot(order: Order) -> dict:
    """Everything a refused action must leave as it was."""
    row = Order.objects.filter(pk=order.pk).values().get()
    row.pop("updated_at")
    return {"row": row, "events": OrderEvent.objects.filter(order=order).count()}


def _raw_receiver(order: Order) -> tuple[str, str, str]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT receiver_name, receiver_phone, receiver_detail FROM shops_order WHERE id = %s",
            [order.pk],
        )
        return cur.fetchone()


# --- pay -----------------------------------------------------------------------------------


def _unpaid(shop, no="U-1", created_at=None):
    return make_order(shop, no, status="unpaid", created_at=created_at or timezone.now())


def test_api_pays_an_unpaid_order_and_deadlines_count_from_the_payment(shop_a):
    created = timezone.now() - timedelta(hours=30)
    order = _unpaid(shop_a, created_at=created)
    paid_at = created + timedelta(hours=20)
    answer = token_client(shop_a).post(
        f"/api/v1/orders/{order.pk}/pay/", {"paid_at": paid_at.isoformat()}, format="json"
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["id"] == order.pk and body["status"] == "paid"
    assert datetime.fromisoformat(body["paid_at"]) == paid_at
    assert datetime.fromisoformat(body["sla_due_at"]) == paid_at + timedelta(hours=48)
    assert body == token_client(shop_a).get(f"/api/v1/orders/{order.pk}/").json()
    order.refresh_from_db()
    assert (order.status, order.paid_at) == ("paid", paid_at)
    assert order.sla_due_at == paid_at + timedelta(hours=48)
    event = OrderEvent.objects.get(order=order, kind="pay")
    assert event.data == {
        "status_from": "unpaid",
        "status_to": "paid",
        "paid_at": paid_at.astimezone(CN).isoformat(),
    }
    assert event.actor.startswith("token#")  # who paid is recorded


def test_api_pay_defaults_to_now(shop_a):
    order = _unpaid(shop_a)
    before = timezone.now()
    answer = token_client(shop_a).post(f"/api/v1/orders/{order.pk}/pay/", {}, format="json")
    assert answer.status_code == 200
    order.refresh_from_db()
    assert order.status == "paid" and before <= order.paid_at <= timezone.now()
    assert order.sla_due_at == order.paid_at + timedelta(hours=48)


def test_api_pay_of_another_shops_order_is_404(shop_a, shop_b):
    order = _unpaid(shop_b)
    before = _snapshot(order)
    answer = token_client(shop_a).post(f"/api/v1/orders/{order.pk}/pay/", {}, format="json")
    assert answer.status_code == 404
    assert answer.json()["code"] == "NOT_FOUND"
    assert _snapshot(order) == before


def test_api_pay_without_order_permission_is_403(shop_a):
    order = _unpaid(shop_a)
    before = _snapshot(order)
    client = token_client(shop_a, scopes=[perms.SHIP, perms.PRINT])
    answer = client.post(f"/api/v1/orders/{order.pk}/pay/", {}, format="json")
    assert answer.status_code == 403
    assert answer.json()["code"] == "PERMISSION_DENIED"
    assert _snapshot(order) == before


def test_api_pay_refused_on_a_cancelled_order_nothing_changed(shop_a):
    order = _unpaid(shop_a)
    services.order_cancel_by_seller(actor=main_actor(shop_a), order=order)
    before = _snapshot(order)
    answer = token_client(shop_a, language="zh-hans").post(
        f"/api/v1/orders/{order.pk}/pay/", {}, format="json"
    )
    assert answer.status_code == 409
    assert answer.json() == {
        "code": "ORDER_STATE_CONFLICT",
        "message": "订单当前为“已取消”，无法执行此操作。",
        "detail": {"status": "cancelled"},
    }
    assert _snapshot(order) == before
    assert before["row"]["paid_at"] is None and before["row"]["status"] == "cancelled"


def test_pay_refused_on_an_already_paid_order(shop_a):
    order = make_order(shop_a, "P-1", created_at=T0, paid_at=T0)
    before = _snapshot(order)
    with pytest.raises(AppError) as refused:
        services.order_pay(actor=main_actor(shop_a), order=order, now=T0 + timedelta(hours=1))
    assert refused.value.code == "ORDER_STATE_CONFLICT" and refused.value.status == 409
    assert _snapshot(order) == before


@pytest.mark.parametrize(
    "paid_at, message",
    [
        (timedelta(hours=2), "付款时间不能晚于当前时间。"),
        (timedelta(hours=-2), "付款时间不能早于下单时间。"),
    ],
)
def test_api_pay_refuses_a_payment_time_in_the_future_or_before_the_order(shop_a, paid_at, message):
    order = _unpaid(shop_a, created_at=timezone.now() - timedelta(minutes=30))
    moment = (timezone.now() if paid_at > timedelta(0) else order.created_at) + paid_at
    before = _snapshot(order)
    answer = token_client(shop_a, language="zh-hans").post(
        f"/api/v1/orders/{order.pk}/pay/", {"paid_at": moment.isoformat()}, format="json"
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "VALIDATION_ERROR"
    assert answer.json()["detail"] == {"paid_at": [message]}
    assert _snapshot(order) == before


def test_pay_refused_after_the_48_hours_even_before_the_sweep(shop_a):
    order = _unpaid(shop_a, created_at=T0)
    before = _snapshot(order)
    with pytest.raises(AppError) as refused:
        services.order_pay(
            actor=main_actor(shop_a), order=order, now=T0 + timedelta(hours=48, minutes=1)
        )
    assert refused.value.code == "PAYMENT_WINDOW_CLOSED" and refused.value.status == 409
    assert _snapshot(order) == before
    # at 48 h exactly it may still be paid
    services.order_pay(actor=main_actor(shop_a), order=order, now=T0 + timedelta(hours=48))
    assert Order.objects.get(pk=order.pk).status == "paid"


def test_payment_replaces_a_stale_payment_time_of_an_unpaid_order(shop_a):
    """An import line 待付款 with a 付款时间 keeps that time on the unpaid order; paying
    later must count the deadlines from the payment, not from the stale time."""
    order = make_order(shop_a, "U-STALE", status="unpaid", created_at=T0, paid_at=T0)
    pay_at = T0 + timedelta(hours=30)
    services.order_pay(actor=main_actor(shop_a), order=order, now=pay_at)
    order.refresh_from_db()
    assert order.paid_at == pay_at
    assert order.sla_due_at == pay_at + timedelta(hours=48)


def test_a_paid_order_is_not_cancelled_at_48_hours_and_its_sla_runs_from_payment(shop_a):
    order = _unpaid(shop_a, created_at=T0)
    pay_at = T0 + timedelta(hours=40)
    services.order_pay(actor=main_actor(shop_a), order=order, now=pay_at)
    counts = services.orders_apply_time_rules(as_of=T0 + timedelta(hours=49))
    assert counts["cancelled_unpaid"] == 0
    assert Order.objects.get(pk=order.pk).status == "paid"
    # ready-to-ship deadline: 48 h after the payment, not after the order
    assert (
        services.orders_apply_time_rules(as_of=pay_at + timedelta(hours=47, minutes=59))[
            "sla_breaches"
        ]
        == 0
    )
    assert services.orders_apply_time_rules(as_of=pay_at + timedelta(hours=48))["sla_breaches"] == 1
    assert Order.objects.get(pk=order.pk).sla_breaches == ["ready_to_ship"]


def _sub_login(client, shop, permissions):
    user = make_user()
    services.sub_account_create(
        actor=main_actor(shop), username=user.username + "x", password="sub-12345",
        permissions=permissions,
    )  # fmt: skip
    client.login(username=user.username + "x", password="sub-12345")


def test_page_pays_an_unpaid_order(client, shop_a):
    order = _unpaid(shop_a)
    client.force_login(shop_a.memberships.get().user)
    page = client.get(f"/console/orders/{order.pk}/").content.decode()
    assert "标记已付款" in page and 'data-testid="pay-form"' in page
    answer = client.post(f"/console/orders/{order.pk}/pay/")
    assert answer.status_code == 302 and answer["Location"] == f"/console/orders/{order.pk}/"
    order.refresh_from_db()
    assert order.status == "paid" and order.paid_at is not None
    assert order.sla_due_at == order.paid_at + timedelta(hours=48)
    page = client.get(f"/console/orders/{order.pk}/").content.decode()
    assert "标记已付款" not in page


def test_page_pay_needs_the_order_permission(client, shop_a):
    order = _unpaid(shop_a)
    before = _snapshot(order)
    _sub_login(client, shop_a, [perms.SHIP, perms.PRINT])
    page = client.get(f"/console/orders/{order.pk}/").content.decode()
    assert "标记已付款" not in page
    answer = client.post(f"/console/orders/{order.pk}/pay/", follow=True)
    assert "您没有“订单处理”权限，请联系主账号开通。" in answer.content.decode()
    assert _snapshot(order) == before


def test_page_pay_refused_on_cancelled_order_shows_the_reason(client, shop_a):
    order = _unpaid(shop_a)
    services.order_cancel_by_seller(actor=main_actor(shop_a), order=order)
    before = _snapshot(order)
    client.force_login(shop_a.memberships.get().user)
    answer = client.post(f"/console/orders/{order.pk}/pay/", follow=True)
    assert "订单当前为“已取消”，无法执行此操作。" in answer.content.decode()
    assert _snapshot(order) == before


def test_import_line_with_status_paid_and_payment_time(shop_a):
    values = {"订单号": "IMP-PAID", "订单状态": "已付款", "付款时间": "2026-11-23 10:30:00",
              "SKU": "S1", "商品名称": "保温杯", "规格": "500ml", "数量": "2", "单价": "39.90",
              "收件人": "张三", "手机号": "13812345678", "省": "浙江省", "市": "杭州市",
              "区": "西湖区", "详细地址": "文三路 1 号"}  # fmt: skip
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(imports.TEMPLATE_HEADER)
    writer.writerow([values.get(title, "") for title in imports.TEMPLATE_HEADER])
    upload = io.BytesIO(out.getvalue().encode("utf-8"))
    upload.name = "orders.csv"
    answer = token_client(shop_a).post(
        "/api/v1/orders/import/", {"file": upload}, format="multipart"
    )
    assert answer.status_code == 200 and answer.json() == {"orders": 1, "items": 1}
    order = Order.objects.get(shop=shop_a, order_no="IMP-PAID")
    paid_at = datetime(2026, 11, 23, 10, 30, tzinfo=CN)
    assert (order.status, order.paid_at) == ("paid", paid_at)
    assert order.sla_due_at == paid_at + timedelta(hours=48)


# --- re-route ------------------------------------------------------------------------------


def _failed(shop, no="F-1", failed_at=None):
    failed_at = failed_at or timezone.now() - timedelta(days=1)
    order = make_order(
        shop, no, created_at=failed_at - timedelta(days=3), paid_at=failed_at - timedelta(days=3)
    )
    services.order_ship_by_hand(
        actor=main_actor(shop),
        order=order,
        carrier_code="YTO",
        tracking_no=f"YT{order.pk:013d}",
        now=failed_at - timedelta(days=2),
    )
    services.order_record_logistics(order=order, status="failed", at=failed_at)
    order.refresh_from_db()
    return order


def _reroute_api(client, order, receiver=None, postcode="210000"):
    return client.post(
        f"/api/v1/orders/{order.pk}/reroute/",
        {"receiver": receiver or NEW_RECEIVER, "postcode": postcode},
        format="json",
    )


def test_api_reroute_writes_the_new_receiver_encrypted_and_answers_it_masked(shop_a):
    order = _failed(shop_a)
    answer = _reroute_api(token_client(shop_a), order)
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "in_transit"
    assert body["receiver"] == {
        "name": "李**",
        "phone": "139****5432",
        "province": "江苏省",
        "city": "南京市",
        "district": "玄武区",
        "detail": "****",
    }
    assert body == token_client(shop_a).get(f"/api/v1/orders/{order.pk}/").json()
    order.refresh_from_db()
    assert order.rerouted_at is not None and order.receiver_postcode == "210000"
    # ciphertext at rest: no plaintext in the columns, the model decrypts the new receiver
    raw = _raw_receiver(order)
    for column, plain in zip(raw, ("李四海", "13998765432", "中山路 18 号 7 栋 302"), strict=True):
        assert plain not in column and "张三" not in column
    assert services.order_reveal_receiver(actor=main_actor(shop_a), order=order) == NEW_RECEIVER
    # the phone search (blind index) finds the new number, not the old one
    actor = main_actor(shop_a)
    assert [o.pk for o in order_list(actor=actor, filters=OrderFilters(q="13998765432"))] == [
        order.pk
    ]
    assert not order_list(actor=actor, filters=OrderFilters(q="13812345678")).filter(pk=order.pk)
    # the event says a re-route happened and nothing about the receiver
    event = OrderEvent.objects.filter(order=order).latest("id")
    assert event.kind == "in_transit"
    assert event.data == {"status_from": "delivery_failed", "status_to": "in_transit",
                          "reroute": True}  # fmt: skip
    everything = json.dumps(
        list(OrderEvent.objects.filter(order=order).values("data", "actor")), ensure_ascii=False
    )
    for plain in ("李四海", "13998765432", "中山路", "210000", "玄武区"):
        assert plain not in everything


def test_api_second_reroute_is_refused_nothing_changed(shop_a):
    order = _failed(shop_a)
    client = token_client(shop_a, language="zh-hans")
    assert _reroute_api(client, order).status_code == 200
    services.order_record_logistics(order=order, status="failed", at=timezone.now())
    before = _snapshot(order)
    other = {**NEW_RECEIVER, "name": "王五", "phone": "13700001111"}
    answer = _reroute_api(client, order, receiver=other, postcode="100000")
    assert answer.status_code == 409
    assert answer.json()["code"] == "REROUTE_ALREADY_USED"
    assert answer.json()["message"] == "该订单已重新派送过一次，不能再次改派。"
    assert _snapshot(order) == before
    order.refresh_from_db()
    shown = services.order_reveal_receiver(actor=main_actor(shop_a), order=order)
    assert shown["name"] == "李四海" and shown["phone"] == "13998765432"


def test_api_reroute_after_12_days_is_refused_nothing_changed(shop_a):
    order = _failed(shop_a, failed_at=timezone.now() - timedelta(days=12, minutes=1))
    before = _snapshot(order)
    answer = _reroute_api(token_client(shop_a, language="zh-hans"), order)
    assert answer.status_code == 409
    assert answer.json()["code"] == "REROUTE_WINDOW_CLOSED"
    assert answer.json()["message"] == (
        "投递失败的订单只能在失败后 12 天内（含）申请重新派送，现已超过期限。"
    )
    assert _snapshot(order) == before


def test_reroute_on_the_twelfth_day_included_and_the_sweep_agrees(shop_a):
    """12 天内(含): at exactly 12 days the re-route is accepted and the sweep does not
    return the parcel; one minute later the sweep returns it."""
    failed_at = T0
    order = _failed(shop_a, "F-EDGE", failed_at=failed_at)
    other = _failed(shop_a, "F-EDGE-2", failed_at=failed_at)
    at = failed_at + timedelta(days=12)
    assert services.orders_apply_time_rules(as_of=at)["returned"] == 0
    services.order_reroute(
        actor=main_actor(shop_a), order=order, receiver=NEW_RECEIVER, postcode="210000", now=at
    )
    assert Order.objects.get(pk=order.pk).status == "in_transit"
    assert services.orders_apply_time_rules(as_of=at + timedelta(minutes=1))["returned"] == 1
    assert Order.objects.get(pk=other.pk).status == "returned"


@pytest.mark.parametrize(
    "receiver, postcode, field",
    [
        ({**NEW_RECEIVER, "phone": "12345"}, "210000", "receiver.phone"),
        ({**NEW_RECEIVER, "phone": "139-9876-54321"}, "210000", "receiver.phone"),
        ({**NEW_RECEIVER, "province": "火星省"}, "210000", "receiver.province"),
        ({**NEW_RECEIVER, "phone": "0201234"}, "210000", "receiver.phone"),
        ({**NEW_RECEIVER, "city": "杭州市"}, "210000", "receiver.city"),
        (NEW_RECEIVER, "21000", "postcode"),
        (NEW_RECEIVER, "ABCDEF", "postcode"),
    ],
)
def test_api_reroute_refuses_bad_input_naming_the_field(shop_a, receiver, postcode, field):
    order = _failed(shop_a)
    before = _snapshot(order)
    answer = _reroute_api(token_client(shop_a), order, receiver=receiver, postcode=postcode)
    assert answer.status_code == 400
    assert answer.json()["code"] == "VALIDATION_ERROR"
    assert field in answer.json()["detail"]
    assert _snapshot(order) == before


def test_api_reroute_of_another_shops_order_is_404_and_needs_ship_permission(shop_a, shop_b):
    theirs = _failed(shop_b)
    before = _snapshot(theirs)
    answer = _reroute_api(token_client(shop_a), theirs)
    assert answer.status_code == 404 and answer.json()["code"] == "NOT_FOUND"
    assert _snapshot(theirs) == before
    mine = _failed(shop_a, "F-MINE")
    before = _snapshot(mine)
    answer = _reroute_api(token_client(shop_a, scopes=[perms.ORDER_MANAGE]), mine)
    assert answer.status_code == 403 and answer.json()["code"] == "PERMISSION_DENIED"
    assert _snapshot(mine) == before


def test_api_reroute_refused_when_not_a_failed_delivery(shop_a):
    order = make_order(shop_a, "P-2")
    before = _snapshot(order)
    answer = _reroute_api(token_client(shop_a), order)
    assert answer.status_code == 409 and answer.json()["code"] == "ORDER_STATE_CONFLICT"
    assert _snapshot(order) == before


def _form(**overrides):
    return {**NEW_RECEIVER, "postcode": "210000", **overrides}


def test_page_reroute_flow(client, shop_a):
    order = _failed(shop_a)
    client.force_login(shop_a.memberships.get().user)
    page = client.get(f"/console/orders/{order.pk}/").content.decode()
    assert 'data-testid="reroute-form"' in page and "重新派送" in page
    for label in ("姓名", "电话", "省", "市", "区/县", "详细地址", "邮编"):
        assert label in page
    # a bad phone: the page again, the problem next to the phone, the typed values kept
    before = _snapshot(order)
    answer = client.post(f"/console/orders/{order.pk}/reroute/", _form(phone="12345"))
    assert answer.status_code == 400
    html = answer.content.decode()
    assert 'data-testid="field-error-phone"' in html
    assert "不是有效的手机号或固定电话号码。" in html
    assert 'value="李四海"' in html and 'value="12345"' in html
    assert _snapshot(order) == before
    # a bad postcode names the postcode
    answer = client.post(f"/console/orders/{order.pk}/reroute/", _form(postcode="12"))
    assert answer.status_code == 400
    assert "邮编为 6 位数字。" in answer.content.decode()
    assert 'data-testid="field-error-postcode"' in answer.content.decode()
    # the good form: re-routed, back to the detail page without the form
    answer = client.post(f"/console/orders/{order.pk}/reroute/", _form())
    assert answer.status_code == 302 and answer["Location"] == f"/console/orders/{order.pk}/"
    order.refresh_from_db()
    assert order.status == "in_transit" and order.receiver_name_masked == "李**"
    assert services.order_reveal_receiver(actor=main_actor(shop_a), order=order) == NEW_RECEIVER
    assert order.receiver_postcode == "210000"
    page = client.get(f"/console/orders/{order.pk}/").content.decode()
    assert 'data-testid="reroute-form"' not in page
    assert "李**" in page and "139****5432" in page and "李四海" not in page


def test_page_reroute_past_12_days_shows_the_refusal_at_the_form(client, shop_a):
    order = _failed(shop_a, failed_at=timezone.now() - timedelta(days=13))
    before = _snapshot(order)
    client.force_login(shop_a.memberships.get().user)
    answer = client.post(f"/console/orders/{order.pk}/reroute/", _form())
    assert answer.status_code == 409
    html = answer.content.decode()
    assert 'data-testid="reroute-error"' in html
    assert "投递失败的订单只能在失败后 12 天内（含）申请重新派送，现已超过期限。" in html
    assert _snapshot(order) == before
