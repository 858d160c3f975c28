"""Dropship (代发) in Chromium, both sides in their own browser sessions: the merchant binds
the factory by its shop number, the factory confirms, the merchant allocates two items of
two orders, the factory prints them as one PDF with its own ZTO service (which returns the
numbers), and the merchant sees the tracking numbers and ships with a return address."""

from __future__ import annotations

import pytest

from dropship.models import Allocation, Binding, FactoryOrder
from shops import services as shop_services
from shops.models import Order
from tests.browser.conftest import login, screenshot, submit
from tests.conftest import main_actor
from tests.dropship.conftest import FACTORY_NO, SECRETS, make_factory, make_merchant, new_order
from tests.waybills.conftest import SENDER, open_service

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pass-12345"  # make_user's default


def test_bind_allocate_print_return_and_ship(page, second_page):
    merchant = make_merchant(username="ds-merchant")
    factory = make_factory(username="ds-factory")
    sub = open_service(factory, "ZTO", balance=10)
    address = shop_services.address_create(
        actor=main_actor(merchant),
        data={**SENDER, "contact_name": "退货仓", "detail": "退货路 9 号"},
    )

    # --- the merchant binds the factory by its shop number (绑定厂家)
    login(page, "ds-merchant", PASSWORD)
    page.wait_for_url("**/console/")
    submit(page, page.get_by_test_id("nav-dropship"))
    page.wait_for_url("**/console/dropship/")
    submit(page, page.locator("[data-testid=dropship-tabs] a[href$='/dropship/factories/']"))
    page.get_by_test_id("factory-shop-no").fill(FACTORY_NO)
    submit(page, page.get_by_test_id("bind-submit"))
    binding = Binding.objects.get(merchant=merchant, factory=factory)
    row = page.get_by_test_id(f"binding-{binding.pk}")
    assert row.get_by_test_id("binding-status").get_attribute("data-status") == "pending"

    # --- the factory confirms (商家与绑定)
    login(second_page, "ds-factory", PASSWORD)
    second_page.wait_for_url("**/factory/")
    assert second_page.get_by_test_id("pending-count").inner_text() == "1"
    submit(second_page, second_page.get_by_test_id("nav-factory-bindings"))
    request_row = second_page.get_by_test_id(f"binding-{binding.pk}")
    assert "11**01" in request_row.get_by_test_id("merchant-id").inner_text()
    submit(second_page, request_row.get_by_test_id("confirm"))
    binding.refresh_from_db()
    assert binding.status == "active"
    assert (
        second_page.get_by_test_id("active-table")
        .get_by_test_id(f"binding-{binding.pk}")
        .is_visible()
    )
    screenshot(second_page, "factory-bindings")

    # orders created after the binding are synced to the dropship list
    first, second = new_order(merchant), new_order(merchant)
    cup_1 = first.items.get(sku="CUP-1")
    cup_2 = second.items.get(sku="CUP-1")

    # --- the merchant allocates one item of each order (分配)
    page.goto(page.base_url + "/console/dropship/orders/")
    page.get_by_test_id(f"item-{cup_1.pk}").get_by_test_id("item-check").check()
    page.get_by_test_id(f"item-{cup_2.pk}").get_by_test_id("item-check").check()
    page.get_by_test_id("allocate-factory").select_option(FACTORY_NO)
    submit(page, page.get_by_test_id("allocate-submit"))
    for item in (cup_1, cup_2):
        assert (
            page.get_by_test_id(f"item-{item.pk}").get_by_test_id("item-factory").inner_text()
            == factory.name
        )
    assert Allocation.objects.filter(factory=factory, status="allocated").count() == 2
    fos = list(FactoryOrder.objects.filter(factory=factory).order_by("order_id"))
    assert [fo.order_id for fo in fos] == [first.pk, second.pk]

    # --- the factory sees only masked data, prints one PDF with its own service
    submit(second_page, second_page.get_by_test_id("nav-factory-orders"))
    table = second_page.get_by_test_id("factory-order-table")
    assert table.locator("tbody tr[data-testid^=factory-order-]").count() == 2
    html = second_page.content()
    for secret in (*SECRETS, first.order_no, second.order_no, merchant.shop_no):
        assert secret not in html, secret
    assert second_page.get_by_test_id("print-subscription").input_value() == str(sub.pk)
    second_page.locator("#check-page").check()
    second_page.get_by_test_id("print-target").select_option("pdf")
    with second_page.expect_download() as info:
        second_page.get_by_test_id("print-submit").click()
    download = info.value
    assert download.suggested_filename.endswith(".pdf")
    assert open(download.path(), "rb").read(4) == b"%PDF"
    for fo in fos:
        fo.refresh_from_db()
        assert fo.returned_at is not None and fo.waybill.subscription_id == sub.pk
    sub.refresh_from_db()
    assert sub.balance == 8

    second_page.reload()
    for fo in fos:
        row = second_page.get_by_test_id(f"factory-order-{fo.pk}")
        assert row.get_attribute("data-return-status") == "returned"
        assert fo.tracking_no in row.get_by_test_id("tracking").inner_text()
    screenshot(second_page, "factory-orders")

    # --- the merchant sees the tracking numbers and ships both with a return address
    page.goto(page.base_url + "/console/dropship/orders/?state=returned")
    for fo in fos:
        shipment = page.get_by_test_id(f"shipment-{fo.pk}")
        assert shipment.get_by_test_id("shipment-state").get_attribute("data-state") == "returned"
        assert shipment.get_by_test_id("tracking").inner_text() == f"中通快递 {fo.tracking_no}"
    screenshot(page, "dropship-merchant-orders")
    page.get_by_test_id("return-address").select_option(str(address.pk))
    for fo in fos:
        page.get_by_test_id(f"shipment-{fo.pk}").get_by_test_id("shipment-check").check()
    submit(page, page.get_by_test_id("ship-batch"))
    assert (
        page.get_by_test_id("confirm-question").inner_text()
        == "确认发货 2 个订单？此操作不可撤销。"
    )
    submit(page, page.get_by_test_id("confirm-submit"))
    page.goto(page.base_url + "/console/dropship/orders/?state=shipped")
    for fo in fos:
        state = page.get_by_test_id(f"shipment-{fo.pk}").get_by_test_id("shipment-state")
        assert state.get_attribute("data-state") == "shipped"
        fo.refresh_from_db()
        assert (fo.shipped_by, fo.return_address_id) == ("merchant", address.pk)
    shipped = Order.objects.filter(pk__in=[first.pk, second.pk], status="shipped")
    assert shipped.count() == 2
