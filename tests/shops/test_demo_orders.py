"""Demo orders (``seed_demo --orders N``): realistic, encrypted, consistent, and repeatable."""

import re
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from carriers.catalog import CARRIERS
from shops.demo.catalogue import PRODUCTS
from shops.demo.orders import demo_orders_create
from shops.models import Order, OrderEvent, OrderItem, OrderStatus, Product, Shop
from shops.services.order_states import sla_next_due
from tests.conftest import make_shop
from waybill_console.crypto import Sealed, blind_index

S = OrderStatus


@pytest.fixture
def shop(db):
    return make_shop()


def test_three_hundred_realistic_orders(shop):
    now = timezone.now()
    assert demo_orders_create(shop=shop, count=300, now=now) == 300

    orders = list(Order.objects.filter(shop=shop))
    assert len(orders) == 300
    assert OrderItem.objects.filter(order__shop=shop).values("order").distinct().count() == 300
    assert OrderEvent.objects.filter(order__shop=shop, kind="created").count() == 300
    assert all(1 <= o.items.count() <= 4 for o in orders[:30])
    assert Product.objects.filter(shop=shop).count() == len(PRODUCTS)

    assert len({o.receiver_province for o in orders}) >= 10
    assert len({o.receiver_city for o in orders}) >= 30
    assert all(
        o.receiver_phone_masked and re.fullmatch(r"1\d\d\*{4}\d{4}", o.receiver_phone_masked)
        for o in orders
    )
    with connection.cursor() as cur:
        cur.execute(
            "SELECT receiver_phone, receiver_name FROM shops_order WHERE shop_id = %s", [shop.pk]
        )
        rows = cur.fetchall()
    assert all(not re.search(r"\d{11}", phone) and phone.startswith("gAAAAA") for phone, _ in rows)
    assert all(isinstance(o.receiver_phone, Sealed) for o in orders)

    statuses = Counter(o.status for o in orders)
    for status in (S.PAID, S.SHIPPED, S.IN_TRANSIT, S.DELIVERED, S.CANCELLED, S.UNPAID):
        assert statuses[status] > 0, statuses
    assert statuses[S.DELIVERED] > statuses[S.CANCELLED]
    assert sum(o.after_sale_status == "in_progress" for o in orders) >= 5

    carriers = {code for code, *_ in CARRIERS}
    for o in orders:
        assert now - timedelta(days=61) <= o.created_at <= now
        assert o.sla_due_at == sla_next_due(o)
        if o.status in (S.SHIPPED, S.IN_TRANSIT, S.DELIVERED, S.READY_TO_SHIP):
            assert o.carrier_code in carriers and o.tracking_no
            assert o.paid_at >= o.created_at
        if o.status in (S.SHIPPED, S.IN_TRANSIT, S.DELIVERED):
            assert o.shipped_at >= o.paid_at
        if o.status == S.DELIVERED:
            assert o.paid_at <= o.shipped_at <= o.picked_up_at <= o.delivered_at <= now
        if o.status == S.UNPAID:
            assert o.paid_at is None and o.carrier_code == ""
            assert now - o.created_at < timedelta(hours=48)
        if o.status == S.CANCELLED:
            assert o.cancelled_at and o.shipped_at is None
        if o.after_sale_status == "in_progress":
            assert o.status not in (S.UNPAID, S.CANCELLED)


def test_phone_search_finds_the_example_receiver(shop):
    demo_orders_create(shop=shop, count=300)
    index = blind_index("13812345678")
    assert Order.objects.filter(shop=shop, receiver_phone_index=index).exists()


def test_running_twice_continues_the_numbers(shop):
    demo_orders_create(shop=shop, count=300)
    demo_orders_create(shop=shop, count=300)
    numbers = set(Order.objects.filter(shop=shop).values_list("order_no", flat=True))
    assert len(numbers) == 600
    assert {"DEMO00000001", "DEMO00000300", "DEMO00000301", "DEMO00000600"} <= numbers
    assert Product.objects.filter(shop=shop).count() == len(PRODUCTS)


def test_seed_demo_command_adds_orders_to_the_chosen_shop(db, capsys):
    call_command("seed_demo", "--quiet", "--orders", "40")
    call_command("seed_demo", "--quiet", "--orders", "10", "--shop", "100002")
    assert Order.objects.filter(shop__shop_no="100001").count() == 40
    assert Order.objects.filter(shop__shop_no="100002").count() == 10
    assert Shop.objects.count() == 3


def test_seed_demo_if_empty_adds_orders_only_once(db):
    call_command("seed_demo", "--quiet", "--orders", "20", "--if-empty")
    call_command("seed_demo", "--quiet", "--orders", "20", "--if-empty")
    assert Order.objects.filter(shop__shop_no="100001").count() == 20


@pytest.mark.parametrize("local_time", ["00:00:01", "00:40", "03:30", "12:00", "23:59:59"])
@pytest.mark.parametrize("count", [6, 60, 500])
def test_backlog_waits_to_ship_whatever_the_hour(shop, local_time, count):
    """Whatever the hour the demo is seeded, a backlog of paid, unblocked orders without a
    number waits to be numbered, printed and shipped (5 %, at least 6)."""
    from datetime import datetime, time

    at = time.fromisoformat(local_time)
    now = timezone.make_aware(datetime.combine(datetime(2026, 3, 1).date(), at))
    demo_orders_create(shop=shop, count=count, now=now)
    waiting = Order.objects.filter(
        shop=shop,
        status=S.PAID,
        after_sale_status="none",
        has_waybill=False,
        shipped_by_hand=False,
        tracking_no="",
        address_changed_at__isnull=True,
    ).exclude(cancel_request_status="pending")
    assert waiting.count() >= max(6, count * 5 // 100)
    assert all(now - timedelta(hours=48) < o.paid_at <= now for o in waiting)
    assert all(o.created_at <= now for o in Order.objects.filter(shop=shop))
