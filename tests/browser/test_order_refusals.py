"""Every refusal is shown where the user acted: 取号 on the order detail page in Chromium
with the carrier gateway timing out (504), failing (503) or rate limiting (429).

htmx ignores error answers unless told otherwise; the console swapped only 4xx answers
in place, so a gateway timeout (504) or failure (503) showed nothing at all.
"""

from __future__ import annotations

import pytest

from carriers.models import Branch, Subscription
from tests.browser.conftest import login
from tests.conftest import make_order, make_shop, make_user
from tests.waybills.conftest import open_service
from waybills.models import Waybill

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "waybill-demo"


@pytest.mark.parametrize(
    ("fault", "code", "message"),
    [
        ("timeout", "ALLOCATION_TIMEOUT", "获取单号超时,请稍后重试"),
        ("failure", "ALLOCATION_FAILED", "获取单号失败"),
        ("rate_limit", "RATE_LIMITED", "操作过快,请稍后重试"),
    ],
)
def test_a_refused_allocation_shows_its_message_next_to_the_button(page, fault, code, message):
    shop = make_shop("100001", user=make_user("merchant", PASSWORD), name="星河家居旗舰店")
    sub = open_service(shop, "ZTO", balance=10)
    order = make_order(shop, "WB-R-001")
    Branch.objects.filter(pk=sub.branch_id).update(fault=fault)  # the gateway's fault switch

    login(page, "merchant", PASSWORD)
    page.wait_for_url("**/console/")
    url = f"{page.base_url}/console/orders/{order.pk}/"
    page.goto(url)
    block = page.get_by_test_id("order-waybills")
    block.wait_for()
    block.get_by_test_id("allocate-form").locator("button[type=submit]").click()

    error = block.locator(f".inline-error [data-error-code={code}]")
    error.wait_for()
    assert message in error.inner_text()
    assert error.is_visible()
    assert page.url == url  # still on the order, the 取号 button still there
    assert block.get_by_test_id("allocate-form").is_visible()
    assert not Waybill.objects.filter(order=order).exists()
    assert Subscription.objects.get(pk=sub.pk).balance == 10
