"""修改收件信息 in the console: the order's receiver form (with 智能粘贴), reached from the
order page and from a 面单异常, then 重试.

The form goes through one service (``order_receiver_change``), which uses the existing
rules: an order without a number changes its address (``order_change_address``), an order
with a number changes it on the number (``waybill_update``: re-screened, written to the
order and its packages). Refusals show each problem by the field's label and write
nothing."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.test import Client

from shops import services as shop_services
from shops.models import Order, OrderEvent
from tests.conftest import main_actor, make_order
from tests.waybills.conftest import open_service
from waybill_console import permissions as perms
from waybill_console.crypto import _decrypt
from waybill_console.errors import AppError
from waybill_console.models import DecryptionAudit
from waybills import services
from waybills.models import AllocationException, Waybill

pytestmark = pytest.mark.django_db

NEW = {
    "name": "李四",
    "phone": "13900001111",
    "province": "浙江省",
    "city": "宁波市",
    "district": "鄞州区",
    "detail": "天童南路 1 号",
}
PLAIN = ("李四", "13900001111", "天童南路")


def url(order) -> str:
    return f"/console/waybills/orders/{order.pk}/receiver/"


def plain(obj, field: str) -> str:
    return _decrypt(getattr(obj, field).token)


def receiver_of(order) -> tuple:
    order = Order.objects.get(pk=order.pk)
    return (
        plain(order, "receiver_name"),
        plain(order, "receiver_phone"),
        order.receiver_province,
        order.receiver_city,
        order.receiver_district,
        plain(order, "receiver_detail"),
    )


def state(order) -> str:
    """The order, its numbers, events and exceptions: a refusal changes none of them."""
    rows = [
        list(Order.objects.filter(pk=order.pk).values()),
        list(Waybill.objects.filter(order_id=order.pk).order_by("pk").values()),
        list(OrderEvent.objects.filter(order_id=order.pk).order_by("pk").values()),
        list(AllocationException.objects.filter(order_id=order.pk).values()),
    ]
    for row in rows[0]:
        row.pop("updated_at", None)
    blob = json.dumps(rows, cls=DjangoJSONEncoder, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def session(shop, permissions: list[str] | None = None) -> Client:
    """The shop's main account, or a sub-account with ``permissions``."""
    client = Client()
    if permissions is None:
        client.force_login(shop.memberships.get(role="main").user)
    else:
        membership = shop_services.sub_account_create(
            actor=main_actor(shop),
            username=f"clerk-{shop.shop_no}-{len(permissions)}",
            password="Clerk-Receiver-2024",
            permissions=permissions,
        )
        client.force_login(membership.user)
    return client


def legacy_order(shop) -> Order:
    """An order stored before intake checked the division list (a district that does not
    exist): the carrier's GIS cannot place it, 取号 fails with 1014."""
    order = make_order(shop)
    Order.objects.filter(pk=order.pk).update(receiver_district="西湖新区")
    return Order.objects.get(pk=order.pk)


def text(response) -> str:
    return response.content.decode()


def test_the_order_page_links_the_form_which_shows_the_receiver_in_an_audited_view(shop_a):
    order = make_order(shop_a)
    client = session(shop_a)

    detail = text(client.get(f"/console/orders/{order.pk}/"))
    assert f'href="{url(order)}"' in detail and "修改收件信息" in detail
    response = client.get(url(order))

    assert response.status_code == 200
    html = text(response)
    assert 'value="张三"' in html and 'value="文三路 90 号 3 幢 501"' in html
    assert "智能粘贴" in html and "识别" in html
    (audit,) = DecryptionAudit.objects.filter(object_pk=str(order.pk))
    assert audit.purpose == "receiver_edit"


def test_saving_changes_the_order_and_records_the_change_without_consumer_data(shop_a):
    order = make_order(shop_a)

    response = session(shop_a).post(url(order), NEW)

    assert response.status_code == 302
    assert response["Location"] == f"/console/orders/{order.pk}/"
    assert receiver_of(order) == (
        "李四",
        "13900001111",
        "浙江省",
        "宁波市",
        "鄞州区",
        "天童南路 1 号",
    )
    (event,) = OrderEvent.objects.filter(order=order, kind="address_changed")
    assert event.data == {}
    assert not any(p in json.dumps(event.data, ensure_ascii=False) + event.actor for p in PLAIN)


def test_a_numbered_order_changes_on_its_number_and_every_package(shop_a):
    sub = open_service(shop_a, balance=10)
    order = make_order(shop_a)
    parent = services.waybill_allocate(
        actor=main_actor(shop_a), order=order, subscription=sub, package_count=2
    ).parent

    response = session(shop_a).post(url(order), NEW)

    assert response.status_code == 302
    for number in Waybill.objects.filter(order=order):
        assert plain(number, "receiver_name") == "李四"
        assert number.short_address_name == "宁波 鄞州区"  # screened again
    (event,) = OrderEvent.objects.filter(order=order, kind="address_changed")
    assert event.data == {"waybill_no": parent.waybill_no}


