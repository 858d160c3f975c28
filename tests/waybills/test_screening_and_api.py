"""Screening codes and gateway faults through allocation; the allocation API contract."""

import pytest

from carriers.models import Branch, BranchCoverage, Subscription
from tests.conftest import main_actor, make_order, token_client
from tests.waybills.conftest import open_service
from waybill_console.errors import AppError
from waybills import services
from waybills.models import AllocationException, Waybill

pytestmark = pytest.mark.django_db


def _receiver(province, city, district="", detail="人民路 1 号"):
    return {
        "name": "张三",
        "phone": "13812345678",
        "province": province,
        "city": city,
        "district": district,
        "detail": detail,
    }


@pytest.mark.parametrize(
    ("receiver", "code", "status"),
    [
        (_receiver("西藏自治区", "拉萨市", "城关区"), "SCREEN_PARTIAL_DELIVERY", 422),
        (_receiver("新疆维吾尔自治区", "乌鲁木齐市", "天山区"), "SCREEN_NOT_FULL_TERRITORY", 422),
    ],
)
def test_screening_refusals_leave_nothing_drawn_and_an_exception(shop_a, receiver, code, status):
    sub = open_service(shop_a, balance=5)
    order = make_order(shop_a, receiver=receiver)
    response = token_client(shop_a).post(
        "/api/v1/waybills/", {"order": order.pk, "subscription": sub.pk}, format="json"
    )
    assert response.status_code == status and response.json()["code"] == code
    assert not Waybill.objects.exists()
    assert Subscription.objects.get(pk=sub.pk).balance == 5
    assert AllocationException.objects.get(order=order).code == code


def test_no_attribute_and_out_of_range(shop_a):
    sub = open_service(shop_a, balance=5)
    actor = main_actor(shop_a)
    BranchCoverage.objects.filter(branch=sub.branch, region_code="000000").delete()
    with pytest.raises(AppError) as refused:
        services.waybill_allocate(actor=actor, order=make_order(shop_a), subscription=sub)
    assert refused.value.code == "SCREEN_NO_ATTRIBUTE"
    BranchCoverage.objects.create(branch=sub.branch, region_code="000000", attribute="none")
    with pytest.raises(AppError) as refused:
        services.waybill_allocate(actor=actor, order=make_order(shop_a), subscription=sub)
    assert refused.value.code == "OUT_OF_RANGE"
    assert Subscription.objects.get(pk=sub.pk).balance == 5


def test_value_added_service_not_opened_is_8057(shop_a):
    sub = open_service(shop_a, balance=5)
    with pytest.raises(AppError) as refused:
        services.waybill_allocate(
            actor=main_actor(shop_a),
            order=make_order(shop_a),
            subscription=sub,
            services=["insured"],
        )
    assert refused.value.code == "SERVICE_NOT_OPENED"
    qinghai = make_order(shop_a, receiver=_receiver("青海省", "西宁市", "城东区"))
    Subscription.objects.filter(pk=sub.pk).update(services=["insured"])
    insured = services.waybill_allocate(
        actor=main_actor(shop_a), order=make_order(shop_a), subscription=sub, services=["insured"]
    )
    assert insured.parent.services == ["insured"]
    with pytest.raises(AppError) as refused:
        services.waybill_allocate(
            actor=main_actor(shop_a), order=qinghai, subscription=sub, services=["insured"]
        )
    assert refused.value.code == "SERVICE_OUT_OF_RANGE"


@pytest.mark.parametrize(
    ("fault", "code", "status"),
    [
        ("rate_limit", "RATE_LIMITED", 429),
        ("timeout", "ALLOCATION_TIMEOUT", 504),
        ("failure", "ALLOCATION_FAILED", 503),
        ("mismatch", "BRANCH_CUSTOMER_MISMATCH", 422),
    ],
)
def test_gateway_faults_have_stable_codes(shop_a, fault, code, status):
    sub = open_service(shop_a, balance=5)
    Branch.objects.filter(pk=sub.branch_id).update(fault=fault)
    order = make_order(shop_a)
    response = token_client(shop_a).post(
        "/api/v1/waybills/", {"order": order.pk, "subscription": sub.pk}, format="json"
    )
    assert response.json()["code"] == code
    assert response.status_code == status
    assert AllocationException.objects.get(order=order).code == code
    assert Subscription.objects.get(pk=sub.pk).balance == 5


