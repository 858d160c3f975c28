"""Waybills in Chromium with a real Celery worker: batch allocation (批量取号) from the order
list, cancelling from usage details (使用详情) with its 7-day chart, a reconciliation
statement (对账单) downloaded as CSV, and the allocation exceptions page (面单异常)."""

from __future__ import annotations

import csv
import io

import pytest
from celery.contrib.testing.worker import start_worker

from carriers.models import Subscription
from shops.models import Order
from tests.browser.conftest import login, screenshot
from tests.conftest import make_order, make_shop, make_user
from tests.waybills.conftest import open_service
from waybill_console.celery import app
from waybill_console.exports import excel_text_value
from waybills.models import AllocationException, Waybill

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PASSWORD = "waybill-demo"
PAID = 10


@pytest.fixture
def worker():
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


def test_batch_allocate_cancel_usage_chart_and_statement(page, worker, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    shop = make_shop("100001", user=make_user("merchant", PASSWORD), name="星河家居旗舰店")
    sub = open_service(shop, "ZTO", balance=100)
    paid = [make_order(shop, f"WB-B-{i:03d}") for i in range(1, PAID + 1)]
    unpaid = make_order(shop, "WB-B-UNPAID", status="unpaid")

    login(page, "merchant", PASSWORD)
    page.wait_for_url("**/console/")

    # --- 批量取号 from the order list: tick every order on the page, choose the service
    page.locator("nav.sidenav a[href$='/console/orders/']").click()
    page.wait_for_url("**/console/orders/")
    button = page.get_by_test_id("batch-allocate")
    button.wait_for()
    assert page.get_by_test_id("batch-subscription").input_value() == str(sub.pk)
    page.locator("#check-page").check()
    assert page.locator(".row-check:checked").count() == PAID + 1
    with page.expect_navigation():
        button.click()
    page.wait_for_load_state("load")
    assert "batch_job=" in page.url

    progress = page.get_by_test_id("batch-progress")
    progress.wait_for()
    assert progress.locator(".progress").is_visible()
    page.locator("[data-testid=batch-progress][data-status=succeeded]").wait_for(timeout=30000)
    summary = page.get_by_test_id("batch-summary").inner_text()
    assert f"{PAID} 单已取号，1 单失败" in summary
    failures = page.get_by_test_id("batch-failures")
    assert "WB-B-UNPAID" in failures.inner_text()
    # the code stays in the markup, the person reads the message
    assert failures.locator("[data-code=ORDER_NOT_ALLOCATABLE]").count() == 1
    assert "ORDER_NOT_ALLOCATABLE" not in failures.inner_text()
    assert page.get_by_test_id("exceptions-link").is_visible()
    screenshot(page, "waybill-batch-allocate")

    numbers = dict(Waybill.objects.filter(shop=shop).values_list("order_id", "waybill_no"))
    assert sorted(numbers) == sorted(o.pk for o in paid)
    assert Subscription.objects.get(pk=sub.pk).balance == 100 - PAID
    assert Order.objects.filter(pk__in=[o.pk for o in paid], has_waybill=True).count() == PAID

    # --- usage details: the 7-day chart and counters; cancel one number
    page.locator("nav.sidenav a[href$='/console/waybills/']").click()
    page.wait_for_url("**/console/waybills/")
    assert page.locator("h1").inner_text() == "使用详情"
    card = page.get_by_test_id(f"usage-card-{sub.pk}")
    assert card.get_by_test_id("usage-chart").is_visible()
    assert card.get_by_test_id("usage-allocated").inner_text() == str(PAID)
    assert card.get_by_test_id("usage-balance").inner_text() == str(100 - PAID)
    assert card.locator(".chart-day").count() == 7
    assert card.locator(".chart-day").last.get_attribute("data-allocated") == str(PAID)
    rows = page.locator("[data-testid=usage-table] tbody tr")
    assert rows.count() == PAID

    victim = numbers[paid[0].pk]
    row = page.get_by_test_id(f"waybill-{victim}")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        row.get_by_test_id("cancel-waybill").click()
    page.wait_for_load_state("load")
    row = page.get_by_test_id(f"waybill-{victim}")
    assert row.get_by_test_id("waybill-status").inner_text() == "已取消"
    assert row.get_by_test_id("cancel-waybill").count() == 0
    assert page.locator("ul.messages li.success").inner_text() == f"面单 {victim} 已取消。"
    card = page.get_by_test_id(f"usage-card-{sub.pk}")
    assert card.get_by_test_id("usage-cancelled").inner_text() == "1"
    assert card.get_by_test_id("cancellable-now").inner_text() == f"还可取消 {PAID - 1} 单"
    assert card.locator(".chart-day").last.get_attribute("data-cancelled") == "1"
    assert Waybill.objects.get(waybill_no=victim).status == "cancelled"
    screenshot(page, "waybill-usage")

    # --- the same service reached from its card on the subscription page (近7天)
    page.locator("nav.sidenav a[href$='/console/waybill-service/']").click()
    page.wait_for_url("**/console/waybill-service/")
    page.get_by_test_id(f"subscription-{sub.pk}").get_by_test_id("usage-link").click()
    page.wait_for_url(f"**/console/waybills/?subscription={sub.pk}&days=7")
    assert page.get_by_test_id("filter-subscription").input_value() == str(sub.pk)
    assert page.locator("[data-testid=usage-table] tbody tr").count() == PAID

    # --- a reconciliation statement for these filters, downloaded when generated
    page.get_by_test_id("statement-format").select_option("csv")
    with page.expect_navigation():
        page.get_by_test_id("statement-submit").click()
    page.wait_for_url("**/console/jobs/*/")
    download_link = page.get_by_test_id("download")
    download_link.wait_for(timeout=30000)
    with page.expect_download() as info:
        download_link.click()
    download = info.value
    assert download.suggested_filename.startswith("reconciliation-100001-")
    assert download.suggested_filename.endswith(".csv")
    raw = open(download.path(), "rb").read().decode("utf-8-sig")
    # ="…": a number Excel keeps a text (waybill_console.exports)
    table = [[excel_text_value(c) for c in r] for r in csv.reader(io.StringIO(raw))]
    assert table[0][0] == "运单号" and "三段码" in table[0]
    listed = {line[0]: line for line in table[1:]}
    assert set(listed) == set(numbers.values())
    assert listed[victim][5] == "已取消"
    assert "13812345678" not in raw and "138****5678" in raw

    # --- 面单异常: the unpaid order's failed allocation, retryable
    page.locator("nav.sidenav a[href$='/console/waybills/exceptions/']").click()
    page.wait_for_url("**/console/waybills/exceptions/")
    assert page.locator("h1").inner_text() == "面单异常"
    exception = AllocationException.objects.get(order=unpaid)
    row = page.get_by_test_id(f"exception-{exception.pk}")
    assert "WB-B-UNPAID" in row.inner_text() and row.get_attribute("data-code") == (
        "ORDER_NOT_ALLOCATABLE"
    )
    assert page.get_by_test_id("retry-all").is_visible()
    screenshot(page, "waybill-exceptions")

    with page.expect_navigation():
        row.get_by_test_id("retry").click()
    page.wait_for_load_state("load")
    assert "WB-B-UNPAID" in page.locator("ul.messages li.error").inner_text()
    exception.refresh_from_db()
    assert exception.attempts == 2 and exception.resolved_at is None


def test_order_detail_shows_its_waybill_and_ships_with_it(page):
    shop = make_shop("100001", user=make_user("merchant", PASSWORD), name="星河家居旗舰店")
    sub = open_service(shop, "ZTO", balance=10)
    order = make_order(shop, "WB-D-001")

    login(page, "merchant", PASSWORD)
    page.wait_for_url("**/console/")
    page.goto(f"{page.base_url}/console/orders/{order.pk}/")
    block = page.get_by_test_id("order-waybills")
    block.wait_for()
    assert "尚未取号" in block.inner_text()
    with page.expect_navigation():
        block.get_by_test_id("allocate-form").locator("button[type=submit]").click()
    page.wait_for_load_state("load")

    waybill = Waybill.objects.get(order=order)
    row = page.get_by_test_id(f"order-waybill-{waybill.waybill_no}")
    row.wait_for()
    assert Subscription.objects.get(pk=sub.pk).balance == 9
    with page.expect_navigation():
        row.get_by_test_id("ship-with-waybill").locator("button[type=submit]").click()
    page.wait_for_load_state("load")
    assert page.get_by_test_id("order-status").inner_text() == "已发货"
    assert page.get_by_test_id("tracking").inner_text() == f"中通快递 {waybill.waybill_no}"
    order.refresh_from_db()
    assert (order.status, order.shipped_by_hand) == ("shipped", False)
