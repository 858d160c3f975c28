"""Two whole days in Chromium, with a real Celery worker (issue 8).

The merchant's day: open a ZTO e-waybill service through the wizard, the branch approves
and recharges through its API, import 50 orders (XLSX built on the downloaded template's
columns), allocate them in one batch from the order list, print them as one PDF and again
on a thermal network printer (a TCP listener added on the printers page), ship them in
one batch, cancel the one left over on the usage details page, read the counters and the
chart, and download the reconciliation statement.

The factory's day: a merchant asks to bind the factory (services); the factory confirms
in the browser, the merchant hands it three orders, the factory prints them as one PDF
with its own ZTO service (which returns the numbers), sets its settlement prices and
downloads the statement that lists the returned orders with their amounts; the merchant
sees the statement the factory asked for.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import timedelta
from decimal import Decimal

import pypdfium2
import pytest
from celery.contrib.testing.worker import start_worker
from django.core.management import call_command
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from carriers.models import Branch, Subscription
from dropship.models import Binding, FactoryOrder, SettlementPrice
from dropship.services import identity
from printing.models import Printer, PrintJob
from shops.models import Order, Shop
from shops.services import api_token_create
from tests.browser.conftest import login, screenshot, submit
from tests.browser.test_waybill_service import open_wizard
from tests.conftest import main_actor, token_client
from tests.dropship.conftest import (
    FACTORY_NO,
    SECRETS,
    allocate,
    make_factory,
    make_merchant,
    new_order,
)
from tests.printing.decode import escpos_image, pdf_image, scan
from tests.printing.doubles import PrinterListener
from tests.waybills.conftest import open_service
from waybill_console.celery import app
from waybill_console.exports import excel_text_value
from waybills.models import Waybill

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ORDERS = 50
THERMAL = 10  # labels sent to the network printer (each on its own connection)
JOB_TIMEOUT = 60_000  # ms: the worker shares two busy cores with Chromium and the server


@pytest.fixture
def worker():
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


def pdf_pages(raw: bytes) -> int:
    assert raw[:4] == b"%PDF"
    return len(pypdfium2.PdfDocument(raw))


def barcodes(image) -> set[str]:
    """The 1D barcodes on a label (not the QR code, which holds the order number)."""
    return {text for fmt, text in scan(image) if fmt != "QRCode"}


def wait_until(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def import_workbook(path, header: list[str], paid_at: str) -> str:
    """50 paid orders, one item each, all to Hangzhou; the header is the template's."""
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for i in range(1, ORDERS + 1):
        row = {
            "订单号": f"JR-{i:03d}",
            "订单状态": "已付款",
            "付款时间": paid_at,
            "SKU": "CUP-500-W" if i % 2 else "PIL-60",
            "商品名称": "真空保温杯" if i % 2 else "记忆棉枕头",
            "规格": "500ml 白色" if i % 2 else "60x40cm",
            "数量": str(1 + i % 3),
            "单价": "39.90" if i % 2 else "129.00",
            "收件人": f"顾客{i:02d}",
            "手机号": f"1381234{i:04d}",
            "省": "浙江省",
            "市": "杭州市",
            "区": "西湖区",
            "详细地址": f"文三路 {i} 号 {i % 9 + 1} 幢 501",
            "买家留言": "",
        }
        sheet.append([row.get(column, "") for column in header])
    book.save(path)
    return str(path)


