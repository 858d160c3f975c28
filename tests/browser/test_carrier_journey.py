"""A real carrier's account end to end in Chromium (issue 16): ZTO connected through
Kuaidi100 (快递100) — the local stand-in over real HTTP, signatures checked.

Ops connect ZTO with ``manage.py carrier_gateway``; the merchant opens the ZTO service in
the wizard with the partner account the branch gave (月结账号 / 密钥), the branch approves
and recharges through its API; the merchant allocates a number on the order page (the
number Kuaidi100 issued), prints the label as a PDF (its barcode decodes to that number),
and Kuaidi100's signed pickup push (揽收) to the live server ships the order, which the
order page shows with the tracking event.
"""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from carriers.models import Branch, Subscription
from shops.models import Order, Shop
from shops.services import api_token_create
from tests.browser.conftest import screenshot, submit
from tests.browser.test_journeys import barcodes
from tests.browser.test_waybill_service import open_wizard
from tests.conftest import make_order
from tests.fakes.kuaidi100 import SALT, SECRET, FakeKuaidi100
from tests.printing.decode import pdf_image
from waybill_console.crypto import open_secret
from waybills.models import TrackingEvent, Waybill

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: the e-waybill account the ZTO branch gave the merchant (Kuaidi100's partnerId/partnerKey)
PARTNER_ID, PARTNER_KEY = "ZTO-EB-0571", "eb-partner-key"
TAKEN = {"result": True, "returnCode": "200", "message": "成功"}
PUSH_PATH = "/api/v1/carrier/push/kuaidi100/"  # API.md: where Kuaidi100 pushes tracking
CHINA = ZoneInfo("Asia/Shanghai")  # Kuaidi100 writes times in China time


@pytest.fixture
def kuaidi100():
    fake = FakeKuaidi100().start()
    yield fake
    fake.stop()


def test_zto_through_kuaidi100_from_the_wizard_to_a_pushed_pickup(
    page, kuaidi100, live_server, settings
):
    settings.PUBLIC_BASE_URL = live_server.url  # the callback Kuaidi100 is given
    call_command("seed_demo", "--quiet")
    shop = Shop.objects.get(shop_no="100001")

    # --- ops connect ZTO to Kuaidi100, as the README says
    out = io.StringIO()
    call_command(
        "carrier_gateway",
        "ZTO",
        "--use",
        "kuaidi100",
        "--key",
        kuaidi100.key,
        "--secret",
        SECRET,
        "--url",
        f"{kuaidi100.url}/label/order",
        "--poll-url",
        f"{kuaidi100.url}/poll",
        "--salt",
        SALT,
        stdout=out,
    )
    assert out.getvalue().splitlines()[0] == "ZTO 中通快递: kuaidi100"

    # --- the merchant opens ZTO with the branch's partner account (月结账号 / 密钥)
    open_wizard(page)
    form = page.get_by_test_id("apply-form")
    form.locator("input[name=monthly_account]").fill(PARTNER_ID)
    form.locator("input[name=secret_key]").fill(PARTNER_KEY)
    page.get_by_test_id("agree").check()
    submit(page, page.get_by_test_id("apply-submit"))
    page.wait_for_url("**/console/waybill-service/")
    sub = Subscription.objects.get(shop=shop)
    assert (sub.carrier.code, sub.monthly_account) == ("ZTO", PARTNER_ID)
    assert open_secret(sub.secret_key) == PARTNER_KEY

    # --- the branch approves and recharges through its API
    branch = Branch.objects.get(pk=sub.branch_id)
    _, key = api_token_create(branch=branch)
    headers = {"Authorization": f"Token {key}"}
    base = f"{page.base_url}/api/v1/carrier/subscriptions/{sub.pk}"
    for action, data in (("approve", {}), ("recharge", {"count": 10})):
        answer = page.request.post(f"{base}/{action}/", headers=headers, data=data)
        assert answer.status == 200, answer.text()

    # --- 取号 on the order page: the number is the one Kuaidi100 issued on that account
    order = make_order(shop, "K100-0001")
    order_url = f"{page.base_url}/console/orders/{order.pk}/"
    page.goto(order_url)
    block = page.get_by_test_id("order-waybills")
    block.get_by_test_id("allocate-form").wait_for()
    submit(page, block.get_by_test_id("allocate-form").locator("button[type=submit]"))
    [asked] = kuaidi100.calls("order")
    assert (asked["param"]["partnerId"], asked["param"]["partnerKey"]) == (PARTNER_ID, PARTNER_KEY)
    assert (asked["param"]["kuaidicom"], asked["param"]["net"]) == ("zhongtong", branch.code)
    [issued] = kuaidi100.orders.values()
    number = issued["kuaidinum"]
    row = page.get_by_test_id(f"order-waybill-{number}")
    assert row.locator("td code").inner_text() == number
    assert number in page.locator("ul.messages li.success").inner_text()
    assert Waybill.objects.get(order=order).waybill_no == number
    assert kuaidi100.subscriptions[number]["callback"] == live_server.url + PUSH_PATH

    # --- 批量打印 of that order as a PDF: the label's barcode is the carrier's number
    page.goto(page.base_url + "/console/orders/")
    page.get_by_test_id("batch-print").wait_for()
    assert page.get_by_test_id("batch-print-target").input_value() == "pdf"
    page.locator(f".row-check[value='{order.pk}']").check()
    with page.expect_download() as info:
        page.get_by_test_id("batch-print").click()
    raw = open(info.value.path(), "rb").read()
    assert barcodes(pdf_image(raw, dpi=200)) == {number}

    # --- Kuaidi100 pushes the pickup (揽收), signed, to the live server
    picked_up = timezone.localtime(timezone.now(), CHINA).strftime("%Y-%m-%d %H:%M:%S")
    pickup = "【杭州市】中通快递西湖网点 已揽收"
    form = kuaidi100.push_form(number, state=1, events=[(picked_up, pickup, "揽收")])
    assert kuaidi100.push(number, form=form) == (200, TAKEN)
    assert Order.objects.get(pk=order.pk).status == "shipped"
    assert TrackingEvent.objects.get(waybill__waybill_no=number).status == "picked_up"

    # --- the order page: shipped, with the carrier's number and the tracking event
    page.goto(order_url)
    assert page.get_by_test_id("order-status").inner_text() == "已发货"
    assert page.get_by_test_id("tracking").inner_text() == f"中通快递 {number}"
    event = page.get_by_test_id("order-tracking").locator("[data-testid=tracking-event]")
    event.wait_for()
    assert event.count() == 1 and event.get_attribute("data-status") == "picked_up"
    text = event.inner_text()
    assert "已揽收" in text and pickup in text and number in text and picked_up[:16] in text
    screenshot(page, "carrier-kuaidi100-order")
