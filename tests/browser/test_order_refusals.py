"""Every refusal is shown where the user acted: 取号 on the order detail page in Chromium
with the carrier gateway timing out (504), failing (503) or rate limiting (429), and the
carriers' own refusals (seed 000) word for word, for every fault switch of the built-in
gateway.

htmx ignores error answers unless told otherwise; the console swapped only 4xx answers
in place, so a gateway timeout (504) or failure (503) showed nothing at all.
"""

from __future__ import annotations

import pytest

from carriers.models import Branch, Subscription
from tests.browser.conftest import login
from tests.carriers.test_carrier_messages import MESSAGES
from tests.conftest import make_order, make_shop, make_user
from tests.waybills.conftest import open_service
from waybills.models import Waybill

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "waybill-demo"


def merchant_on_the_order_page(page, order_no: str):
    """The demo merchant with a ZTO service of 10 numbers, signed in; (subscription, order,
    the order page's URL)."""
    shop = make_shop("100001", user=make_user("merchant", PASSWORD), name="星河家居旗舰店")
    sub = open_service(shop, "ZTO", balance=10)
    order = make_order(shop, order_no)
    login(page, "merchant", PASSWORD)
    page.wait_for_url("**/console/")
    return sub, order, f"{page.base_url}/console/orders/{order.pk}/"


def allocate_and_read_the_refusal(page, url: str, code: str):
    """Click 取号 on the order page and return (the order's waybill block, the refusal's
    text shown in it), after checking it is visible and the page did not move."""
    page.goto(url)
    block = page.get_by_test_id("order-waybills")
    block.wait_for()
    block.get_by_test_id("allocate-form").locator("button[type=submit]").click()
    error = block.locator(f".inline-error [data-error-code={code}]")
    error.wait_for()
    assert error.is_visible()
    assert page.url == url  # still on the order, the 取号 button still there
    return block, error.inner_text()


@pytest.mark.parametrize(
    ("fault", "code", "message"),
    [
        ("timeout", "ALLOCATION_TIMEOUT", "获取单号超时，请稍后重试"),
        ("failure", "ALLOCATION_FAILED", "获取单号失败"),
        ("rate_limit", "RATE_LIMITED", "操作过快，请稍后重试"),
    ],
)
def test_a_refused_allocation_shows_its_message_next_to_the_button(page, fault, code, message):
    sub, order, url = merchant_on_the_order_page(page, "WB-R-001")
    Branch.objects.filter(pk=sub.branch_id).update(fault=fault)  # the gateway's fault switch

    block, text = allocate_and_read_the_refusal(page, url, code)
    assert message in text
    assert block.get_by_test_id("allocate-form").is_visible()
    assert not Waybill.objects.filter(order=order).exists()
    assert Subscription.objects.get(pk=sub.pk).balance == 10


def test_the_order_page_shows_each_carrier_message_word_for_word(page):
    sub, order, url = merchant_on_the_order_page(page, "WB-M-001")
    for fault, _carrier, _extra, code, zh, _en in MESSAGES:
        Branch.objects.filter(pk=sub.branch_id).update(fault=fault)
        _block, text = allocate_and_read_the_refusal(page, url, code)
        assert zh in text
    assert not Waybill.objects.filter(order=order).exists()
    assert Subscription.objects.get(pk=sub.pk).balance == 10