def test_allocation_api_answers_the_contract_fields(shop_a):
    sub = open_service(shop_a, balance=5)
    order = make_order(shop_a)
    api = token_client(shop_a)
    response = api.post("/api/v1/waybills/", {"order": order.pk, "carrier": "ZTO"}, format="json")
    assert response.status_code == 201
    body = response.json()
    for field in (
        "waybill_no",
        "sort_code",
        "package_center",
        "short_address",
        "carrier",
        "subscription",
        "status",
        "print_data",
    ):
        assert field in body
    assert body["carrier"] == "ZTO" and body["subscription"] == sub.pk
    assert body["status"] == "allocated"
    assert body["package_center"] == {"code": "330", "name": "浙江转运中心"}
    assert body["print_data"]["receiver"]["name"] == "张*"
    assert "文三路" not in response.content.decode()
    again = api.post("/api/v1/waybills/", {"order": order.pk, "carrier": "ZTO"}, format="json")
    assert again.status_code == 200 and again.json()["waybill_no"] == body["waybill_no"]
    detail = api.get(f"/api/v1/waybills/{body['waybill_no']}/")
    assert detail.status_code == 200 and detail.json()["order_no"] == order.order_no


def test_allocation_refused_for_unpaid_and_after_sale_orders(shop_a):
    sub = open_service(shop_a, balance=5)
    actor = main_actor(shop_a)
    unpaid = make_order(shop_a, status="unpaid")
    with pytest.raises(AppError) as refused:
        services.waybill_allocate(actor=actor, order=unpaid, subscription=sub)
    assert refused.value.code == "ORDER_NOT_ALLOCATABLE"
    from shops.services import order_start_after_sale

    order = order_start_after_sale(actor=actor, order=make_order(shop_a), reason="退款")
    with pytest.raises(AppError) as refused:
        services.waybill_allocate(actor=actor, order=order, subscription=sub)
    assert refused.value.code == "ORDER_BLOCKED"
    assert Subscription.objects.get(pk=sub.pk).balance == 5


def test_allocation_input_errors_name_the_field(shop_a):
    open_service(shop_a, balance=5)
    api = token_client(shop_a)
    response = api.post("/api/v1/waybills/", {"carrier": "ZTO"}, format="json")
    assert response.status_code == 400 and "order" in response.json()["detail"]
    order = make_order(shop_a)
    response = api.post("/api/v1/waybills/", {"order": order.pk}, format="json")
    assert response.status_code == 400 and "subscription" in response.json()["detail"]
    response = api.post(
        "/api/v1/waybills/",
        {"order": order.pk, "carrier": "ZTO", "package_count": 0},
        format="json",
    )
    assert response.status_code == 400 and "package_count" in response.json()["detail"]
    assert not Waybill.objects.exists()


def test_another_shops_order_is_404(shop_a, shop_b):
    open_service(shop_a, balance=5)
    order = make_order(shop_b)
    response = token_client(shop_a).post(
        "/api/v1/waybills/", {"order": order.pk, "carrier": "ZTO"}, format="json"
    )
    assert response.status_code == 404


def test_screen_endpoint(shop_a):
    sub = open_service(shop_a, balance=5)
    api = token_client(shop_a)
    ok = api.post(
        "/api/v1/waybills/screen/",
        {"subscription": sub.pk, "receiver": _receiver("浙江省", "杭州市", "西湖区")},
        format="json",
    )
    assert ok.status_code == 200 and ok.json()["ok"] and ok.json()["sort_code"]
    bad = api.post(
        "/api/v1/waybills/screen/",
        {"subscription": sub.pk, "receiver": _receiver("火星省", "某市", "", "无")},
        format="json",
    )
    assert bad.status_code == 422 and bad.json()["code"] == "ADDRESS_UNPARSEABLE"