def test_merchants_day(page, worker, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    call_command("seed_demo", "--quiet")
    shop = Shop.objects.get(shop_no="100001")

    # --- 开通电子面单服务 through the wizard (ZTO, the demo sender address, the Zhejiang branch)
    open_wizard(page)
    page.get_by_test_id("agree").check()
    submit(page, page.get_by_test_id("apply-submit"))
    page.wait_for_url("**/console/waybill-service/")
    assert page.get_by_test_id("subscription-status").inner_text() == "待审核"
    sub = Subscription.objects.get(shop=shop)
    assert sub.carrier.code == "ZTO"

    # --- the branch approves and recharges through its API
    api = token_client(branch=Branch.objects.get(pk=sub.branch_id))
    base = f"/api/v1/carrier/subscriptions/{sub.pk}"
    approved = api.post(f"{base}/approve/", {}, format="json")
    assert approved.status_code == 200, approved.content
    recharged = api.post(f"{base}/recharge/", {"count": 100}, format="json")
    assert recharged.status_code == 200, recharged.content
    assert recharged.json()["balance"] == 100
    page.reload()
    card = page.get_by_test_id(f"subscription-{sub.pk}")
    assert card.get_by_test_id("subscription-status").inner_text() == "启用中"
    assert card.get_by_test_id("balance").inner_text() == "100"

    # --- import 50 orders: an XLSX with the columns of the template the page offers
    page.locator("nav.sidenav a[href$='/console/orders/import/']").click()
    page.wait_for_url("**/console/orders/import/")
    assert page.locator("h1").inner_text() == "导入订单"
    with page.expect_download() as info:
        page.get_by_test_id("import-template").click()
    template = open(info.value.path(), "rb").read().decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(template)))
    assert header[:3] == ["订单号", "订单状态", "付款时间"] and "手机号" in header
    paid_at = timezone.localtime().strftime("%Y-%m-%d %H:%M:%S")
    page.set_input_files(
        "[data-testid=import-file]", import_workbook(tmp_path / "orders.xlsx", header, paid_at)
    )
    screenshot(page, "journey-import")
    submit(page, page.get_by_test_id("import-submit"))
    page.wait_for_url("**/console/orders/")
    success = page.locator("ul.messages li.success").inner_text()
    assert f"{ORDERS}" in success, success
    orders = {o.order_no: o for o in Order.objects.filter(shop=shop)}
    assert len(orders) == ORDERS and all(o.status == "paid" for o in orders.values())
    assert "13812340001" not in page.content()

    # --- 批量取号: the whole page (the 50 orders) with the new service
    button = page.get_by_test_id("batch-allocate")
    button.wait_for()
    assert page.get_by_test_id("batch-subscription").input_value() == str(sub.pk)
    page.locator("#check-page").check()
    assert page.locator(".row-check:checked").count() == ORDERS
    submit(page, button)
    assert "batch_job=" in page.url
    page.locator("[data-testid=batch-progress][data-status=succeeded]").wait_for(
        timeout=JOB_TIMEOUT
    )
    assert f"{ORDERS} 单已取号，0 单失败" in page.get_by_test_id("batch-summary").inner_text()
    numbers = dict(
        Waybill.objects.filter(shop=shop, parent__isnull=True).values_list(
            "order__order_no", "waybill_no"
        )
    )
    assert sorted(numbers) == sorted(orders)
    sub.refresh_from_db()
    assert sub.balance == 100 - ORDERS

    # --- 批量打印 as one PDF: a page per label, each with its own number
    page.goto(page.base_url + "/console/orders/")
    page.get_by_test_id("batch-print").wait_for()
    assert page.get_by_test_id("batch-print-target").input_value() == "pdf"  # no printer yet
    page.locator("#check-page").check()
    with page.expect_download(timeout=JOB_TIMEOUT) as info:
        page.get_by_test_id("batch-print").click()
    assert info.value.suggested_filename.startswith("labels-")
    raw = open(info.value.path(), "rb").read()
    assert pdf_pages(raw) == ORDERS
    assert barcodes(pdf_image(raw, dpi=200)) & set(numbers.values())
    assert set(Waybill.objects.filter(shop=shop).values_list("print_count", flat=True)) == {1}

    with PrinterListener() as listener:
        # --- 打印机: a thermal ESC/POS printer on the network (the listener)
        page.goto(page.base_url + "/console/printers/")
        assert page.locator("h1").inner_text() == "打印机"
        page.get_by_test_id("add-printer").click()
        page.wait_for_url("**/console/printers/new/")
        form = page.get_by_test_id("printer-form")
        form.locator("input[name=name]").fill("打包台 1")
        form.locator("select[name=kind]").select_option("escpos")
        page.get_by_test_id("connection").select_option("network")
        form.locator("input[name=host]").fill("127.0.0.1")
        form.locator("input[name=port]").fill(str(listener.port))
        form.locator("input[name=is_default]").check()
        submit(page, page.get_by_test_id("save-printer"))
        page.wait_for_url("**/console/printers/")
        printer = Printer.objects.get(shop=shop)
        assert (printer.host, printer.port, printer.is_default) == (
            "127.0.0.1",
            listener.port,
            True,
        )
        row = page.get_by_test_id(f"printer-{printer.pk}")
        assert f"127.0.0.1:{listener.port}" in row.inner_text()
        screenshot(page, "printers")

        # --- 批量打印 on it: the first ten orders of the list
        page.goto(page.base_url + "/console/orders/")
        page.get_by_test_id("batch-print").wait_for()
        assert page.get_by_test_id("batch-print-target").input_value() == str(printer.pk)
        checks = page.locator(".row-check")
        for i in range(THERMAL):
            checks.nth(i).check()
        chosen = page.locator("[data-testid=order-table] tbody tr").evaluate_all(
            "rows => rows.filter(r => r.querySelector('.row-check').checked)"
            ".map(r => r.querySelector('td:nth-child(2) a').textContent.trim())"
        )
        assert len(chosen) == THERMAL
        submit(page, page.get_by_test_id("batch-print"))
        # printed as a PDF before: the reprint is confirmed first (nothing queued until then)
        assert "10 个单号的面单已打印过" in page.get_by_test_id("confirm-question").inner_text()
        assert not PrintJob.objects.filter(printer=printer).exists()
        submit(page, page.get_by_test_id("confirm-submit"))
        page.wait_for_url("**/console/print-jobs/*/")
        page.locator("[data-testid=print-job][data-status=printed]").wait_for(timeout=JOB_TIMEOUT)
        assert page.locator("[data-testid=print-documents] tr[data-confirmed='1']").count() == (
            THERMAL
        )
        wait_until(lambda: len(listener.documents) == THERMAL, what="the listener's documents")
    job = PrintJob.objects.get(printer=printer)
    assert job.status == "printed"
    assert listener.connections == THERMAL
    assert all(doc.startswith(b"\x1b@") and b"\x1dv0" in doc for doc in listener.documents)
    printed = [barcodes(escpos_image(doc)) for doc in listener.documents[:3]]
    assert printed == [{numbers[order_no]} for order_no in chosen[:3]]
    assert sum(job.attempts.values_list("bytes_sent", flat=True)) == sum(
        len(doc) for doc in listener.documents
    )
    page.goto(page.base_url + "/console/print-jobs/")
    assert page.locator("h1").inner_text() == "打印任务"
    assert "已打印" in page.get_by_test_id(f"print-job-{job.pk}").inner_text()
    screenshot(page, "print-jobs")

    # --- ship in one batch: every order but one, each with its platform number (the API:
    # the order list only ships a batch by hand)
    left_over = "JR-050"
    shipping = [
        {"order": orders[no].pk, "waybill_no": numbers[no]} for no in numbers if no != left_over
    ]
    _, key = api_token_create(shop=shop)
    shipped = page.request.post(
        page.base_url + "/api/v1/orders/batch-ship/",
        headers={"Authorization": f"Token {key}"},
        data={"orders": shipping, "return_address": shop.addresses.get().pk},
    )
    assert shipped.status == 200, shipped.text()
    assert all(r["ok"] for r in shipped.json()["results"]), shipped.text()
    states = Order.objects.filter(shop=shop).values_list("order_no", "status", "shipped_by_hand")
    assert {no: (status, by_hand) for no, status, by_hand in states} == {
        no: ("paid", False) if no == left_over else ("shipped", False) for no in orders
    }

    # --- usage details: cancel the left-over number
    page.locator("nav.sidenav a[href$='/console/waybills/']").click()
    page.wait_for_url("**/console/waybills/")
    assert page.locator("h1").inner_text() == "使用详情"
    assert page.locator("[data-testid=usage-table] tbody tr").count() == ORDERS
    victim = numbers[left_over]
    row = page.get_by_test_id(f"waybill-{victim}")
    page.once("dialog", lambda dialog: dialog.accept())
    submit(page, row.get_by_test_id("cancel-waybill"))
    assert page.locator("ul.messages li.success").inner_text() == f"面单 {victim} 已取消。"
    row = page.get_by_test_id(f"waybill-{victim}")
    assert row.get_by_test_id("waybill-status").inner_text() == "已取消"
    card = page.get_by_test_id(f"usage-card-{sub.pk}")
    counters = {
        name: card.get_by_test_id(f"usage-{name}").inner_text()
        for name in ("balance", "allocated", "cancelled", "printed")
    }
    assert counters == {
        "balance": str(100 - ORDERS),
        "allocated": str(ORDERS),
        "cancelled": "1",
        "printed": str(ORDERS + THERMAL),
    }
    today = card.locator(".chart-day").last
    assert card.locator(".chart-day").count() == 7
    assert (today.get_attribute("data-allocated"), today.get_attribute("data-cancelled")) == (
        str(ORDERS),
        "1",
    )
    assert card.get_by_test_id("cancellable-now").inner_text() == f"还可取消 {ORDERS - 1} 单"
    assert Order.objects.get(shop=shop, order_no=left_over).has_waybill is False

    # --- 对账单 for all of them, as XLSX, downloaded when the worker has built it
    page.get_by_test_id("statement-format").select_option("xlsx")
    submit(page, page.get_by_test_id("statement-submit"))
    page.wait_for_url("**/console/jobs/*/")
    download_link = page.get_by_test_id("download")
    download_link.wait_for(timeout=JOB_TIMEOUT)
    with page.expect_download() as info:
        download_link.click()
    assert info.value.suggested_filename.startswith("reconciliation-100001-")
    assert info.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(open(info.value.path(), "rb").read()), read_only=True).active
    table = [
        [("" if c is None else str(c)) for c in row] for row in sheet.iter_rows(values_only=True)
    ]
    assert table[0][0] == "运单号"
    listed = {line[0]: line for line in table[1:] if line and line[0]}
    assert set(listed) == set(numbers.values())
    status = table[0].index("状态")
    assert listed[victim][status] == "已取消"
    assert {line[status] for no, line in listed.items() if no != victim} == {"已取号"}
    flat = "\n".join(",".join(line) for line in table)
    assert "13812340001" not in flat and "138****0001" in flat


