"""The carriers' own refusals (seed 000) shown word for word on the order page, next to the
取号 button, for every fault switch of the built-in gateway."""

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


def test_the_order_page_shows_each_carrier_message_word_for_word(page):
    shop = make_shop("100001", user=make_user("merchant", PASSWORD), name="星河家居旗舰店")
    sub = open_service(shop, "ZTO", balance=10)
    order = make_order(shop, "WB-M-001")

    login(page, "merchant", PASSWORD)
    page.wait_for_url("**/console/")
    url = f"{page.base_url}/console/orders/{order.pk}/"
    for fault, _carrier, _extra, code, zh, _en in MESSAGES:
        Branch.objects.filter(pk=sub.branch_id).update(fault=fault)
        page.goto(url)
        block = page.get_by_test_id("order-waybills")
        block.wait_for()
        block.get_by_test_id("allocate-form").locator("button[type=submit]").click()
        error = block.locator(f".inline-error [data-error-code={code}]")
        error.wait_for()
        assert zh in error.inner_text()
        assert error.is_visible()
        assert page.url == url
    assert not Waybill.objects.filter(order=order).exists()
    assert Subscription.objects.get(pk=sub.pk).balance == 10
