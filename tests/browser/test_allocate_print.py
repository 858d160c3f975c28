"""取号并打印 in Chromium: one click on the order page draws the number and downloads the
label PDF (its barcode scans to that number), the block shows the print status and the
preview, a reprint asks first and is recorded; the order list's print-status filter
(未打印 / 已打印 / 重打) shows the right orders."""

from __future__ import annotations

import pytest

from printing.services import labels_pdf
from shops.models import OrderEvent
from tests.browser.conftest import login, screenshot, submit
from tests.browser.test_journeys import barcodes
from tests.conftest import main_actor, make_order, make_shop, make_user
from tests.printing.decode import pdf_image
from tests.waybills.conftest import open_service
from waybills import services
from waybills.models import Waybill

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "waybill-demo"


def downloaded(info) -> bytes:
    with open(info.value.path(), "rb") as f:
        return f.read()


def test_allocate_and_print_on_the_order_page_then_the_print_status_filter(page):
    shop = make_shop("100001", user=make_user("merchant", PASSWORD), name="星河家居旗舰店")
    sub = open_service(shop, "ZTO", balance=10)
    actor = main_actor(shop)
    order = make_order(shop, "AP-001")
    waiting = services.waybill_allocate(
        actor=actor, order=make_order(shop, "AP-002"), subscription=sub.pk
    ).parent
    printed = services.waybill_allocate(
        actor=actor, order=make_order(shop, "AP-003"), subscription=sub.pk
    ).parent
    labels_pdf(actor=actor, waybills=[Waybill.objects.get(pk=printed.pk)])
    make_order(shop, "AP-004")  # no number: no print status

    # --- 取号并打印: one click, the PDF downloads, its barcode is the number drawn
    login(page, "merchant", PASSWORD)
    page.wait_for_url("**/console/")
    page.goto(f"{page.base_url}/console/orders/{order.pk}/")
    button = page.get_by_test_id("allocate-print")
    button.wait_for()
    assert button.inner_text() == "取号并打印"
    assert page.get_by_test_id("allocate-print-target").input_value() == "pdf"  # no printer
    with page.expect_download() as info:
        button.click()
    number = Waybill.objects.get(order=order).waybill_no
    assert info.value.suggested_filename == f"label-{number}.pdf"
    assert barcodes(pdf_image(downloaded(info), dpi=200)) == {number}

    # --- the block shows the number, 已打印, the preview and 重打
    block = page.get_by_test_id("order-waybills")
    block.get_by_test_id(f"order-waybill-{number}").wait_for()
    status = block.get_by_test_id("print-status")
    status.wait_for()
    assert status.get_attribute("data-status") == "printed"
    assert "已打印" in status.inner_text()
    assert block.get_by_test_id("order-print").inner_text() == "重打面单"
    preview = block.get_by_test_id("label-preview")
    preview.locator("summary").click()
    image = preview.locator("img").element_handle()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image)
    block.evaluate("el => el.scrollIntoView()")
    screenshot(page, "allocate-and-print")

    # --- a reprint asks first (in place); confirmed, it prints and is recorded
    block.get_by_test_id("order-print").click()
    confirm = page.get_by_test_id("reprint-confirm")
    confirm.wait_for()
    assert number in confirm.inner_text()
    assert Waybill.objects.get(order=order).print_count == 1  # nothing printed yet
    with page.expect_download() as again:
        confirm.get_by_test_id("reprint-confirm-submit").click()
    assert barcodes(pdf_image(downloaded(again), dpi=200)) == {number}
    page.locator("[data-testid=print-status][data-status=reprinted]").wait_for()
    assert Waybill.objects.get(order=order).print_count == 2
    [event] = OrderEvent.objects.filter(order=order, kind="label_printed", data__reprint=True)
    assert event.actor == "user:merchant" and event.data["waybill_no"] == number

    # --- the order list: the print status column and its filter
    page.goto(page.base_url + "/console/orders/")
    table = page.get_by_test_id("order-table")
    statuses = {
        row.locator("td").nth(1).inner_text().split()[0]: row.get_by_test_id(
            "order-print-status"
        ).inner_text()
        for row in table.locator("tbody tr").all()
    }
    assert statuses == {"AP-001": "重打", "AP-002": "未打印", "AP-003": "已打印", "AP-004": "—"}
    for value, expected in (("unprinted", ["AP-002"]), ("printed", ["AP-003"])):
        page.get_by_test_id("print-status-filter").select_option(value)
        submit(page, page.get_by_test_id("filters").locator("button[type=submit]"))
        assert f"print_status={value}" in page.url
        numbers = [
            row.locator("td").nth(1).inner_text().split()[0]
            for row in table.locator("tbody tr").all()
        ]
        assert numbers == expected
    assert waiting.waybill_no not in page.content()
