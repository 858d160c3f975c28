"""Each time rule with a fixed clock, and the lifecycle actions."""

from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from shops import services
from shops.models import Order, OrderEvent, Product
from tests.conftest import main_actor, make_order
from waybill_console.errors import AppError

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
REROUTE_TO = {
    "name": "李四",
    "phone": "13998765432",
    "province": "江苏省",
    "city": "南京市",
    "district": "玄武区",
    "detail": "中山路 18 号",
}


def _unpaid(shop, no="U-1"):
    return make_order(shop, no, status="unpaid", created_at=T0)


def _paid(shop, no="P-1"):
    return make_order(shop, no, status="paid", created_at=T0, paid_at=T0)


def _sweep(at):
    return services.orders_apply_time_rules(as_of=at)


def test_unpaid_reminders_at_15_minutes_and_16_hours(shop_a):
    order = _unpaid(shop_a)
    assert _sweep(T0 + timedelta(minutes=14))["reminded_15m"] == 0
    assert _sweep(T0 + timedelta(minutes=15))["reminded_15m"] == 1
    assert _sweep(T0 + timedelta(minutes=16))["reminded_15m"] == 0  # once
    assert _sweep(T0 + timedelta(hours=15, minutes=59))["reminded_16h"] == 0
    assert _sweep(T0 + timedelta(hours=16))["reminded_16h"] == 1
    kinds = list(OrderEvent.objects.filter(order=order).values_list("kind", flat=True))
    assert kinds.count("payment_reminder_15m") == 1 and kinds.count("payment_reminder_16h") == 1
    assert Order.objects.get(pk=order.pk).status == "unpaid"


def test_unpaid_order_is_cancelled_at_48_hours(shop_a):
    order = _unpaid(shop_a)
    assert _sweep(T0 + timedelta(hours=47, minutes=59))["cancelled_unpaid"] == 0
    assert Order.objects.get(pk=order.pk).status == "unpaid"
    assert _sweep(T0 + timedelta(hours=48))["cancelled_unpaid"] == 1
    order.refresh_from_db()
    assert order.status == "cancelled" and order.cancel_reason == "unpaid_timeout"


def test_paid_order_is_not_auto_cancelled(shop_a):
    order = _paid(shop_a)
    _sweep(T0 + timedelta(days=5))
    assert Order.objects.get(pk=order.pk).status == "paid"


def test_unanswered_cancellation_request_cancels_after_48_hours(shop_a):
    order = _paid(shop_a)
    services.order_request_cancel(actor=main_actor(shop_a), order=order, now=T0)
    assert _sweep(T0 + timedelta(hours=47))["cancelled_no_answer"] == 0
    assert _sweep(T0 + timedelta(hours=48))["cancelled_no_answer"] == 1
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert order.cancel_request_status == "approved"
    assert order.cancel_reason == "cancel_request_unanswered"


def test_answered_cancellation_request_is_not_swept(shop_a):
    order = _paid(shop_a)
    actor = main_actor(shop_a)
    services.order_request_cancel(actor=actor, order=order, now=T0)
    services.order_answer_cancel(
        actor=actor, order=order, approve=False, now=T0 + timedelta(hours=1)
    )
    _sweep(T0 + timedelta(hours=49))
    order.refresh_from_db()
    assert order.status == "paid" and order.cancel_request_status == "rejected"


def test_deadlines_ready_48h_pickup_72h_transit_120h(shop_a):
    order = _paid(shop_a)
    assert order.sla_due_at == T0 + timedelta(hours=48)
    ready_at = T0 + timedelta(hours=10)
    services.order_mark_ready(actor=main_actor(shop_a), order=order, now=ready_at)
    order.refresh_from_db()
    assert order.sla_due_at == ready_at + timedelta(hours=72)
    services.order_record_logistics(
        order=order, status="picked_up", at=ready_at + timedelta(hours=5)
    )
    order.refresh_from_db()
    assert order.sla_due_at == T0 + timedelta(hours=120)
    services.order_ship_by_hand(
        actor=main_actor(shop_a),
        order=order,
        carrier_code="ZTO",
        tracking_no="73100000000001",
        now=ready_at + timedelta(hours=6),
    )
    services.order_record_logistics(
        order=order, status="in_transit", at=ready_at + timedelta(hours=8)
    )
    order.refresh_from_db()
    assert order.status == "in_transit" and order.sla_due_at is None


def test_missed_deadline_is_recorded_once(shop_a):
    order = _paid(shop_a)
    assert _sweep(T0 + timedelta(hours=47))["sla_breaches"] == 0
    assert _sweep(T0 + timedelta(hours=48, minutes=1))["sla_breaches"] == 1
    assert _sweep(T0 + timedelta(hours=50))["sla_breaches"] == 0
    order.refresh_from_db()
    assert order.sla_breaches == ["ready_to_ship"]


def test_at_risk_filter_lists_orders_due_within_12_hours(shop_a):
    from shops.selectors import OrderFilters, order_list

    soon = _paid(shop_a, "SOON")
    make_order(
        shop_a, "LATER", created_at=T0 + timedelta(hours=30), paid_at=T0 + timedelta(hours=30)
    )
    found = order_list(
        actor=main_actor(shop_a), filters=OrderFilters(at_risk=True), now=T0 + timedelta(hours=37)
    )
    assert [o.order_no for o in found] == [soon.order_no]


