"""The dropship API end to end: bind, allocate, the factory draws / prints / returns, the
merchant ships; scopes (a merchant token cannot read factory orders) and no plaintext
consumer data in anything the factory receives."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from carriers.models import Subscription
from dropship.models import Allocation, FactoryOrder
from dropship.services import identity
from shops import services as shop_services
from tests.conftest import main_actor, make_order, make_shop, make_user, token_client
from tests.waybills.conftest import SENDER, open_service
from waybill_console.models import DecryptionAudit
from waybills.models import Waybill

pytestmark = pytest.mark.django_db

RECEIVER = {
    "name": "欧阳娜娜",
    "phone": "13912345678",
    "province": "浙江省",
    "city": "杭州市",
    "district": "西湖区",
    "detail": "文三路 90 号 5 幢",
}


@pytest.fixture
def pair():
    merchant = make_shop("110001", user=make_user("m-api"), name="星河家居旗舰店")
    factory = make_shop("210001", user=make_user("f-api"), name="义乌优品工厂")
    identity.profile_update(
        actor=main_actor(merchant),
        data={
            "identity": "merchant",
            "display_name": "星河代发",
            "sender_name": "星河仓",
            "sender_phone": "13800002222",
            "sender_province": "浙江省",
            "sender_city": "杭州市",
            "sender_district": "余杭区",
            "sender_detail": "良渚街道 8 号",
        },
    )
    identity.profile_update(actor=main_actor(factory), data={"identity": "factory"})
    sub = open_service(factory, balance=10)
    return merchant, factory, sub


def _orders(merchant, n=1):
    items = [
        {"sku": "CUP-1", "product_name": "保温杯", "spec": "500ml", "quantity": 2,
         "unit_price": "39.90"},
        {"sku": "LID-2", "product_name": "杯盖", "spec": "白色", "quantity": 1,
         "unit_price": "9.90"},
    ]  # fmt: skip
    return [make_order(merchant, items=items, receiver=RECEIVER) for _ in range(n)]


def test_whole_flow_through_the_api(pair):
    merchant, factory, sub = pair
    m, f = token_client(merchant, language="en"), token_client(factory, language="en")

    # identity is a factory; binding by shop number, confirmed by the factory
    r = m.post("/api/v1/dropship/bindings/", {"factory_shop_no": "210001"}, format="json")
    assert r.status_code == 201, r.content
    binding = r.json()["id"]
    assert r.json()["status"] == "pending"
    r = f.post(f"/api/v1/dropship/bindings/{binding}/confirm/")
    assert r.status_code == 200 and r.json()["status"] == "active"
    assert r.json()["merchant"] != "110001"  # masked for the factory
    assert r.json()["merchant_sender"]["name"] == "星河仓"

    (order,) = _orders(merchant)
    cup, lid = order.items.order_by("pk")
    r = m.post(
        "/api/v1/dropship/allocations/",
        {"factory": "210001", "order_items": [cup.pk, lid.pk]},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert [x["ok"] for x in r.json()["results"]] == [True, True]

    # the merchant's token may not read the factory's list
    r = m.get("/api/v1/dropship/factory-orders/")
    assert r.status_code == 403 and r.json()["code"] == "PERMISSION_DENIED"

    r = f.get("/api/v1/dropship/factory-orders/")
    assert r.status_code == 200
    (row,) = r.json()["results"]
    raw = json.dumps(r.json(), ensure_ascii=False)
    for secret in ("欧阳娜娜", "13912345678", "文三路", order.order_no, "110001"):
        assert secret not in raw
    assert row["receiver_phone"] == "139****5678"
    assert [i["sku"] for i in row["items"]] == ["CUP-1", "LID-2"]
    assert row["return_status"] == "not_returned"

    # the factory draws from its own subscription: its quota moves
    before = Subscription.objects.get(pk=sub.pk).balance
    r = f.post(
        f"/api/v1/dropship/factory-orders/{row['id']}/waybill/",
        {"subscription": sub.pk},
        format="json",
    )
    assert r.status_code == 201, r.content
    number = r.json()["waybill_no"]
    assert number and Subscription.objects.get(pk=sub.pk).balance == before - 1
    waybill = Waybill.objects.get(waybill_no=number)
    assert waybill.shop_id == factory.pk and waybill.order_id == order.pk
    assert waybill.sender["name"] == "星河仓"  # the merchant's dropship sender

    # the label (PDF) returns the number; the receiver was decrypted for the factory, audited
    audits = DecryptionAudit.objects.filter(shop_id=factory.pk).count()
    r = f.post(f"/api/v1/dropship/factory-orders/{row['id']}/label/", {}, format="json")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert b"".join(r.streaming_content if r.streaming else [r.content]).startswith(b"%PDF")
    assert DecryptionAudit.objects.filter(shop_id=factory.pk).count() == audits + 1
    r = f.get(f"/api/v1/dropship/factory-orders/{row['id']}/")
    assert r.json()["return_status"] == "returned" and r.json()["tracking_no"] == number

    # the merchant sees the number and ships with a return address; the factory then cannot
    r = m.get(f"/api/v1/dropship/allocations/?order={order.pk}")
    assert {a["tracking_no"] for a in r.json()["results"]} == {number}
    address = shop_services.address_create(actor=main_actor(merchant), data=SENDER)
    r = m.post(
        f"/api/v1/dropship/factory-orders/{row['id']}/ship/",
        {"return_address": address.pk},
        format="json",
    )
    assert r.status_code == 200, r.content
    order.refresh_from_db()
    assert order.status == "shipped" and order.tracking_no == number
    assert order.return_address_id == address.pk
    r = f.post(f"/api/v1/dropship/factory-orders/{row['id']}/ship/", {}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "ALREADY_SHIPPED"


def test_errors_and_scoping(pair):
    merchant, factory, sub = pair
    other = make_shop("110002", user=make_user("m-other"))
    m, f = token_client(merchant, language="en"), token_client(factory, language="en")
    o = token_client(other, language="en")

    r = m.post("/api/v1/dropship/bindings/", {"factory_shop_no": "110002"}, format="json")
    assert r.status_code == 422 and r.json()["code"] == "NOT_A_FACTORY"
    r = m.post("/api/v1/dropship/bindings/", {"factory_shop_no": "210001"}, format="json")
    binding = r.json()["id"]
    # identity is locked on both sides now
    r = m.post("/api/v1/dropship/profile/", {"identity": "factory"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "DROPSHIP_IDENTITY_LOCKED"
    r = f.post("/api/v1/dropship/profile/", {"identity": "merchant"}, format="json")
    assert r.json()["code"] == "DROPSHIP_IDENTITY_LOCKED"
    # before confirmation: no allocation
    (order,) = _orders(merchant)
    r = m.post(
        "/api/v1/dropship/allocations/", {"factory": "210001", "orders": [order.pk]}, format="json"
    )
    assert r.status_code == 409 and r.json()["code"] == "BINDING_NOT_ACTIVE"
    # another shop cannot confirm it (404), the merchant cannot confirm its own request (403)
    assert o.post(f"/api/v1/dropship/bindings/{binding}/confirm/").status_code in (403, 404)
    assert m.post(f"/api/v1/dropship/bindings/{binding}/confirm/").status_code == 403
    f.post(f"/api/v1/dropship/bindings/{binding}/confirm/")
    # the order predates the binding: not synced
    r = m.post(
        "/api/v1/dropship/allocations/", {"factory": "210001", "orders": [order.pk]}, format="json"
    )
    assert r.json()["results"][0]["error"]["code"] == "ORDER_NOT_SYNCED"
    (new,) = _orders(merchant)
    r = m.post(
        "/api/v1/dropship/allocations/", {"factory": "210001", "orders": [new.pk]}, format="json"
    )
    assert all(x["ok"] for x in r.json()["results"]) and len(r.json()["results"]) == 2
    fo = FactoryOrder.objects.get(order=new)
    # another shop's token sees none of it
    assert o.get(f"/api/v1/dropship/factory-orders/{fo.pk}/").status_code == 403
    assert f.get(f"/api/v1/dropship/factory-orders/{fo.pk + 999}/").status_code == 404
    allocation = Allocation.objects.filter(order=new).first()
    assert o.post(f"/api/v1/dropship/allocations/{allocation.pk}/cancel/").status_code == 404
    # after-sale cancels the allocations; the factory's draw is then ORDER_BLOCKED
    shop_services.order_start_after_sale(actor=main_actor(merchant), order=new)
    assert not Allocation.objects.filter(order=new, status="allocated").exists()
    r = f.post(
        f"/api/v1/dropship/factory-orders/{fo.pk}/waybill/", {"subscription": sub.pk}, format="json"
    )
    assert r.status_code == 409 and r.json()["code"] == "ORDER_BLOCKED"
    assert not Waybill.objects.filter(order=new).exists()


def test_prices_and_statement_limit(pair):
    merchant, factory, sub = pair
    m, f = token_client(merchant, language="en"), token_client(factory, language="en")
    r = m.post("/api/v1/dropship/bindings/", {"factory_shop_no": "210001"}, format="json")
    f.post(f"/api/v1/dropship/bindings/{r.json()['id']}/confirm/")
    r = f.put(
        "/api/v1/dropship/prices/",
        {"prices": [{"merchant": "11**01", "sku": "CUP-1", "price": "12.50"}]},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["results"][0]["price"] == "12.50"
    r = f.put(
        "/api/v1/dropship/prices/",
        {"prices": [{"merchant": "999999", "sku": "CUP-1", "price": "-1"}]},
        format="json",
    )
    assert r.status_code == 400
    assert set(r.json()["detail"]) == {"prices[0].merchant", "prices[0].price"}
    assert m.get("/api/v1/dropship/prices/").status_code == 403

    today = timezone.localdate().isoformat()
    body = {"factory": "210001", "date_from": today, "date_to": today}
    r = m.post("/api/v1/dropship/statements/", body, format="json")
    assert r.status_code == 202, r.content
    r = m.post("/api/v1/dropship/statements/", body, format="json")
    assert r.status_code == 429 and r.json()["code"] == "STATEMENT_LIMIT"
    # the factory's side counts for the same pair
    r = f.post(
        "/api/v1/dropship/statements/",
        {"merchant": "11**01", "date_from": today, "date_to": today},
        format="json",
    )
    assert r.json()["code"] == "STATEMENT_LIMIT"
    r = f.get("/api/v1/dropship/statements/")
    (row,) = r.json()["results"]
    assert row["merchant"] != "110001" and row["requested_here"] is False
    assert f.get(f"/api/v1/dropship/statements/{row['id']}/download/").status_code == 404


def test_merchant_and_factory_numbers_on_one_order_stay_apart(pair):
    """The factory's number for an order is not the merchant's: the merchant's own
    allocation draws its own package 1 (not the factory's), the factory's number is
    package 101+, the merchant cannot ship or cancel with it, and the factory's waybill
    list shows the order number masked."""
    from waybills.errors import WaybillOrderMismatch
    from waybills.services import waybill_allocate, waybill_cancel, waybill_ship

    merchant, factory, sub = pair
    m, f = token_client(merchant, language="en"), token_client(factory, language="en")
    r = m.post("/api/v1/dropship/bindings/", {"factory_shop_no": "210001"}, format="json")
    f.post(f"/api/v1/dropship/bindings/{r.json()['id']}/confirm/")
    (order,) = _orders(merchant)
    cup, lid = order.items.order_by("pk")
    m.post(
        "/api/v1/dropship/allocations/",
        {"factory": "210001", "order_items": [cup.pk]},
        format="json",
    )
    fo = FactoryOrder.objects.get(order=order)
    f.post(f"/api/v1/dropship/factory-orders/{fo.pk}/waybill/", {"subscription": sub.pk},
           format="json")  # fmt: skip
    factory_number = Waybill.objects.get(order=order, shop=factory)
    assert factory_number.package_no == 101

    own_sub = open_service(merchant, balance=5, detail="文二路 2 号")
    own = waybill_allocate(actor=main_actor(merchant), order=order, subscription=own_sub)
    assert own.created and own.parent.package_no == 1 and own.parent.shop_id == merchant.pk
    assert own.parent.waybill_no != factory_number.waybill_no
    with pytest.raises(WaybillOrderMismatch):
        waybill_ship(actor=main_actor(merchant), order=order, waybill_no=factory_number.waybill_no)
    from waybill_console.errors import NotFound

    with pytest.raises(NotFound):
        waybill_cancel(actor=main_actor(merchant), waybill=factory_number)
    listed = f.get("/api/v1/waybills/").json()["results"]
    assert [w["order_no"] for w in listed] == [factory_number.order_no_display]
    assert order.order_no not in json.dumps(listed)
