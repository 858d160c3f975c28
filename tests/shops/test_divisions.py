"""Divisions: the municipalities have one city holding all their districts and counties
(重庆市 > 重庆市 > 城口县 screens like 渝中区 on every carrier), and an order to a place that
is not in the division list (火星省) is refused at intake, with the line and the column on an
import, by the page, the import API and the order API alike."""

from __future__ import annotations

import csv
import io

import pytest

from carriers.models import BranchCoverage, DeliveryAttribute
from shops import regions
from shops.models import Order, OrderItem
from shops.services import imports
from tests.conftest import main_actor, make_order, token_client
from tests.waybills.conftest import open_service
from waybill_console.errors import AppError

CHONGQING_COUNTIES = ["城口县", "巫溪县", "石柱土家族自治县", "酉阳土家族苗族自治县"]
MUNICIPALITY_PLACES = [
    ("重庆市", "重庆市", "渝中区"),
    ("重庆市", "重庆市", "城口县"),
    ("重庆市", "重庆市", "巫溪县"),
    ("重庆市", "重庆市", "石柱土家族自治县"),
    ("重庆", "县", "忠县"),  # old GB/T and platform exports name the county half 县
    ("北京市", "北京市", "海淀区"),
    ("天津市", "天津市", "和平区"),
    ("上海市", "上海市", "浦东新区"),
    ("上海", "市辖区", "崇明区"),
]


@pytest.mark.parametrize("province", ["重庆市", "北京市", "天津市", "上海市"])
def test_a_municipality_has_one_city_with_every_district_and_county(province):
    p = regions.find(province, level=1)
    cities = regions.children(p.code)
    assert [(c.name, c.code) for c in cities] == [(province, p.code[:2] + "0100")]
    names = {d.name for d in regions.children(cities[0].code)}
    if province == "重庆市":
        assert {"渝中区", "万州区", *CHONGQING_COUNTIES} <= names and len(names) == 37


@pytest.mark.django_db
def test_the_region_picker_shows_one_chongqing_city(client, shop_a):
    client.force_login(shop_a.memberships.get().user)
    cities = client.get("/console/regions/", {"code": "500000"}).json()["regions"]
    assert cities == [{"code": "500100", "name": "重庆市"}]
    districts = client.get("/console/regions/", {"code": "500100"}).json()["regions"]
    assert {"code": "500229", "name": "城口县"} in districts
    assert {"code": "500103", "name": "渝中区"} in districts
    assert not any(
        r["name"] == "苏鲁交界" for r in client.get("/console/regions/").json()["regions"]
    )


def test_the_old_county_code_still_names_chongqing():
    assert regions.get("500200").code == "500100"
    assert regions.lineage(regions.get("500229")) == ["500229", "500200", "500100", "500000"]


def _receiver(province, city, district):
    return {
        "name": "张三",
        "phone": "13812345678",
        "province": province,
        "city": city,
        "district": district,
        "detail": "人民路 1 号",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("carrier", "extra"), [("ZTO", {}), ("YTO", {}), ("SF", {"monthly_account": "0571888"})]
)
def test_municipality_addresses_screen_on_every_carrier(shop_a, carrier, extra):
    sub = open_service(shop_a, carrier, **extra)
    api = token_client(shop_a)
    for province, city, district in MUNICIPALITY_PLACES:
        answer = api.post(
            "/api/v1/waybills/screen/",
            {"subscription": sub.pk, "receiver": _receiver(province, city, district)},
            format="json",
        )
        assert answer.status_code == 200, (province, city, district, answer.json())
        assert answer.json()["ok"] is True and answer.json()["sort_code"], answer.json()


