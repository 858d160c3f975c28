"""The order list's search: an order number or its beginning, a waybill number, a full
phone number; within the actor's shop only, and every part an index lookup."""

from __future__ import annotations

import copy

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shops.models import Order
from shops.selectors import OrderFilters, order_list
from tests.conftest import main_actor, make_order
from tests.waybills.conftest import open_service
from waybills import services
from waybills.models import Waybill
from waybills.selectors import order_ids_by_waybill_no

pytestmark = pytest.mark.django_db


def _found(shop, q: str) -> set[str]:
    return {o.order_no for o in order_list(actor=main_actor(shop), filters=OrderFilters(q=q))}


def test_an_order_number_prefix_finds_the_orders_that_start_with_it(shop_a, shop_b):
    for no in ("6921-0001", "6921-0002", "6930-0001"):
        make_order(shop_a, no)
    make_order(shop_b, "6921-0003")
    assert _found(shop_a, "6921-") == {"6921-0001", "6921-0002"}
    assert _found(shop_a, " 6921-0002 ") == {"6921-0002"}
    assert _found(shop_a, "6921%") == set()  # a wildcard is a character like any other
    assert _found(shop_a, "0001") == set()  # the beginning, not anywhere
    assert _found(shop_b, "6921-") == {"6921-0003"}


def test_a_waybill_number_finds_its_order_in_this_shop_only(shop_a, shop_b):
    sub = open_service(shop_a, balance=5)
    order = make_order(shop_a, "WB-SEARCH-1")
    make_order(shop_a, "WB-SEARCH-2")
    waybill = services.waybill_allocate(
        actor=main_actor(shop_a), order=order, subscription=sub
    ).parent
    assert _found(shop_a, waybill.waybill_no) == {"WB-SEARCH-1"}
    assert _found(shop_a, waybill.waybill_no.lower()) == {"WB-SEARCH-1"}
    # a cancelled label still finds its order
    services.waybill_cancel(actor=main_actor(shop_a), waybill=waybill)
    assert _found(shop_a, waybill.waybill_no) == {"WB-SEARCH-1"}
    # another shop's number finds nothing, on the page as in the selector
    make_order(shop_b, "WB-SEARCH-B")
    assert _found(shop_b, waybill.waybill_no) == set()
    client = Client()
    client.force_login(shop_b.memberships.get().user)
    page = client.get(reverse("console:order_list"), {"q": waybill.waybill_no})
    assert page.status_code == 200 and "WB-SEARCH" not in page.content.decode()
    client.force_login(shop_a.memberships.get().user)
    page = client.get(reverse("console:order_list"), {"q": waybill.waybill_no})
    assert "WB-SEARCH-1" in page.content.decode()
    assert "WB-SEARCH-2" not in page.content.decode()


def test_a_full_phone_number_still_finds_by_its_blind_index(shop_a):
    make_order(shop_a, "PHONE-1", phone="13911112222")
    make_order(shop_a, "PHONE-2", phone="13933334444")
    assert _found(shop_a, "139 1111 2222") == {"PHONE-1"}
    assert _found(shop_a, "+86 139-3333-4444") == {"PHONE-2"}


def _seed(shop, count: int, prefix: str) -> None:
    """``count`` orders of the shop in one statement (copies of one real order, each with
    a receiver phone index of its own)."""
    template = make_order(shop, f"{prefix}-TEMPLATE", phone="13900000000")
    rows = []
    for i in range(count):
        row = copy.copy(template)
        row.pk, row.id, row.order_no = None, None, f"{prefix}-{i:06d}"
        row.receiver_phone_index = f"seed-{shop.pk}-{i}"
        rows.append(row)
    Order.objects.bulk_create(rows, batch_size=1000)


def _plan(qs) -> str:
    return qs.order_by("-created_at", "-id")[:50].explain()


def test_the_search_is_an_index_lookup_on_a_seeded_table(shop_a, shop_b):
    """EXPLAIN on 6,000 orders: the prefix, the waybill number and the phone are index
    scans within the shop, never a scan of the table; the prefix is served by the
    ``varchar_pattern_ops`` index alone, as it must be under a collation other than "C"
    (the unique (shop, order_no) index serves LIKE only under "C": it is dropped here,
    inside the test's transaction); the waybill number is a probe of the number index."""
    sub = open_service(shop_a, balance=5)
    _seed(shop_a, 4000, "SEED")
    _seed(shop_b, 2000, "SEED")
    order = make_order(shop_a, "SEED-NUMBERED", phone="13812345678")
    waybill = services.waybill_allocate(
        actor=main_actor(shop_a), order=order, subscription=sub
    ).parent
    cancelled = []  # 3,000 more numbers of the shop, cancelled ones of the same order
    for i in range(3000):
        row = copy.copy(waybill)
        row.pk, row.id, row.waybill_no, row.status = None, None, f"SEEDWB{i:08d}", "cancelled"
        cancelled.append(row)
    Waybill.objects.bulk_create(cancelled, batch_size=1000)
    with connection.cursor() as cur:
        cur.execute("ANALYZE shops_order")
        cur.execute("ANALYZE waybills_waybill")
    actor = main_actor(shop_a)

    def search(q):
        return order_list(actor=actor, filters=OrderFilters(q=q))

    assert search("SEED-00012").count() == 10
    assert [o.pk for o in search("13812345678")] == [order.pk]
    expected = {
        "SEED-00012": "order_shop_order_no_",  # the unique index or the prefix one
        waybill.waybill_no: "shops_order_pkey",  # the ids the number index found
        "13812345678": "order_shop_phone",
    }
    for q, index in expected.items():
        plan = _plan(search(q))
        assert "Seq Scan" not in plan and index in plan, plan

    with CaptureQueriesContext(connection) as finder:
        assert order_ids_by_waybill_no(shop_id=shop_a.pk, term=waybill.waybill_no) == [order.pk]
    with connection.cursor() as cur:
        cur.execute("EXPLAIN " + finder.captured_queries[-1]["sql"])
        plan = "\n".join(row[0] for row in cur.fetchall())
    assert "Seq Scan" not in plan and "waybill_no_unique" in plan, plan

    with connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred foreign keys, checked now
        cur.execute("ALTER TABLE shops_order DROP CONSTRAINT order_shop_order_no_unique")
    plan = _plan(search("SEED-00012"))
    assert "order_shop_order_no_prefix" in plan and "Seq Scan" not in plan, plan
    assert search("SEED-00012").count() == 10
