"""The guards on the merchant's pages (issue 17).

* 批量发货 (with the orders' own numbers, or by hand) cannot be undone: a POST without
  ``confirm=1`` answers with the confirmation (确认发货 N 个订单？此操作不可撤销。, N the
  orders selected, across pages for "all matching"), listing the blocked orders it will
  refuse, and ships nothing; the confirmation's own form posts the selection back and ships.
* An order under a cancellation request or after-sale shows the reason on its page and
  offers neither 取号 nor 发货 (the services refuse both anyway).
"""

from __future__ import annotations

from html import unescape

import pytest
from django.urls import reverse
from django.utils import translation

from shops import services as shop_services
from shops.errors import OrderBlocked
from shops.models import AfterSaleStatus, Order, OrderEvent
from shops.services.order_states import UNDER_REVIEW_REASON
from tests.confirmation import confirmed_post, question
from tests.conftest import main_actor, make_order
from tests.waybills.conftest import open_service
from waybills import services

pytestmark = pytest.mark.django_db

PHONE = "13900001111"


def login(client, shop):
    client.force_login(shop.memberships.get(role="main").user)
    return client


def numbered(shop, sub, count: int, **kw) -> list[Order]:
    orders = [make_order(shop, **kw) for _ in range(count)]
    for order in orders:
        services.waybill_allocate(actor=main_actor(shop), order=order, subscription=sub)
    return orders


def statuses(orders) -> list[str]:
    return [Order.objects.get(pk=o.pk).status for o in orders]


def blocked_text(reason) -> str:
    with translation.override("zh-hans"):
        return OrderBlocked(reason=str(reason)).render_message()


def test_batch_ship_asks_with_the_count_and_ships_only_once_confirmed(client, shop_a):
    sub = open_service(shop_a, balance=10)
    ready = numbered(shop_a, sub, 3)
    [under_review] = numbered(shop_a, sub, 1)
    shop_services.order_request_cancel(actor=main_actor(shop_a), order=under_review)
    chosen = [*ready, under_review]
    events = OrderEvent.objects.filter(kind="ship").count()
    login(client, shop_a)

    asked = client.post(
        reverse("console:waybill_batch_ship"),
        {"ids": [o.pk for o in chosen], "return_address": sub.address_id, "status": "paid"},
    )

    assert asked.status_code == 200
    html = unescape(asked.content.decode())
    assert question(html) == "确认发货 4 个订单？此操作不可撤销。"
    assert f"{under_review.order_no}：{blocked_text(UNDER_REVIEW_REASON)}" in html
    assert all(o.order_no not in html for o in ready)  # only the refused ones are listed
    assert 'href="/console/orders/?status=paid" data-testid="confirm-cancel"' in html
    assert statuses(chosen) == ["paid"] * 4
    assert OrderEvent.objects.filter(kind="ship").count() == events

    action, data = confirmed_post(html)
    assert action == reverse("console:waybill_batch_ship")
    assert data["ids"] == [str(o.pk) for o in chosen] and data["confirm"] == ["1"]
    done = client.post(action, data, follow=True)

    assert done.status_code == 200
    assert statuses(chosen) == ["shipped", "shipped", "shipped", "paid"]
    assert {Order.objects.get(pk=o.pk).return_address_id for o in ready} == {sub.address_id}
    assert f"{under_review.order_no}：{blocked_text(UNDER_REVIEW_REASON)}" in unescape(
        done.content.decode()
    )


def test_batch_ship_of_all_matching_asks_with_the_count_across_pages(client, shop_a):
    open_service(shop_a, balance=0)
    matching = [make_order(shop_a, phone=PHONE) for _ in range(53)]  # more than a page (50)
    login(client, shop_a)

    asked = client.post(
        reverse("console:waybill_batch_ship"),
        {"ids": [o.pk for o in matching[:50]], "all_matching": "1", "q": PHONE},
    )

    assert question(asked.content.decode()) == "确认发货 53 个订单？此操作不可撤销。"
    assert Order.objects.filter(shop=shop_a).exclude(status="paid").count() == 0


def test_batch_ship_by_hand_asks_first_in_english_too(client, shop_a):
    orders = [make_order(shop_a) for _ in range(2)]
    lines = "\n".join(f"{o.order_no} ZTO 7310000000{i:04d}" for i, o in enumerate(orders))
    login(client, shop_a)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})

    asked = client.post(
        reverse("console:order_batch"), {"action": "ship", "shipments": lines, "ids": []}
    )

    assert asked.status_code == 200
    html = asked.content.decode()
    assert question(html) == "Ship 2 orders? This cannot be undone."
    assert statuses(orders) == ["paid", "paid"]

    action, data = confirmed_post(html)
    assert data["shipments"] == [lines] and data["action"] == ["ship"]
    client.post(action, data)

    assert statuses(orders) == ["shipped", "shipped"]
    assert [Order.objects.get(pk=o.pk).tracking_no for o in orders] == [
        "73100000000000",
        "73100000000001",
    ]


def test_an_order_under_a_cancellation_request_shows_why_and_offers_no_allocation(client, shop_a):
    open_service(shop_a, balance=10)
    order = make_order(shop_a)
    shop_services.order_request_cancel(actor=main_actor(shop_a), order=order)
    login(client, shop_a)

    block = unescape(
        client.get(reverse("console:order_waybills", args=[order.pk])).content.decode()
    )
    detail = unescape(client.get(reverse("console:order_detail", args=[order.pk])).content.decode())

    assert 'data-testid="order-blocked"' in block
    assert blocked_text(UNDER_REVIEW_REASON) in block
    assert "请先处理买家的取消申请（同意或拒绝）；处理前不能取号，也不能发货。" in block
    assert 'data-testid="allocate-form"' not in block
    assert 'data-testid="ship-form"' not in detail and 'data-testid="ship-blocked"' in detail

    # answered (rejected): 取号 and 发货 are offered again
    shop_services.order_answer_cancel(actor=main_actor(shop_a), order=order, approve=False)
    block = client.get(reverse("console:order_waybills", args=[order.pk])).content.decode()
    detail = client.get(reverse("console:order_detail", args=[order.pk])).content.decode()
    assert 'data-testid="allocate-form"' in block and 'data-testid="order-blocked"' not in block
    assert 'data-testid="ship-form"' in detail and 'data-testid="ship-blocked"' not in detail


def test_an_order_in_after_sale_offers_no_ship_with_its_number(client, shop_a):
    sub = open_service(shop_a, balance=10)
    [order] = numbered(shop_a, sub, 1)
    shop_services.order_start_after_sale(actor=main_actor(shop_a), order=order)
    login(client, shop_a)

    block = unescape(
        client.get(reverse("console:order_waybills", args=[order.pk])).content.decode()
    )

    assert blocked_text(AfterSaleStatus.IN_PROGRESS.label) in block
    assert "请先关闭售后；关闭前不能取号，也不能发货。" in block
    assert 'data-testid="ship-with-waybill"' not in block
    assert order.tracking_no in block  # the number is still listed (and cancellable)
