"""Orders in Chromium: import a CSV, filter and search the list, open an order, ship by hand."""

import csv

import pytest
from django.core.management import call_command

from carriers import catalog
from carriers.models import Carrier
from shops.models import Order, OrderItem, Shop
from shops.services import imports
from tests.browser.conftest import login, screenshot
from tests.conftest import make_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = imports.TEMPLATE_HEADER
# (order no, status, paid at, receiver, phone, province, city, district, detail, note)
ORDERS = {
    "WB-IMP-001": (
        "已付款",
        "2026-11-23 10:30:00",
        "张三",
        "13812345678",
        "浙江省",
        "杭州市",
        "西湖区",
        "文三路 90 号 3 幢 501",
        "请尽快发货",
    ),
    "WB-IMP-002": (
        "已付款",
        "2026-11-23 11:05:00",
        "李四",
        "13987654321",
        "广东省",
        "深圳市",
        "南山区",
        "科技园南区 8 栋 1201",
        "",
    ),
    "WB-IMP-003": (
        "待付款",
        "",
        "王五",
        "15011112222",
        "北京市",
        "北京市",
        "海淀区",
        "中关村大街 27 号",
        "",
    ),
}
# (order no, sku, product name, spec, quantity, unit price)
ITEMS = [
    ("WB-IMP-001", "CUP-500-W", "真空保温杯", "500ml 白色", "2", "39.90"),
    ("WB-IMP-001", "LID-500", "保温杯杯盖", "通用款", "1", "9.90"),
    ("WB-IMP-002", "PIL-60", "记忆棉枕头", "60x40cm", "1", "129.00"),
    ("WB-IMP-003", "TWL-BL", "纯棉毛巾", "蓝色", "3", "15.50"),
]


def load_carriers() -> None:
    """The carrier catalogue comes from a data migration: the flush after a transactional
    test empties the table for the tests that follow, and seed_demo does not load it again."""
    catalog.load(Carrier)


def write_csv(path, rows) -> str:
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return str(path)


def import_rows():
    rows = []
    for order_no, sku, name, spec, qty, price in ITEMS:
        status, paid_at, receiver, phone, prov, city, dist, detail, note = ORDERS[order_no]
        rows.append(
            [order_no, status, paid_at, sku, name, spec, qty, price]
            + [receiver, phone, prov, city, dist, detail, note]
        )
    return rows


def order_numbers_listed(page) -> list[str]:
    return page.locator("[data-testid=order-table] tbody td:nth-child(2) a").all_inner_texts()


def submit_filters(page) -> None:
    with page.expect_navigation():
        page.locator("[data-testid=filters] button[type=submit]").click()
    page.wait_for_load_state("load")