def test_exception_retry_after_recharge(shop_a):
    sub = open_service(shop_a, balance=0)
    orders = [make_order(shop_a) for _ in range(3)]
    for order in orders:
        with pytest.raises(AppError):
            services.waybill_allocate(actor=main_actor(shop_a), order=order, subscription=sub)
    api = token_client(shop_a)
    listed = api.get("/api/v1/waybill-exceptions/").json()
    assert listed["count"] == 3 and listed["results"][0]["code"] == "QUOTA_INSUFFICIENT"
    from carriers.services import subscription_recharge
    from tests.waybills.conftest import branch_actor

    subscription_recharge(actor=branch_actor(sub), subscription=sub, count=2)
    one = api.post(f"/api/v1/waybill-exceptions/{listed['results'][0]['id']}/retry/").json()
    assert one["ok"] and one["waybill_no"]
    rest = api.post("/api/v1/waybill-exceptions/retry-all/").json()["results"]
    assert [r["ok"] for r in rest] == [True, False]
    assert api.get("/api/v1/waybill-exceptions/").json()["count"] == 1
    assert AllocationException.objects.get(resolved_at=None).attempts == 2


def test_usage_details_filters(shop_a):
    sub = open_service(shop_a, balance=10)
    orders = [make_order(shop_a) for _ in range(3)]
    services.waybill_allocate_many(actor=main_actor(shop_a), orders=orders, subscription=sub)
    first = Waybill.objects.order_by("pk").first()
    services.waybill_cancel(actor=main_actor(shop_a), waybill=first)
    api = token_client(shop_a)
    assert api.get("/api/v1/waybills/?days=7").json()["count"] == 3
    cancelled = api.get("/api/v1/waybills/?status=cancelled").json()
    assert [r["waybill_no"] for r in cancelled["results"]] == [first.waybill_no]
    by_order = api.get(f"/api/v1/waybills/?order={orders[1].order_no}").json()
    assert by_order["count"] == 1 and by_order["results"][0]["order"] == orders[1].pk
    assert api.get(f"/api/v1/waybills/?branch={sub.branch.code}&carrier=ZTO").json()["count"] == 3
    assert api.get("/api/v1/waybills/?carrier=SF").json()["count"] == 0
    bad = api.get("/api/v1/waybills/?from=yesterday&status=lost")
    assert bad.status_code == 400 and set(bad.json()["detail"]) == {"from", "status"}
    daily = api.get(f"/api/v1/waybills/usage/daily/?subscription={sub.pk}").json()
    assert len(daily["days"]) == 7
    assert daily["days"][-1]["allocated"] == 3 and daily["days"][-1]["cancelled"] == 1


def test_a_number_two_carriers_issued_needs_the_carrier(shop_a):
    zto = open_service(shop_a, balance=5)
    yto = open_service(shop_a, "YTO", balance=5, detail="文一西路 2 号")
    first = services.waybill_allocate(
        actor=main_actor(shop_a), order=make_order(shop_a), subscription=zto
    ).parent
    second = services.waybill_allocate(
        actor=main_actor(shop_a), order=make_order(shop_a), subscription=yto
    ).parent
    Waybill.objects.filter(pk=second.pk).update(waybill_no=first.waybill_no)
    api = token_client(shop_a)
    ambiguous = api.get(f"/api/v1/waybills/{first.waybill_no}/")
    assert ambiguous.status_code == 400 and "carrier" in ambiguous.json()["detail"]
    named = api.get(f"/api/v1/waybills/{first.waybill_no}/?carrier=YTO")
    assert named.status_code == 200 and named.json()["carrier"] == "YTO"
