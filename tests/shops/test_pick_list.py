"""拣货单: one line per SKU and spec with its bin location (库位), sorted by bin location then
SKU (the order pickers walk the shelves in); another shop's products never show."""

import pypdfium2
import pytest
from django.contrib.admin.sites import site
from django.test import Client

from shops.models import Product
from shops.services import exports
from tests.conftest import main_actor, make_order, make_user

pytestmark = pytest.mark.django_db


def _item(sku, quantity=1, spec=""):
    return {"sku": sku, "product_name": f"商品{sku}", "spec": spec, "quantity": quantity,
            "unit_price": 1}  # fmt: skip


def _orders(shop):
    a = make_order(shop, "PK-1", items=[_item("CUP", 2, "白色"), _item("LID"), _item("BAG")])
    b = make_order(shop, "PK-2", items=[_item("CUP", 3, "白色"), _item("MUG"), _item("ZIP")])
    return [a.pk, b.pk]


def _bins(shop, **bins):
    for sku, bin_location in bins.items():
        Product.objects.create(shop=shop, sku=sku, name=sku, bin_location=bin_location)


def test_pick_list_lines_carry_bin_locations_sorted_by_bin_then_sku(shop_a, shop_b):
    ids = _orders(shop_a)
    _bins(shop_a, CUP="A-10-01", LID="A-2-05", MUG="A-2-05", BAG="B-01-01")
    _bins(shop_b, ZIP="A-01-01", CUP="0")  # another shop's shelves
    orders, lines = exports.pick_list_lines(actor=main_actor(shop_a), order_ids=ids)
    assert [o.order_no for o in orders] == ["PK-1", "PK-2"]
    assert [
        (g["bin_location"], g["sku"], g["spec"], g["quantity"], g["orders"]) for g in lines
    ] == [
        ("A-2-05", "LID", "", 1, ["PK-1×1"]),
        ("A-2-05", "MUG", "", 1, ["PK-2×1"]),
        ("A-10-01", "CUP", "白色", 5, ["PK-1×2", "PK-2×3"]),
        ("B-01-01", "BAG", "", 1, ["PK-1×1"]),
        ("", "ZIP", "", 1, ["PK-2×1"]),  # no bin: last
    ]


def test_pick_list_pdf_shows_bin_location_per_line_in_walking_order(shop_a):
    ids = _orders(shop_a)
    _bins(shop_a, CUP="A-10-01", LID="A-2-05", MUG="A-2-05", BAG="B-01-01")
    pdf = exports.pick_list_pdf(actor=main_actor(shop_a), order_ids=ids)
    text = pypdfium2.PdfDocument(pdf)[0].get_textpage().get_text_range()
    # pdfium may break a row before its right-aligned quantity column: compare the text with
    # every run of white space as one space, which keeps the order of rows and columns
    flat = " ".join(text.split())
    assert "库位 SKU 商品 规格 数量" in flat
    # bin, SKU, name, spec, quantity and the orders it comes from, in walking order (the 5
    # cups of two orders on one row)
    assert (
        "A-2-05 LID 商品LID 1 PK-1×1 "
        "A-2-05 MUG 商品MUG 1 PK-2×1 "
        "A-10-01 CUP 商品CUP 白色 5 PK-1×2 PK-2×3 "
        "B-01-01 BAG 商品BAG 1 PK-1×1 "
        "— ZIP 商品ZIP 1 PK-2×1"
    ) in flat


def test_pick_list_page_action_serves_the_sorted_pdf(shop_a):
    ids = _orders(shop_a)
    _bins(shop_a, ZIP="A-01-01")
    client = Client()
    client.force_login(shop_a.memberships.get().user)
    response = client.post("/console/orders/batch/", {"action": "pick_list", "ids": ids})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = pypdfium2.PdfDocument(response.content)[0].get_textpage().get_text_range()
    assert text.index("A-01-01 ZIP") < text.index("— BAG")


def test_admin_edits_bin_location_in_the_product_list(shop_a, shop_b):
    _bins(shop_a, CUP="A-01")
    product = Product.objects.get(sku="CUP")
    admin = site._registry[Product]
    assert "bin_location" in admin.list_editable
    user = make_user("ops")
    user.is_staff = user.is_superuser = True
    user.save()
    client = Client()
    client.force_login(user)
    response = client.post(
        f"/admin/shops/product/{product.pk}/change/",
        {
            "name": "保温杯",
            "bin_location": "C-07-03",
            "stock": "4",
            "is_listed": "on",
            "sku": "OTHER",  # read-only: ignored
            "shop": str(shop_b.pk),
        },
    )
    assert response.status_code == 302, response.content[:500]
    product.refresh_from_db()
    assert (product.bin_location, product.sku, product.shop_id) == ("C-07-03", "CUP", shop_a.pk)
