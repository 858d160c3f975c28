"""扫描发货 on a phone (390×844), keyboard only, as a scan gun types: a waybill number and
Enter opens the order, Enter ships it (green, heard, shipped in the database); an order
whose buyer asked to cancel is a large red refusal and stays unshipped; the cursor never
leaves the scan field and the page never scrolls sideways."""

from __future__ import annotations

import pytest

from shops import services as shop_services
from shops.models import Order
from tests.browser.conftest import login, screenshot
from tests.conftest import main_actor, make_order, make_shop, make_user
from tests.waybills.conftest import open_service
from waybills import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "waybill-demo"


def _numbered(shop, sub, order_no: str, **kw):
    order = make_order(shop, order_no, **kw)
    return services.waybill_allocate(actor=main_actor(shop), order=order, subscription=sub).parent


def _scan(page, code: str, outcome: str):
    """Type as the scan gun does (into whatever has the focus) and wait for the answer."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    banner = page.locator(f"#scan-result [data-testid=scan-banner][data-outcome={outcome}]")
    banner.wait_for()
    return banner


def _heard(page, kind: str) -> None:
    """The answer's sound was played (the page plays it once the answer has settled in)."""
    page.wait_for_function(
        f"(document.body.dataset.scanSound || '').startsWith('{kind}:')", timeout=5000
    )


def _ready(page) -> None:
    """The answer was heard and the cursor is back in the empty scan field."""
    page.wait_for_function(
        "document.activeElement && document.activeElement.id === 'scan-code'"
        " && document.activeElement.value === ''"
    )


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_packer_scans_and_ships_by_keyboard_on_a_phone(page):
    shop = make_shop("100001", user=make_user("merchant", PASSWORD), name="星河家居旗舰店")
    sub = open_service(shop, "ZTO", balance=10)
    items = [
        {"sku": "CUP-500-W", "product_name": "保温杯", "spec": "500ml 白色", "quantity": 2},
        {"sku": "LID-S", "product_name": "杯盖", "spec": "", "quantity": 1},
    ]
    parcel = _numbered(shop, sub, "6921000000000001", items=items, name="李小龙")
    blocked = _numbered(shop, sub, "6921000000000002")
    shop_services.order_request_cancel(
        actor=main_actor(shop), order=Order.objects.get(pk=blocked.order_id), reason="不想要了"
    )

    page.set_viewport_size({"width": 390, "height": 844})
    login(page, "merchant", PASSWORD)
    page.wait_for_url("**/console/")
    page.goto(page.base_url + "/console/scan/")
    assert page.locator("h1").inner_text() == "扫描发货"
    _ready(page)  # autofocus: nothing to click
    _no_sideways_scroll(page)

    # a waybill number and Enter: the order opens with its items to check
    found = _scan(page, parcel.waybill_no, "found")
    assert "按回车发货" in found.inner_text()
    order_box = page.get_by_test_id("scan-order")
    assert page.get_by_test_id("scan-order-no").inner_text() == "6921000000000001"
    assert "李*" in page.get_by_test_id("scan-receiver").inner_text()  # masked
    assert "李小龙" not in order_box.inner_text()
    rows = page.get_by_test_id("scan-items").locator("tbody tr").all_inner_texts()
    assert ["保温杯" in rows[0] and "×2" in rows[0], "杯盖" in rows[1] and "×1" in rows[1]] == [
        True,
        True,
    ]
    assert parcel.waybill_no in page.get_by_test_id("scan-waybills").inner_text()
    _ready(page)
    assert Order.objects.get(pk=parcel.order_id).status == "paid"

    # Enter in the empty field ships it: large, green, heard
    done = _scan(page, "", "ok")
    assert f"已发货：订单 6921000000000001，运单号 {parcel.waybill_no}。" in done.inner_text()
    assert page.get_by_test_id("scan-order-status").inner_text() == "已发货"
    _heard(page, "ok")
    style = done.evaluate("e => [getComputedStyle(e).fontSize, getComputedStyle(e).color]")
    assert float(style[0].rstrip("px")) >= 22 and style[1] == "rgb(255, 255, 255)"
    _ready(page)
    shipped = Order.objects.get(pk=parcel.order_id)
    assert shipped.status == "shipped" and shipped.tracking_no == parcel.waybill_no
    _no_sideways_scroll(page)
    screenshot(page, "scan-phone")

    # an order whose buyer asked to cancel: refused, large and red, with the reason, heard
    error = _scan(page, blocked.waybill_no, "error")
    assert error.get_attribute("data-error-code") == "ORDER_BLOCKED"
    assert "审核中" in error.inner_text() and "买家申请取消" in error.inner_text()
    background = error.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(180, 35, 24)"  # --err
    _heard(page, "error")
    _ready(page)
    # Enter again does not ship it: nothing is open
    _scan(page, "", "idle")
    _ready(page)
    assert Order.objects.get(pk=blocked.order_id).status == "paid"
    assert Order.objects.get(pk=blocked.order_id).shipped_at is None
    _no_sideways_scroll(page)