def test_field_problems_are_named_by_their_labels_and_nothing_is_written(shop_a):
    order = make_order(shop_a)
    before = state(order)
    bad = {**NEW, "name": "", "phone": "12345", "province": "火星省"}

    response = session(shop_a).post(url(order), bad)

    assert response.status_code == 400
    html = text(response)
    assert "电话：不是有效的手机号或固定电话号码。" in html
    assert "姓名：" in html and "省：" in html
    assert 'data-testid="field-error-phone"' in html
    assert "receiver." not in html and "VALIDATION_ERROR" not in html
    assert 'value="12345"' in html and 'value="火星省"' in html  # what was typed stays
    assert state(order) == before


def test_a_new_address_the_carrier_refuses_changes_nothing(shop_a):
    sub = open_service(shop_a, balance=10)
    order = make_order(shop_a)
    services.waybill_allocate(actor=main_actor(shop_a), order=order, subscription=sub)
    before = state(order)

    response = session(shop_a).post(url(order), {**NEW, "detail": "X"})  # 1014 on screening

    assert response.status_code == 422
    assert "筛单出错（1014）GIS地址解析失败" in text(response)
    assert state(order) == before


@pytest.mark.parametrize(
    ("permissions", "numbered", "missing"),
    [
        ([perms.WAYBILL_ALLOCATE, perms.CONSUMER_VIEW], False, "订单处理"),
        ([perms.ORDER_MANAGE], True, "获取电子面单号"),  # a number: its own permission too
    ],
)
def test_the_permissions_that_guard_the_address(shop_a, permissions, numbered, missing):
    order = make_order(shop_a)
    if numbered:
        sub = open_service(shop_a, balance=10)
        services.waybill_allocate(actor=main_actor(shop_a), order=order, subscription=sub)
    before = state(order)
    client = session(shop_a, permissions)

    response = client.post(url(order), NEW)

    assert response.status_code == 403
    assert missing in text(response)
    assert state(order) == before
    if not numbered:
        assert client.get(url(order)).status_code == 403
        assert "修改收件信息" not in text(client.get(f"/console/orders/{order.pk}/"))


def test_a_sub_account_without_consumer_view_gets_the_region_only(shop_a):
    order = make_order(shop_a)
    response = session(shop_a, [perms.ORDER_MANAGE]).get(url(order))
    html = text(response)
    assert response.status_code == 200
    assert 'value="西湖区"' in html
    assert 'value="张三"' not in html and 'value="文三路' not in html and '13812345678"' not in html
    assert not DecryptionAudit.objects.exists()


def test_another_shops_order_is_not_found(shop_a, shop_b):
    order = make_order(shop_b)
    before = state(order)
    client = session(shop_a)
    assert client.get(url(order)).status_code == 404
    assert client.post(url(order), NEW).status_code == 404
    assert state(order) == before
    assert not DecryptionAudit.objects.exists()


def test_smart_paste_answers_the_fields_and_names_what_it_missed(shop_a):
    client = session(shop_a)
    response = client.post(
        "/console/waybills/receiver-parse/", {"text": "13812345678 张三 杭州市西湖大道1号"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "fields": {
            "name": "张三",
            "phone": "13812345678",
            "province": "浙江省",
            "city": "杭州市",
            "detail": "西湖大道1号",
        },
        "missing": ["district"],
        "note": "已识别；未找到：区/县。请补充后保存。",
    }
    assert client.get("/console/waybills/receiver-parse/").status_code == 405


def test_smart_paste_without_javascript_fills_the_form_and_saves_nothing(shop_a):
    order = make_order(shop_a)
    before = state(order)
    response = session(shop_a).post(
        url(order),
        {"parse": "1", "paste": "李四，139-0000-1111，浙江宁波鄞州区天童南路 1 号"},
    )
    html = text(response)
    assert response.status_code == 200
    for value in NEW.values():
        assert f'value="{value}"' in html
    assert "已全部识别，请核对后保存。" in html
    assert state(order) == before


def test_from_a_failed_allocation_the_fix_is_followed_by_a_successful_retry(shop_a):
    sub = open_service(shop_a, balance=10)
    order = legacy_order(shop_a)
    with pytest.raises(AppError) as failed:
        services.waybill_allocate(actor=main_actor(shop_a), order=order, subscription=sub)
    assert failed.value.code == "ADDRESS_UNPARSEABLE"
    exception = AllocationException.objects.get(order=order, resolved_at=None)
    client = session(shop_a)

    listing = text(client.get("/console/waybills/exceptions/"))
    assert f'href="{url(order)}"' in listing
    assert "重试" in text(client.get(url(order)))

    saved = client.post(url(order), NEW)
    assert (saved.status_code, saved["Location"]) == (302, url(order))
    page = text(client.get(url(order)))
    assert 'data-testid="receiver-fixed"' in page
    retried = client.post(
        f"/console/waybills/exceptions/{exception.pk}/retry/",
        {"next": f"/console/orders/{order.pk}/"},
    )

    assert retried.status_code == 302
    exception.refresh_from_db()
    assert exception.resolved_at is not None
    (number,) = Waybill.objects.filter(order=order)
    assert number.short_address_name == "宁波 鄞州区"