@pytest.mark.django_db
def test_a_range_filed_under_the_county_code_still_applies(shop_a):
    """A branch whose range was recorded against 500200 (the old 县 city) keeps it."""
    sub = open_service(shop_a, "ZTO")
    BranchCoverage.objects.create(
        branch=sub.branch, region_code="500200", attribute=DeliveryAttribute.NONE
    )
    api = token_client(shop_a)
    county = api.post(
        "/api/v1/waybills/screen/",
        {"subscription": sub.pk, "receiver": _receiver("重庆市", "重庆市", "城口县")},
        format="json",
    )
    district = api.post(
        "/api/v1/waybills/screen/",
        {"subscription": sub.pk, "receiver": _receiver("重庆市", "重庆市", "渝中区")},
        format="json",
    )
    assert county.json()["code"] == "OUT_OF_RANGE"
    assert district.status_code == 200


@pytest.mark.django_db
def test_an_order_to_a_chongqing_county_is_stored_with_full_names(shop_a):
    order = make_order(shop_a, "CQ-1", receiver=_receiver("重庆", "县", "城口县"))
    assert (order.receiver_province, order.receiver_city, order.receiver_district) == (
        "重庆市",
        "重庆市",
        "城口县",
    )


# --- unknown places are refused at intake ---------------------------------------------------

UNKNOWN = [
    (("火星省", "火星市", ""), "receiver.province", "省"),
    (("浙江省", "火星市", "西湖区"), "receiver.city", "市"),
    (("浙江省", "杭州市", "火星区"), "receiver.district", "区"),
    (("重庆市", "重庆市", "西湖区"), "receiver.district", "区"),
]


def _csv(rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(imports.TEMPLATE_HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _line(no, province="浙江省", city="杭州市", district="西湖区"):
    return [no, "已付款", "", "S1", "保温杯", "500ml", "1", "9.90", "张三", "13812345678"] + [
        province,
        city,
        district,
        "文三路 1 号",
        "",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(("place", "field", "label"), UNKNOWN)
def test_the_import_refuses_an_unknown_place_with_line_and_column(shop_a, place, field, label):
    raw = _csv([_line("OK-1"), _line("OK-2"), _line("BAD-3", *place)])
    with pytest.raises(AppError) as refused:
        imports.order_import(actor=main_actor(shop_a), file_name="a.csv", raw=raw)
    assert refused.value.code == "IMPORT_INVALID"
    [problem] = refused.value.detail["lines"]
    assert (problem["line"], problem["field"], problem["label"]) == (4, field, label)
    assert "行政区划" in problem["message"]
    assert Order.objects.count() == 0 and OrderItem.objects.count() == 0


@pytest.mark.django_db
def test_the_import_page_names_the_line_and_the_column_title(client, shop_a):
    client.force_login(shop_a.memberships.get().user)
    upload = io.BytesIO(_csv([_line("OK-1"), _line("BAD-2", "火星省", "火星市", "")]))
    upload.name = "orders.csv"
    response = client.post("/console/orders/import/", {"file": upload})
    html = response.content.decode()
    assert response.status_code == 400
    assert '<td>3</td><td data-field="receiver.province">省</td>' in html
    assert "不是行政区划中的省份" in html
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_the_import_api_refuses_an_unknown_province(shop_a):
    upload = io.BytesIO(_csv([_line("BAD-1", "火星省", "火星市", "")]))
    upload.name = "orders.csv"
    answer = token_client(shop_a, language="en").post(
        "/api/v1/orders/import/", {"file": upload}, format="multipart"
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "IMPORT_INVALID"
    assert body["detail"]["lines"] == [
        {
            "line": 2,
            "field": "receiver.province",
            "label": "省",
            "message": "Not a province in the administrative-division list.",
        }
    ]
    assert Order.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("place", "field", "_label"), UNKNOWN)
def test_the_order_api_refuses_an_unknown_place(shop_a, place, field, _label):
    answer = token_client(shop_a).post(
        "/api/v1/orders/",
        {
            "order_no": "API-1",
            "items": [{"sku": "S1", "product_name": "杯", "quantity": 1, "unit_price": "1.00"}],
            "receiver": _receiver(*place),
        },
        format="json",
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "VALIDATION_ERROR"
    assert list(answer.json()["detail"]) == [field]
    assert Order.objects.count() == 0