def test_factorys_day(page, second_page, worker, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    merchant = make_merchant(username="ds-merchant")
    factory = make_factory(username="ds-factory")
    sub = open_service(factory, "ZTO", balance=20)
    binding = identity.binding_request(actor=main_actor(merchant), factory_shop_no=FACTORY_NO)
    factory_page = second_page

    # --- 厂家工作台: one binding request waiting
    login(factory_page, "ds-factory", "pass-12345")
    factory_page.wait_for_url("**/factory/")
    assert factory_page.get_by_test_id("own-shop-no").inner_text() == FACTORY_NO
    assert factory_page.get_by_test_id("pending-count").inner_text() == "1"
    assert factory_page.get_by_test_id("pending-alert").is_visible()
    screenshot(factory_page, "factory-home")

    # --- 商家与绑定: confirm it
    submit(factory_page, factory_page.get_by_test_id("nav-factory-bindings"))
    submit(
        factory_page, factory_page.get_by_test_id(f"binding-{binding.pk}").get_by_test_id("confirm")
    )
    assert (
        factory_page.get_by_test_id("active-table").get_by_test_id(f"binding-{binding.pk}").count()
        == 1
    )
    assert Binding.objects.get(pk=binding.pk).status == "active"

    # --- the merchant hands three whole orders to the factory (CUP-1 ×2, LID-2 ×1 each)
    handed = [new_order(merchant) for _ in range(3)]
    results = allocate(merchant, factory, orders=handed)
    assert all(r["ok"] for r in results), results

    # --- the factory prints them as one PDF with its own ZTO service: numbers go back
    submit(factory_page, factory_page.get_by_test_id("nav-factory-orders"))
    rows = factory_page.locator(
        "[data-testid=factory-order-table] tbody tr[data-testid^=factory-order-]"
    )
    assert rows.count() == 3
    html = factory_page.content()
    for secret in (*SECRETS, merchant.shop_no, *(o.order_no for o in handed)):
        assert secret not in html, secret
    assert factory_page.get_by_test_id("print-subscription").input_value() == str(sub.pk)
    assert factory_page.get_by_test_id("print-target").input_value() == "pdf"
    factory_page.locator("#check-page").check()
    with factory_page.expect_download(timeout=JOB_TIMEOUT) as info:
        factory_page.get_by_test_id("print-submit").click()
    assert info.value.suggested_filename.startswith("dropship-labels-")
    assert pdf_pages(open(info.value.path(), "rb").read()) == 3
    fos = list(FactoryOrder.objects.filter(factory=factory).order_by("pk"))
    assert all(fo.returned_at and fo.waybill.subscription_id == sub.pk for fo in fos)
    tracking = {fo.tracking_no for fo in fos}
    assert len(tracking) == 3
    sub.refresh_from_db()
    assert sub.balance == 17
    factory_page.reload()
    for fo in fos:
        row = factory_page.get_by_test_id(f"factory-order-{fo.pk}")
        assert row.get_attribute("data-return-status") == "returned"
        assert row.get_by_test_id("missing-price").count() == 2

    # --- 结算价格: both products are missing a price; set them
    submit(factory_page, factory_page.get_by_test_id("nav-factory-prices"))
    assert factory_page.get_by_test_id("missing-alert").is_visible()
    prices = {"CUP-1": "12.50", "LID-2": "3.00"}
    for sku, price in prices.items():
        row = factory_page.get_by_test_id(f"price-row-{sku}")
        assert row.get_by_test_id("missing-price").is_visible()
        row.get_by_test_id("price-input").fill(price)
    submit(factory_page, factory_page.get_by_test_id("price-save"))
    assert factory_page.locator("ul.messages li.success").is_visible()
    assert factory_page.get_by_test_id("missing-alert").count() == 0
    for sku, price in prices.items():
        row = factory_page.get_by_test_id(f"price-row-{sku}")
        assert row.get_by_test_id("price-input").input_value() == price
    saved = SettlementPrice.objects.filter(factory=factory, merchant=merchant)
    assert {p.sku: p.price for p in saved} == {k: Decimal(v) for k, v in prices.items()}
    screenshot(factory_page, "factory-prices")

    # --- 对账单: generate for this merchant, wait for the worker, download
    submit(factory_page, factory_page.get_by_test_id("nav-factory-statements"))
    form = factory_page.get_by_test_id("statement-form")
    assert form.get_by_test_id("statement-counterpart").input_value() == str(binding.pk)
    today = timezone.localdate()
    form.get_by_test_id("statement-from").fill((today - timedelta(days=1)).isoformat())
    form.get_by_test_id("statement-to").fill(today.isoformat())
    form.get_by_test_id("statement-format").select_option("csv")
    submit(factory_page, form.get_by_test_id("statement-submit"))
    download = factory_page.get_by_test_id("statement-download")
    download.wait_for(timeout=JOB_TIMEOUT)  # the table polls while it is generating
    assert factory_page.get_by_test_id("statement-status").get_attribute("data-status") == (
        "generated"
    )
    screenshot(factory_page, "factory-statements")
    with factory_page.expect_download() as info:
        download.click()
    assert info.value.suggested_filename.startswith(f"statement-{FACTORY_NO}-")
    raw = open(info.value.path(), "rb").read().decode("utf-8-sig")
    # ="…": a number Excel keeps a text (waybill_console.exports)
    table = [[excel_text_value(c) for c in r] for r in csv.reader(io.StringIO(raw))]
    header, lines, total = table[0], table[1:-1], table[-1]
    assert header[5] == "运单号" and header[11] == "金额"
    assert {line[5] for line in lines} == tracking
    amounts = {(line[5], line[6]): (line[9], line[10], line[11]) for line in lines}
    assert amounts == {
        (no, sku): item
        for no in tracking
        for sku, item in (("CUP-1", ("2", "12.50", "25.00")), ("LID-2", ("1", "3.00", "3.00")))
    }
    assert total[0] == "合计" and total[11] == "84.00" and total[12] == ""
    for secret in (*SECRETS, merchant.shop_no, *(o.order_no for o in handed)):
        assert secret not in raw, secret

    # --- the merchant sees the statement the factory asked for (not its own to download)
    login(page, "ds-merchant", "pass-12345")
    page.wait_for_url("**/console/")
    page.goto(page.base_url + "/console/dropship/statements/")
    assert page.locator("h1").inner_text() == "对账单"
    statement = page.locator("[data-testid=statement-table] tbody tr[data-testid^=statement-]")
    assert statement.count() == 1
    assert "厂家" in statement.inner_text() and factory.name in statement.inner_text()
    assert statement.get_by_test_id("statement-download").count() == 0
    screenshot(page, "dropship-statements")
