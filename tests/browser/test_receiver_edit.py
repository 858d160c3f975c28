"""修改收件信息 with 智能粘贴 in Chromium: from a 面单异常 (筛单出错（1014）GIS地址解析失败) to
the receiver form, one pasted line fills the fields, save, 重试, and the order has its
number."""

from __future__ import annotations

import pytest

from carriers.errors import AddressUnparseable
from shops.models import Order
from tests.browser.conftest import login, screenshot, submit
from tests.conftest import main_actor, make_order, make_shop, make_user
from tests.waybills.conftest import open_service
from waybill_console.crypto import _decrypt
from waybills import services
from waybills.models import AllocationException, Waybill

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "waybill-demo"
LINE = "李四，13900001111，浙江省宁波市鄞州区天童南路1号"


def test_a_receiver_fixed_by_smart_paste_from_the_exception_gets_its_number(page):
    shop = make_shop("100001", user=make_user("merchant", PASSWORD), name="星河家居旗舰店")
    sub = open_service(shop, "ZTO", balance=10)
    order = make_order(shop, "WB-ADDR-001")
    # stored before intake checked the division list: the carrier's GIS cannot place it
    Order.objects.filter(pk=order.pk).update(receiver_district="西湖新区")
    with pytest.raises(AddressUnparseable):
        services.waybill_allocate(actor=main_actor(shop), order=order.pk, subscription=sub.pk)
    exception = AllocationException.objects.get(order=order, resolved_at=None)

    login(page, "merchant", PASSWORD)
    page.wait_for_url("**/console/")
    page.goto(page.base_url + "/console/waybills/exceptions/")
    row = page.get_by_test_id(f"exception-{exception.pk}")
    assert "筛单出错（1014）GIS地址解析失败" in row.get_by_test_id("exception-message").inner_text()
    submit(page, row.get_by_test_id("edit-receiver"))

    assert page.get_by_test_id("receiver-district").input_value() == "西湖新区"
    page.get_by_test_id("smart-paste").fill(LINE)
    page.get_by_test_id("smart-paste-parse").click()
    page.get_by_test_id("smart-paste-note").filter(has_text="已全部识别").wait_for()
    filled = {
        f: page.get_by_test_id(f"receiver-{f}").input_value()
        for f in ("name", "phone", "province", "city", "district", "detail")
    }
    assert filled == {
        "name": "李四",
        "phone": "13900001111",
        "province": "浙江省",
        "city": "宁波市",
        "district": "鄞州区",
        "detail": "天童南路1号",
    }
    page.get_by_test_id("receiver-detail").fill("天童南路1号 3幢")  # still editable
    screenshot(page, "receiver-smart-paste")
    submit(page, page.get_by_test_id("receiver-save"))

    assert "收件信息已修改。" in page.locator(".messages").inner_text()
    page.get_by_test_id("receiver-fixed").wait_for()
    submit(page, page.get_by_test_id("receiver-retry"))

    assert page.url.endswith(f"/console/orders/{order.pk}/")
    number = Waybill.objects.get(order=order)
    page.get_by_test_id(f"order-waybill-{number.waybill_no}").wait_for()
    assert number.waybill_no in page.locator(".messages").inner_text()
    assert number.short_address_name == "宁波 鄞州区"
    assert _decrypt(Order.objects.get(pk=order.pk).receiver_detail.token) == "天童南路1号 3幢"
    exception.refresh_from_db()
    assert exception.resolved_at is not None
