"""扫描发货: a scanned waybill number or order number finds the shop's order (never another
shop's), the refusals are the ship's own (ORDER_BLOCKED, ALREADY_SHIPPED, a cancelled
label), and the page ships the open order with Enter (an empty scan or the same label)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from shops import services as shop_services
from shops.models import Order, OrderEvent
from tests.conftest import main_actor, make_order
from tests.waybills.conftest import open_service
from waybill_console import permissions as perms
from waybill_console.errors import AppError
from waybills import selectors, services
from waybills.models import Waybill

pytestmark = pytest.mark.django_db

URL = "/console/scan/"
HTMX = {"HTTP_HX_REQUEST": "true"}


def _numbered(shop, sub, order_no: str, **kw) -> Waybill:
    order = make_order(shop, order_no, **kw)
    return services.waybill_allocate(actor=main_actor(shop), order=order, subscription=sub).parent


def _client(shop) -> Client:
    client = Client()
    client.force_login(shop.memberships.get(role="main").user)
    return client


@pytest.fixture
def numbered(shop_a):
    """(subscription, a numbered paid order's parent waybill) of shop A."""
    sub = open_service(shop_a, balance=10)
    return sub, _numbered(shop_a, sub, "SCAN-0001")


def test_a_waybill_number_finds_its_order_with_the_number_it_ships_under(shop_a, numbered):
    _sub, waybill = numbered
    match = selectors.scan_find(actor=main_actor(shop_a), code=f" {waybill.waybill_no.lower()} ")
    assert match.order.pk == waybill.order_id and match.order.order_no == "SCAN-0001"
    assert match.scanned.pk == waybill.pk and match.waybill_no == waybill.waybill_no
    assert [w.waybill_no for w in match.waybills] == [waybill.waybill_no]
    assert [(i.sku, i.quantity) for i in match.order.items.all()] == [("SKU-1", 2)]
    assert match.refusal is None


def test_an_order_number_finds_the_order_and_its_live_number(shop_a, numbered):
    _sub, waybill = numbered
    match = selectors.scan_find(actor=main_actor(shop_a), code="SCAN-0001")
    assert match.order.pk == waybill.order_id
    assert match.scanned is None and match.waybill_no == waybill.waybill_no
    assert match.refusal is None


def test_another_shops_number_or_order_finds_nothing(shop_a, shop_b, numbered):
    _sub, waybill = numbered
    for code in (waybill.waybill_no, "SCAN-0001", "SCAN-"):
        with pytest.raises(AppError) as refused:
            selectors.scan_find(actor=main_actor(shop_b), code=code)
        assert refused.value.code == "NOT_FOUND" and refused.value.status == 404
    response = _client(shop_b).post(URL, {"code": waybill.waybill_no})
    assert response.status_code == 404
    assert "SCAN-0001" not in response.content.decode()
    assert "本店没有运单号或订单号为" in response.content.decode()


def test_an_order_under_a_cancellation_request_is_refused_and_not_shipped(shop_a, numbered):
    _sub, waybill = numbered
    actor = main_actor(shop_a)
    order = Order.objects.get(pk=waybill.order_id)
    shop_services.order_request_cancel(actor=actor, order=order, reason="拍错了")
    match = selectors.scan_find(actor=actor, code=waybill.waybill_no)
    assert match.refusal.code == "ORDER_BLOCKED"
    client = _client(shop_a)
    found = client.post(URL, {"code": waybill.waybill_no}, **HTMX)
    assert found.status_code == 409
    page = found.content.decode()
    assert 'data-outcome="error"' in page and 'data-error-code="ORDER_BLOCKED"' in page
    assert match.refusal.render_message() in page and "审核中" in page  # the rule's own words
    assert 'name="order"' not in page  # not opened: Enter does not ship it
    # a stale page that still holds it open: the ship service itself refuses
    shipped = client.post(
        URL,
        {"code": "", "order": order.pk, "waybill_no": waybill.waybill_no, "opened_by": "x"},
        **HTMX,
    )
    assert shipped.status_code == 409 and "审核中" in shipped.content.decode()
    order.refresh_from_db()
    assert order.status == "paid" and order.shipped_at is None
    assert not OrderEvent.objects.filter(order=order, kind="ship").exists()


def test_an_order_in_after_sale_is_refused(shop_a, numbered):
    _sub, waybill = numbered
    order = Order.objects.get(pk=waybill.order_id)
    shop_services.order_start_after_sale(actor=main_actor(shop_a), order=order)
    match = selectors.scan_find(actor=main_actor(shop_a), code="SCAN-0001")
    assert match.refusal.code == "ORDER_BLOCKED"
    assert match.refusal.detail == {"after_sale_status": "in_progress"}


def test_the_page_ships_with_enter_once_and_refuses_a_second_time(shop_a, numbered):
    sub, waybill = numbered
    client = _client(shop_a)
    found = client.post(URL, {"code": waybill.waybill_no}, **HTMX)
    assert found.status_code == 200
    body = found.content.decode()
    assert 'data-outcome="found"' in body and "SCAN-0001" in body
    assert "张*" in body and "138****5678" in body and "张三" not in body  # masked
    assert "保温杯" in body and "×2" in body
    order = Order.objects.get(pk=waybill.order_id)
    open_fields = {"order": order.pk, "waybill_no": waybill.waybill_no, "opened_by": "x"}
    shipped = client.post(URL, {"code": "", **open_fields}, **HTMX)
    assert shipped.status_code == 200
    assert 'data-outcome="ok"' in shipped.content.decode()
    assert f"已发货：订单 SCAN-0001，运单号 {waybill.waybill_no}。" in shipped.content.decode()
    order.refresh_from_db()
    assert order.status == "shipped" and order.tracking_no == waybill.waybill_no
    assert order.return_address_id == sub.address_id  # the shop's default return address
    first_shipped_at = order.shipped_at
    # the same form posted again (a double Enter on a stale page): the service refuses
    again = client.post(URL, {"code": "", **open_fields}, **HTMX)
    assert again.status_code == 409
    assert 'data-error-code="ALREADY_SHIPPED"' in again.content.decode()
    assert "订单已发货。" in again.content.decode()
    # scanning the label again finds it shipped, refused before anything is tried
    rescanned = client.post(URL, {"code": waybill.waybill_no}, **HTMX)
    assert rescanned.status_code == 409 and "ALREADY_SHIPPED" in rescanned.content.decode()
    order.refresh_from_db()
    assert order.shipped_at == first_shipped_at
    assert OrderEvent.objects.filter(order=order, kind="ship").count() == 1


def test_scanning_the_same_label_again_ships_it(shop_a, numbered):
    _sub, waybill = numbered
    order = Order.objects.get(pk=waybill.order_id)
    response = _client(shop_a).post(
        URL,
        {
            "code": waybill.waybill_no.lower(),
            "order": order.pk,
            "waybill_no": waybill.waybill_no,
            "opened_by": "SCAN-0001",
        },
    )
    assert response.status_code == 200  # without htmx: the whole page
    assert 'id="scan-form"' in response.content.decode()
    assert Order.objects.get(pk=order.pk).status == "shipped"


def test_a_new_scan_while_an_order_is_open_opens_the_other_order(shop_a, numbered):
    sub, waybill = numbered
    other = _numbered(shop_a, sub, "SCAN-0002")
    order = Order.objects.get(pk=waybill.order_id)
    response = _client(shop_a).post(
        URL,
        {"code": other.waybill_no, "order": order.pk, "waybill_no": waybill.waybill_no},
        **HTMX,
    )
    assert response.status_code == 200 and "SCAN-0002" in response.content.decode()
    assert Order.objects.get(pk=order.pk).status == "paid"
    assert Order.objects.get(pk=other.order_id).status == "paid"


def test_a_cancelled_label_or_an_order_without_a_number_is_refused(shop_a, numbered):
    sub, waybill = numbered
    actor = main_actor(shop_a)
    services.waybill_cancel(actor=actor, waybill=waybill)
    match = selectors.scan_find(actor=actor, code=waybill.waybill_no)
    assert match.order.pk == waybill.order_id and match.refusal.code == "WAYBILL_ORDER_MISMATCH"
    make_order(shop_a, "SCAN-NO-NUMBER")
    match = selectors.scan_find(actor=actor, code="SCAN-NO-NUMBER")
    assert match.refusal.code == "WAYBILL_ORDER_MISMATCH" and match.waybill_no == ""
    assert match.refusal.render_message() == "该订单还没有运单号，请先取号。"


def test_the_page_and_its_menu_entry_need_the_ship_permission(shop_a):
    owner = main_actor(shop_a)
    for name, granted in (("packer", [perms.SHIP]), ("clerk", [perms.PRINT])):
        shop_services.sub_account_create(
            actor=owner, username=name, password="pass-12345", permissions=granted
        )
    packer, clerk = Client(), Client()
    packer.login(username="packer", password="pass-12345")
    clerk.login(username="clerk", password="pass-12345")
    orders = reverse("console:order_list")
    assert 'data-testid="nav-scan"' in packer.get(orders).content.decode()
    assert 'data-testid="nav-scan"' not in clerk.get(orders).content.decode()
    assert packer.get(URL).status_code == 200
    refused = clerk.get(URL)
    assert refused.status_code == 403 and "发货" in refused.content.decode()
    assert clerk.post(URL, {"code": "SCAN-0001"}, **HTMX).status_code == 403