def test_failed_delivery_reroutes_once_within_12_days(shop_a):
    actor = main_actor(shop_a)
    order = _paid(shop_a)
    services.order_ship_by_hand(
        actor=actor,
        order=order,
        carrier_code="YTO",
        tracking_no="YT1234567890123",
        now=T0 + timedelta(hours=2),
    )
    failed_at = T0 + timedelta(days=2)
    services.order_record_logistics(order=order, status="failed", at=failed_at)
    services.order_reroute(
        actor=actor,
        order=order,
        receiver=REROUTE_TO,
        postcode="210000",
        now=failed_at + timedelta(days=11),
    )
    order.refresh_from_db()
    assert order.status == "in_transit"
    services.order_record_logistics(order=order, status="failed", at=failed_at + timedelta(days=12))
    with pytest.raises(AppError) as refused:
        services.order_reroute(
            actor=actor,
            order=order,
            receiver=REROUTE_TO,
            postcode="210000",
            now=failed_at + timedelta(days=12),
        )
    assert refused.value.code == "REROUTE_ALREADY_USED"


def test_reroute_refused_after_12_days_and_sweep_returns_it(shop_a):
    actor = main_actor(shop_a)
    order = _paid(shop_a)
    services.order_ship_by_hand(
        actor=actor, order=order, carrier_code="YTO", tracking_no="YT1234567890124", now=T0
    )
    services.order_record_logistics(order=order, status="failed", at=T0 + timedelta(days=1))
    with pytest.raises(AppError) as refused:
        services.order_reroute(
            actor=actor,
            order=order,
            receiver=REROUTE_TO,
            postcode="210000",
            now=T0 + timedelta(days=13, minutes=1),
        )
    assert refused.value.code == "REROUTE_WINDOW_CLOSED"
    assert _sweep(T0 + timedelta(days=13, minutes=1))["returned"] == 1
    assert Order.objects.get(pk=order.pk).status == "returned"


def test_seller_cancellation_delists_the_products(shop_a):
    Product.objects.create(shop=shop_a, sku="SKU-1", name="保温杯", stock=120)
    order = _paid(shop_a)
    services.order_cancel_by_seller(actor=main_actor(shop_a), order=order, reason="缺货")
    product = Product.objects.get(shop=shop_a, sku="SKU-1")
    assert product.stock == 0 and not product.is_listed
    assert Order.objects.get(pk=order.pk).cancel_reason == "seller"


def test_no_source_risk_shop_cannot_ship_by_hand(shop_a):
    shop_a.no_source_risk = True
    shop_a.save()
    order = _paid(shop_a)
    with pytest.raises(AppError) as refused:
        services.order_ship_by_hand(
            actor=main_actor(shop_a), order=order, carrier_code="ZTO", tracking_no="73100000000001"
        )
    assert refused.value.code == "PLATFORM_WAYBILL_REQUIRED"
    order.refresh_from_db()
    assert order.status == "paid" and order.tracking_no == ""


def test_second_ship_gets_already_shipped(shop_a):
    actor = main_actor(shop_a)
    order = _paid(shop_a)
    services.order_ship_by_hand(
        actor=actor, order=order, carrier_code="ZTO", tracking_no="73100000000001"
    )
    with pytest.raises(AppError) as refused:
        services.order_ship_by_hand(
            actor=actor, order=order, carrier_code="ZTO", tracking_no="73100000000002"
        )
    assert refused.value.code == "ALREADY_SHIPPED"
    assert Order.objects.get(pk=order.pk).tracking_no == "73100000000001"


def test_after_sale_blocks_shipping(shop_a):
    actor = main_actor(shop_a)
    order = _paid(shop_a)
    services.order_start_after_sale(actor=actor, order=order)
    with pytest.raises(AppError) as refused:
        services.order_ship_by_hand(
            actor=actor, order=order, carrier_code="ZTO", tracking_no="73100000000001"
        )
    assert refused.value.code == "ORDER_BLOCKED"
    assert Order.objects.get(pk=order.pk).after_sale_status == "in_progress"


def test_address_change_reencrypts_and_flags(shop_a):
    actor = main_actor(shop_a)
    order = _paid(shop_a)
    services.order_change_address(
        actor=actor,
        order=order,
        receiver={
            "name": "李四",
            "phone": "13900001111",
            "province": "广东省",
            "city": "深圳市",
            "district": "南山区",
            "detail": "科技园 1 号",
        },
    )
    order = Order.objects.get(pk=order.pk)
    assert order.address_changed_at is not None
    assert order.receiver_phone_masked == "139****1111"
    assert services.order_reveal_receiver(actor=actor, order=order)["name"] == "李四"


def test_batch_ship_over_500_is_refused(shop_a):
    with pytest.raises(AppError) as refused:
        services.order_ship_batch_by_hand(actor=main_actor(shop_a), shipments=[{}] * 501)
    assert refused.value.code == "BATCH_TOO_LARGE"


def test_batch_ship_one_failure_does_not_stop_the_others(shop_a):
    a, b = _paid(shop_a, "B-1"), _paid(shop_a, "B-2")
    results = services.order_ship_batch_by_hand(
        actor=main_actor(shop_a),
        shipments=[
            {"order": a.pk, "carrier": "ZTO", "tracking_no": "bad"},
            {"order": b.pk, "carrier": "ZTO", "tracking_no": "73100000000009"},
        ],
    )
    assert [r["ok"] for r in results] == [False, True]
    assert results[0]["error"]["code"] == "VALIDATION_ERROR"
    assert Order.objects.get(pk=b.pk).status == "shipped"


def test_expire_orders_command_with_as_of(shop_a):
    order = _unpaid(shop_a)
    out = StringIO()
    call_command("expire_orders", "--as-of", (T0 + timedelta(hours=48)).isoformat(), stdout=out)
    assert "cancelled_unpaid: 1" in out.getvalue()
    assert Order.objects.get(pk=order.pk).status == "cancelled"


def test_sweep_task_is_on_the_beat_schedule():
    from django.conf import settings

    tasks = {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "shops.tasks.apply_order_time_rules" in tasks