def test_merchant_imports_filters_opens_and_ships_by_hand(page, tmp_path):
    call_command("seed_demo", "--quiet")
    load_carriers()
    shop = Shop.objects.get(shop_no="100001")
    phones = [values[3] for values in ORDERS.values()]

    login(page, "merchant")
    page.wait_for_url("**/console/")
    page.locator("nav.sidenav a[href$='/console/orders/import/']").click()
    page.wait_for_url("**/console/orders/import/")

    path = write_csv(tmp_path / "orders.csv", import_rows())
    page.set_input_files("[data-testid=import-file]", path)
    page.get_by_test_id("import-submit").click()
    page.wait_for_url("**/console/orders/")
    page.wait_for_load_state("load")

    success = page.locator("ul.messages li.success")
    assert success.is_visible()
    assert "3" in success.inner_text() and "4" in success.inner_text()
    assert sorted(order_numbers_listed(page)) == sorted(ORDERS)
    assert Order.objects.filter(shop=shop).count() == 3
    assert OrderItem.objects.filter(order__shop=shop).count() == 4
    html = page.content()
    for phone in phones:
        assert phone not in html
    assert "138****5678" in html and "139****4321" in html and "150****2222" in html
    assert "浙江省杭州市西湖区****" in html and "广东省深圳市南山区****" in html
    screenshot(page, "order-list")

    # Status filter: 待发货 (paid) shows the two paid orders, not the unpaid one.
    page.locator("[data-testid=filters] select[name=status]").select_option("paid")
    submit_filters(page)
    assert "status=paid" in page.url
    assert sorted(order_numbers_listed(page)) == ["WB-IMP-001", "WB-IMP-002"]
    assert "WB-IMP-003" not in page.get_by_test_id("order-table").inner_text()
    rows = page.locator("[data-testid=order-table] tbody tr")
    assert all(text == "待发货" for text in rows.locator("td:nth-child(3)").all_inner_texts())
    html = page.content()
    for phone in phones:
        assert phone not in html

    # Search by one receiver's full phone number (across all statuses).
    page.locator("[data-testid=filters] select[name=status]").select_option("")
    page.get_by_test_id("search").fill("13987654321")
    submit_filters(page)
    assert order_numbers_listed(page) == ["WB-IMP-002"]
    table = page.get_by_test_id("order-table").inner_html()
    assert "139****4321" in table
    for phone in phones:
        assert phone not in table

    # Open a paid order and ship it by hand.
    page.get_by_role("link", name="WB-IMP-002", exact=True).click()
    page.wait_for_url("**/console/orders/*/")
    assert page.get_by_test_id("order-status").inner_text() == "待发货"
    assert page.get_by_test_id("receiver-masked").inner_text().startswith("李* · 139****4321")
    for phone in phones:
        assert phone not in page.content()
    screenshot(page, "order-detail-actions")

    form = page.get_by_test_id("ship-form")
    form.locator("select[name=carrier]").select_option("ZTO")
    page.get_by_test_id("tracking-input").fill("73100000000001")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    page.wait_for_load_state("load")

    assert page.get_by_test_id("order-status").inner_text() == "已发货"
    assert page.get_by_test_id("tracking").inner_text() == "中通快递 73100000000001"  # by name
    assert page.locator("ul.messages li.success").is_visible()
    assert page.get_by_test_id("ship-form").count() == 0
    order = Order.objects.get(shop=shop, order_no="WB-IMP-002")
    assert order.status == "shipped"
    assert order.shipped_by_hand is True
    assert (order.carrier_code, order.tracking_no) == ("ZTO", "73100000000001")


def test_import_with_a_bad_line_imports_nothing_and_lists_the_line(page, tmp_path):
    call_command("seed_demo", "--quiet")
    load_carriers()
    shop = Shop.objects.get(shop_no="100001")
    all_rows = import_rows()
    rows = [all_rows[0], all_rows[2]]  # WB-IMP-001 on line 2, WB-IMP-002 on line 3
    rows[1][HEADER.index("手机号")] = "12345"

    login(page, "merchant")
    page.wait_for_url("**/console/")
    page.goto(page.base_url + "/console/orders/import/")
    page.set_input_files("[data-testid=import-file]", write_csv(tmp_path / "bad.csv", rows))
    page.get_by_test_id("import-submit").click()
    errors = page.get_by_test_id("import-errors")
    errors.wait_for()

    assert "/console/orders/import/" in page.url
    cells = [r.locator("td").all_inner_texts() for r in errors.locator("tbody tr").all()]
    assert ["3", "手机号"] in [c[:2] for c in cells]  # the line and the file's column title
    assert len(cells) == 1
    assert Order.objects.filter(shop=shop).count() == 0


def test_no_source_risk_shop_cannot_ship_by_hand(page):
    call_command("seed_demo", "--quiet")
    load_carriers()
    shop = Shop.objects.get(shop_no="100001")
    Shop.objects.filter(pk=shop.pk).update(no_source_risk=True)
    shop.refresh_from_db()
    order = make_order(shop, "NSR-1")
    assert order.status == "paid"

    login(page, "merchant")
    page.wait_for_url("**/console/")
    page.goto(f"{page.base_url}/console/orders/{order.pk}/")
    form = page.get_by_test_id("ship-form")
    form.locator("select[name=carrier]").select_option("ZTO")
    page.get_by_test_id("tracking-input").fill("73100000000002")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    page.wait_for_load_state("load")

    refusal = page.locator("ul.messages li.error")
    assert refusal.is_visible()
    assert "无货源风险" in refusal.inner_text()
    assert page.get_by_test_id("order-status").inner_text() == "待发货"
    assert page.get_by_test_id("tracking").inner_text() == "—"
    order.refresh_from_db()
    assert order.status == "paid"
    assert order.shipped_by_hand is False
