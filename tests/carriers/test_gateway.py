"""The built-in gateway: screening codes from branch coverage, numbers, faults."""

import pytest

from carriers.catalog import number_matches
from carriers.demo import demo_branches_create
from carriers.gateways import Receiver, gateway_for
from carriers.gateways.builtin import FORMATS, check_digit, number_is_valid
from carriers.models import Branch, Carrier, Subscription
from tests.conftest import ensure_carrier_catalog, make_shop
from waybill_console.errors import AppError

pytestmark = pytest.mark.django_db

HANGZHOU = Receiver("浙江省", "杭州市", "西湖区", "文三路 90 号")


@pytest.fixture
def sub(db):
    ensure_carrier_catalog()
    demo_branches_create()
    shop = make_shop()
    from shops.services import address_create
    from tests.conftest import main_actor

    address = address_create(
        actor=main_actor(shop),
        data={
            "contact_name": "王",
            "phone": "13800001111",
            "province": "浙江省",
            "city": "杭州市",
            "district": "余杭区",
            "detail": "1 号",
        },
    )
    branch = Branch.objects.get(carrier__code="ZTO", code="331001")
    return Subscription.objects.create(
        shop=shop,
        carrier=branch.carrier,
        branch=branch,
        address=address,
        contact_name="王",
        contact_phone="1",
        agreed_at="2026-11-01T00:00:00Z",
        status="active",
    )


def test_screening_returns_sort_code_package_centre_and_short_address(sub):
    result = gateway_for("ZTO").screen(subscription=sub, receiver=HANGZHOU)
    assert result.region_code == "330106"
    assert result.package_center_name == "浙江转运中心"
    assert result.short_address_name == "杭州 西湖区"
    assert result.sort_code.startswith("3301-06-")


@pytest.mark.parametrize(
    ("receiver", "code"),
    [
        (Receiver("火星省", "", "", "1 号"), "ADDRESS_UNPARSEABLE"),
        (Receiver("浙江省", "杭州市", "西湖区", ""), "ADDRESS_UNPARSEABLE"),
        (Receiver("西藏自治区", "拉萨市", "城关区", "北京中路 1 号"), "SCREEN_PARTIAL_DELIVERY"),
        (Receiver("新疆维吾尔自治区", "乌鲁木齐市", "天山区", "1 号"), "SCREEN_NOT_FULL_TERRITORY"),
        (Receiver("台湾省", "台北市", "", "1 号"), "OUT_OF_RANGE"),
    ],
)
def test_screening_refusals(sub, receiver, code):
    with pytest.raises(AppError) as refused:
        gateway_for("ZTO").screen(subscription=sub, receiver=receiver)
    assert refused.value.code == code


def test_screening_no_attribute_when_coverage_is_missing(sub):
    sub.branch.coverage.all().delete()
    with pytest.raises(AppError) as refused:
        gateway_for("ZTO").screen(subscription=sub, receiver=HANGZHOU)
    assert refused.value.code == "SCREEN_NO_ATTRIBUTE"


def test_value_added_service_range_and_not_opened(sub):
    qinghai = Receiver("青海省", "西宁市", "城东区", "1 号")
    with pytest.raises(AppError) as refused:
        gateway_for("ZTO").screen(subscription=sub, receiver=qinghai, services=["insured"])
    assert refused.value.code == "SERVICE_OUT_OF_RANGE"
    with pytest.raises(AppError) as refused:
        gateway_for("ZTO").screen(subscription=sub, receiver=HANGZHOU, services=["insured"])
    assert refused.value.code == "SERVICE_NOT_OPENED"
    sub.services = ["insured"]
    assert gateway_for("ZTO").screen(
        subscription=sub, receiver=HANGZHOU, services=["insured"]
    ).services == ["insured"]


def test_issued_numbers_match_the_carrier_format_and_check_digit(sub):
    numbers = gateway_for("ZTO").issue(_ask(sub, "FORMAT-1", count=5)).numbers
    assert len(set(numbers)) == 5
    pattern = Carrier.objects.get(code="ZTO").number_pattern
    for number in numbers:
        assert number_matches(pattern, number) and number_is_valid("ZTO", number)
    wrong = numbers[0][:-1] + str((int(numbers[0][-1]) + 1) % 10)
    assert not number_is_valid("ZTO", wrong)


def _ask(sub, carrier_order_id: str, count: int = 1):
    from carriers.gateways.base import IssueRequest

    return IssueRequest(carrier_order_id, sub, {}, HANGZHOU, package_count=count)


@pytest.mark.parametrize("code", sorted(FORMATS))
def test_every_carrier_format_matches_its_catalog_pattern(db, code):
    ensure_carrier_catalog()
    prefix, length = FORMATS[code]
    body = "1" * (length - 1)
    number = f"{prefix}{body}{check_digit(body)}"
    assert number_matches(Carrier.objects.get(code=code).number_pattern, number)


@pytest.mark.parametrize(
    ("fault", "code", "status"),
    [
        ("rate_limit", "RATE_LIMITED", 429),
        ("timeout", "ALLOCATION_TIMEOUT", 504),
        ("failure", "ALLOCATION_FAILED", 503),
        ("mismatch", "BRANCH_CUSTOMER_MISMATCH", 422),
        ("monthly_account_invalid", "MONTHLY_ACCOUNT_INVALID", 422),
    ],
)
def test_branch_fault_switches(sub, fault, code, status):
    Branch.objects.filter(pk=sub.branch_id).update(fault=fault)
    sub.branch.refresh_from_db()
    for call in (
        lambda g: g.screen(subscription=sub, receiver=HANGZHOU),
        lambda g: g.issue(_ask(sub, "FAULT-1")),
        lambda g: g.cancel(subscription=sub, waybill_no="73100000000001"),
    ):
        with pytest.raises(AppError) as refused:
            call(gateway_for("ZTO"))
        assert (refused.value.code, refused.value.status) == (code, status)
