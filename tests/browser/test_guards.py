"""The guards in Chromium (issue 17): 批量发货 of N ticked orders asks 确认发货 N 个订单？
此操作不可撤销。 first; going back ships nothing; confirming (from the keyboard: the confirm
button has the focus) ships them. An order under the buyer's cancellation request shows why
on its page and offers no 取号 button."""

from __future__ import annotations

import pytest
from django.utils import translation

from shops import services as shop_services
from shops.errors import OrderBlocked
from shops.models import Order, OrderEvent
from shops.services.order_states import UNDER_REVIEW_REASON
from tests.browser.conftest import login, submit
from tests.conftest import main_actor, make_order, make_shop, make_user
from tests.waybills.conftest import open_service
from waybills import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "waybill-demo"


def tick_and_batch_ship(page, orders) -> None:
    page.goto(page.base_url + "/console/orders/")
    ship = page.get_by_test_id("batch-ship-waybill")  # loaded into the form by htmx
    ship.wait_for()
    for order in orders:
        page.locator(f"input[name=ids][value='{order.pk}']").check()
    submit(page, ship)


def test_batch_ship_confirms_the_count_and_a_blocked_order_offers_no_allocation(page):
    shop = make_shop("100001", user=make_user("merchant", PASSWORD), name="星河家居旗舰店")
    sub = open_service(shop, "ZTO", balance=10)
    orders = [make_order(shop, f"WB-G-00{i}") for i in (1, 2, 3)]
    for order in orders:
        services.waybill_allocate(actor=main_actor(shop), order=order, subscription=sub)
    under_review = make_order(shop, "WB-G-004")
    shop_services.order_request_cancel(actor=main_actor(shop), order=under_review)
    login(page, "merchant", PASSWORD)
    page.wait_for_url("**/console/")

    # --- 批量发货 asks first; going back ships nothing
    tick_and_batch_ship(page, orders)
    assert page.get_by_test_id("confirm-question").inner_text() == (
        "确认发货 3 个订单？此操作不可撤销。"
    )
    submit(page, page.get_by_test_id("confirm-cancel"))
    assert "/console/orders/" in page.url
    assert [Order.objects.get(pk=o.pk).status for o in orders] == ["paid"] * 3
    assert not OrderEvent.objects.filter(kind="ship").exists()

    # --- confirmed from the keyboard: the confirm button has the focus, Enter ships
    tick_and_batch_ship(page, orders)
    confirm = page.get_by_test_id("confirm-submit")
    assert confirm.evaluate("button => button === document.activeElement")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    assert [Order.objects.get(pk=o.pk).status for o in orders] == ["shipped"] * 3
    assert OrderEvent.objects.filter(kind="ship").count() == 3

    # --- the order under a cancellation request: the reason up front, no 取号 button
    page.goto(f"{page.base_url}/console/orders/{under_review.pk}/")
    notice = page.get_by_test_id("order-waybills").get_by_test_id("order-blocked")
    notice.wait_for()
    with translation.override("zh-hans"):
        reason = OrderBlocked(reason=str(UNDER_REVIEW_REASON)).render_message()
    assert reason in notice.inner_text()
    assert "请先处理买家的取消申请" in notice.inner_text()
    assert page.get_by_test_id("allocate-form").count() == 0
    assert page.get_by_test_id("ship-form").count() == 0
