"""Order items are bounded at every door that takes them in (the order API, the import and
its page, a waybill's items through ``PATCH /api/v1/waybills/{no}/``, the factory's price
sheet through the API and its page): one validator
(``shops.services.order_intake.clean_items`` with ``ITEM_TEXT_MAX``, ``ITEMS_MAX``,
``QUANTITY_MAX``, ``REMARK_MAX``). A 900 KB product name is refused with a field error
and nothing is stored."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from dropship.models import SettlementPrice
from shops import services as shop_services
from shops.models import Order, OrderItem
from shops.services import imports
from shops.services.order_intake import ITEM_TEXT_MAX, ITEMS_MAX, QUANTITY_MAX, REMARK_MAX
from tests.conftest import main_actor, make_order, token_client
from tests.dropship.conftest import MERCHANT_NO, bind, make_factory, make_merchant
from tests.waybills.conftest import open_service
from waybill_console.crypto import mask_code
from waybill_console.errors import AppError, ValidationError
from waybills.models import Waybill
from waybills.services import waybill_allocate

pytestmark = pytest.mark.django_db

HUGE = "保温杯" * 100_000  # 900 KB in UTF-8
RECEIVER = {"name": "张三", "phone": "13812345678", "province": "浙江省", "city": "杭州市",
            "district": "西湖区", "detail": "文三路 90 号"}  # fmt: skip


def item(**kw) -> dict:
    return {"sku": "SKU-1", "product_name": "保温杯", "spec": "500ml", "quantity": 1,
            "unit_price": "39.90", **kw}  # fmt: skip


# --- the order API ------------------------------------------------------------------------------


def test_order_api_refuses_a_900_kb_product_name(shop_a):
    response = token_client(shop_a).post(
        "/api/v1/orders/",
        {"order_no": "BIG-1", "items": [item(product_name=HUGE)], "receiver": RECEIVER},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR" and "items" in str(body["detail"])
    assert "product_name" in str(body["detail"])
    assert Order.objects.count() == 0 and OrderItem.objects.count() == 0


@pytest.mark.parametrize(
    "items,field",
    [
        ([item(product_name=HUGE)], "items[0].product_name"),
        ([item(product_name="杯" * (ITEM_TEXT_MAX["product_name"] + 1))], "items[0].product_name"),
        ([item(), item(spec="白" * (ITEM_TEXT_MAX["spec"] + 1))], "items[1].spec"),
        ([item(sku="S" * (ITEM_TEXT_MAX["sku"] + 1))], "items[0].sku"),
        ([item(quantity=QUANTITY_MAX + 1)], "items[0].quantity"),
        ([item(sku=f"S{i}") for i in range(ITEMS_MAX + 1)], "items"),
        ([item(quantity=QUANTITY_MAX, unit_price="9999999999.99")], "items"),  # the total
        ("保温杯" * 1000, "items"),  # not a list
    ],
)
def test_the_one_validator_refuses_each_bound_naming_the_field(shop_a, items, field):
    with pytest.raises(ValidationError) as caught:
        shop_services.order_create(
            actor=main_actor(shop_a), order_no="BIG-2", items=items, receiver=RECEIVER
        )
    assert list(caught.value.detail) == [field]
    assert Order.objects.count() == 0


def test_items_at_their_bounds_are_accepted_whole(shop_a):
    name = "杯" * ITEM_TEXT_MAX["product_name"]
    items = [item(sku=f"S{i}", product_name=name, quantity=QUANTITY_MAX) for i in range(ITEMS_MAX)]
    order = shop_services.order_create(
        actor=main_actor(shop_a), order_no="EDGE-1", items=items, receiver=RECEIVER,
        buyer_note="轻" * REMARK_MAX,
    )  # fmt: skip
    stored = list(OrderItem.objects.filter(order=order).values_list("product_name", "quantity"))
    assert stored == [(name, QUANTITY_MAX)] * ITEMS_MAX  # nothing cut short
    assert Order.objects.get(pk=order.pk).buyer_note == "轻" * REMARK_MAX


def test_a_remark_over_its_bound_is_refused(shop_a):
    with pytest.raises(ValidationError) as caught:
        shop_services.order_create(
            actor=main_actor(shop_a), order_no="NOTE-1", items=[item()], receiver=RECEIVER,
            buyer_note="轻" * (REMARK_MAX + 1),
        )  # fmt: skip
    assert list(caught.value.detail) == ["buyer_note"]
    assert Order.objects.count() == 0


# --- the import and its page ----------------------------------------------------------------------


def import_file(name: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(imports.TEMPLATE_HEADER)
    writer.writerow(["IMP-1", "已付款", "", "S1", "保温杯", "500ml", "2", "39.90", "张三",
                     "13812345678", "浙江省", "杭州市", "西湖区", "文三路 1 号", ""])  # fmt: skip
    writer.writerow(["IMP-2", "已付款", "", "S2", name, "500ml", "1", "9.90", "李四",
                     "13812345679", "浙江省", "杭州市", "西湖区", "文三路 2 号", ""])  # fmt: skip
    return out.getvalue().encode("utf-8")


def test_import_refuses_a_900_kb_product_name(shop_a):
    """A cell that long is no CSV field the reader takes: the file is refused, naming
    the line."""
    with pytest.raises(AppError) as caught:
        imports.order_import(actor=main_actor(shop_a), file_name="a.csv", raw=import_file(HUGE))
    err = caught.value
    assert err.code == "VALIDATION_ERROR" and list(err.detail) == ["file"]
    assert "3" in err.detail["file"][0]
    assert Order.objects.count() == 0 and OrderItem.objects.count() == 0


def test_import_refuses_a_product_name_over_its_bound_on_its_line(shop_a):
    name = "杯" * (ITEM_TEXT_MAX["product_name"] + 1)
    with pytest.raises(AppError) as caught:
        imports.order_import(actor=main_actor(shop_a), file_name="a.csv", raw=import_file(name))
    assert caught.value.code == "IMPORT_INVALID"
    lines = caught.value.detail["lines"]
    assert [(p["line"], p["field"]) for p in lines] == [(3, "items[0].product_name")]
    assert Order.objects.count() == 0


def test_import_page_refuses_a_product_name_over_its_bound(shop_a):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(shop_a.memberships.get().user)
    upload = io.BytesIO(import_file("杯" * (ITEM_TEXT_MAX["product_name"] + 1)))
    upload.name = "orders.csv"
    response = client.post("/console/orders/import/", {"file": upload})
    assert response.status_code == 400
    assert response.context["lines"][0]["field"] == "items[0].product_name"
    assert "At most 200 characters." in response.content.decode()
    assert Order.objects.count() == 0 and OrderItem.objects.count() == 0


def test_import_page_refuses_a_900_kb_product_name(shop_a):
    """A file that large is imported by a job: the job fails, nothing is imported."""
    from waybill_console.jobs import job_run
    from waybill_console.models import Job

    client = Client()
    client.force_login(shop_a.memberships.get().user)
    upload = io.BytesIO(import_file(HUGE))
    upload.name = "orders.csv"
    response = client.post("/console/orders/import/", {"file": upload})
    job = Job.objects.get(kind="order_import")
    assert response.status_code == 302 and response["Location"] == f"/console/jobs/{job.pk}/"
    job_run(job_id=job.pk)  # the worker's task
    job.refresh_from_db()
    assert job.status == "failed" and job.error["code"] == "VALIDATION_ERROR"
    assert list(job.error["detail"]) == ["file"]
    assert Order.objects.count() == 0 and OrderItem.objects.count() == 0


# --- a waybill's items (PATCH /api/v1/waybills/{no}/) ----------------------------------------


def test_waybill_patch_refuses_a_900_kb_item_name(shop_a):
    sub = open_service(shop_a, "ZTO", balance=5)
    waybill = waybill_allocate(
        actor=main_actor(shop_a), order=make_order(shop_a), subscription=sub
    ).parent
    api = token_client(shop_a)
    url = f"/api/v1/waybills/{waybill.waybill_no}/"
    before = Waybill.objects.filter(pk=waybill.pk).values("items", "last_changed_at").get()
    for items, field in (
        ([{"sku": "S1", "product_name": HUGE, "quantity": 1}], "items[0].product_name"),
        ([{"sku": "S1", "name": HUGE, "quantity": 1}], "items[0].product_name"),
        ([{"sku": "S1", "name": "杯", "spec": HUGE, "quantity": 1}], "items[0].spec"),
        ([{"sku": "S1", "name": "杯", "quantity": QUANTITY_MAX + 1}], "items[0].quantity"),
        ([{"sku": f"S{i}", "name": "杯"} for i in range(ITEMS_MAX + 1)], "items"),
    ):
        response = api.patch(url, {"items": items}, format="json")
        assert response.status_code == 400, response.content[:200]
        body = response.json()
        assert body["code"] == "VALIDATION_ERROR" and field in body["detail"], body["detail"]
        assert Waybill.objects.filter(pk=waybill.pk).values("items", "last_changed_at").get() == (
            before
        )
    # within the bounds: stored as the label reads them
    items = [{"sku": "S1", "name": "保温杯", "spec": "白", "quantity": 2}]
    ok = api.patch(url, {"items": items}, format="json")
    assert ok.status_code == 200, ok.content
    assert Waybill.objects.get(pk=waybill.pk).items == [
        {"sku": "S1", "name": "保温杯", "spec": "白", "quantity": 2}
    ]


# --- the factory's price sheet (API and page) ----------------------------------------------------


@pytest.fixture
def bound_factory(db):
    merchant, factory = make_merchant(), make_factory()
    bind(merchant, factory)
    return factory


def test_price_sheet_api_refuses_a_900_kb_product_name(bound_factory):
    response = token_client(bound_factory).put(
        "/api/v1/dropship/prices/",
        {"prices": [{"merchant": mask_code(MERCHANT_NO), "sku": "CUP-1", "price": "12.50",
                     "product_name": HUGE}]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR" and "product_name" in str(body["detail"])
    assert not SettlementPrice.objects.exists()


def test_price_sheet_page_refuses_a_900_kb_product_name(bound_factory):
    client = Client()
    client.force_login(bound_factory.memberships.get(role="main").user)
    page = client.get(reverse("factory:prices"))
    ref = page.context["merchants"][0]["ref"]
    response = client.post(
        reverse("factory:prices"),
        {"rows": "0", "new-ref": ref, "new-sku": "CUP-1", "new-price": "12.50",
         "new-product": HUGE},
    )  # fmt: skip
    assert response.status_code == 400
    assert "prices[0].product_name" in str(response.context["error"]["detail"])
    assert not SettlementPrice.objects.exists()
