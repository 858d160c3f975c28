"""违规记录: recycled numbers that later showed tracking, on the console page and through
``GET /api/v1/violations/``: names (not codes), recycle and tracking times, the count
deducted again, date and carrier filters, pagination, and another shop's rows never shown."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from shops import services as shop_services
from tests.conftest import main_actor, make_order, token_client
from tests.waybills.conftest import branch_actor, open_service
from waybills import services
from waybills.models import Violation, Waybill

pytestmark = pytest.mark.django_db

PAGE = "/console/waybills/violations/"
API = "/api/v1/violations/"
T0 = timezone.make_aware(timezone.datetime(2026, 11, 1, 9, 0))


def violate(shop, sub, *, day: int = 17) -> Waybill:
    """Draw at T0, cancel, recycle after 16 days, then tracking on ``day``: a violation."""
    order = make_order(shop)
    waybill = services.waybill_allocate(
        actor=main_actor(shop), order=order, subscription=sub, now=T0
    ).parent
    services.waybill_cancel(actor=main_actor(shop), waybill=waybill, now=T0)
    services.waybills_recycle(as_of=T0 + timedelta(days=16))
    at = T0 + timedelta(days=day)
    services.tracking_record(
        actor=branch_actor(sub),
        waybill_no=waybill.waybill_no,
        occurred_at=at,
        now=at,
        status="in_transit",
    )
    return Waybill.objects.get(pk=waybill.pk)


@pytest.fixture
def merchant(client, shop_a):
    client.force_login(shop_a.memberships.get().user)
    return client


def test_page_lists_the_shops_violations_with_names_times_and_the_count(merchant, shop_a, shop_b):
    sub = open_service(shop_a, balance=10)
    mine = violate(shop_a, sub)
    theirs = violate(shop_b, open_service(shop_b, balance=10))

    response = merchant.get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    assert "违规记录" in html
    assert f'data-testid="violation-{mine.waybill_no}"' in html
    assert theirs.waybill_no not in html
    row = html.split(f'data-testid="violation-{mine.waybill_no}"')[1].split("</tr>")[0]
    assert sub.carrier.name in row and sub.branch.name in row
    assert f">{sub.branch.code}<" not in row  # names, not codes
    local = timezone.localtime
    assert local(T0 + timedelta(days=16)).strftime("%Y-%m-%d %H:%M") in row  # recycled
    assert local(T0 + timedelta(days=17)).strftime("%Y-%m-%d %H:%M") in row  # tracking
    assert '<td data-testid="violation-deducted">1</td>' in row
    # the menu entry under the waybill menu
    assert 'data-testid="nav-violations"' in html


def test_an_owed_rededuction_shows_zero_and_owed(merchant, shop_a):
    sub = open_service(shop_a, balance=1)
    order = make_order(shop_a)
    waybill = services.waybill_allocate(
        actor=main_actor(shop_a), order=order, subscription=sub, now=T0
    ).parent
    services.waybill_cancel(actor=main_actor(shop_a), waybill=waybill, now=T0)
    services.waybills_recycle(as_of=T0 + timedelta(days=16))
    services.waybill_allocate(
        actor=main_actor(shop_a), order=make_order(shop_a), subscription=sub, now=T0
    )  # spends the returned number: the re-deduction is owed
    services.tracking_record(
        actor=branch_actor(sub),
        waybill_no=waybill.waybill_no,
        occurred_at=T0 + timedelta(days=17),
        now=T0 + timedelta(days=17),
        status="picked_up",
    )
    html = merchant.get(PAGE).content.decode()
    row = html.split(f'data-testid="violation-{waybill.waybill_no}"')[1].split("</tr>")[0]
    assert "0 <span" in row and "待扣" in row
    body = token_client(shop_a).get(API).json()
    assert [(r["waybill_no"], r["deducted"], r["deducted_at"]) for r in body["results"]] == [
        (waybill.waybill_no, 0, None)
    ]


def test_page_filters_by_detection_day_and_carrier(merchant, shop_a):
    zto = open_service(shop_a, "ZTO", balance=10)
    yto = open_service(shop_a, "YTO", balance=10, detail="文一西路 2 号")
    early = violate(shop_a, zto, day=17)
    late = violate(shop_a, yto, day=20)
    day = (T0 + timedelta(days=20)).date().isoformat()

    by_day = merchant.get(PAGE, {"from": day, "to": day}).content.decode()
    assert late.waybill_no in by_day and early.waybill_no not in by_day
    by_carrier = merchant.get(PAGE, {"carrier": "ZTO"}).content.decode()
    assert early.waybill_no in by_carrier and late.waybill_no not in by_carrier
    api = token_client(shop_a)
    assert [r["waybill_no"] for r in api.get(API, {"carrier": "YTO"}).json()["results"]] == [
        late.waybill_no
    ]
    body = api.get(API, {"from": day}).json()
    assert body["count"] == 1 and body["results"][0]["waybill_no"] == late.waybill_no


def test_a_bad_date_range_is_shown_next_to_the_field_and_lists_nothing(merchant, shop_a):
    violate(shop_a, open_service(shop_a, balance=10))
    response = merchant.get(PAGE, {"from": "2026-11-20", "to": "2026-11-01"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-error-code="VALIDATION_ERROR"' in html
    assert 'data-testid="violation-table"' not in html
    api = token_client(shop_a).get(API, {"from": "2026-11-20", "to": "2026-11-01"})
    assert api.status_code == 400 and api.json()["code"] == "VALIDATION_ERROR"


def test_the_page_paginates(merchant, shop_a):
    from waybills.views import common

    sub = open_service(shop_a, balance=10)
    made = [violate(shop_a, sub) for _ in range(3)]
    original = common.PAGE_SIZE
    common.PAGE_SIZE = 2
    try:
        first = merchant.get(PAGE).content.decode()
        second = merchant.get(PAGE, {"page": 2}).content.decode()
    finally:
        common.PAGE_SIZE = original
    on_first = [w.waybill_no for w in made if f"violation-{w.waybill_no}" in first]
    on_second = [w.waybill_no for w in made if f"violation-{w.waybill_no}" in second]
    assert len(on_first) == 2 and len(on_second) == 1
    assert set(on_first) | set(on_second) == {w.waybill_no for w in made}


def test_api_lists_the_shops_violations_paginated_as_a_named_component(shop_a, shop_b):
    sub = open_service(shop_a, balance=10)
    mine = violate(shop_a, sub)
    violate(shop_b, open_service(shop_b, balance=10))

    body = token_client(shop_a).get(API).json()

    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 1
    row = body["results"][0]
    v = Violation.objects.get(waybill=mine)
    assert row == {
        "id": v.pk,
        "waybill_no": mine.waybill_no,
        "subscription": sub.pk,
        "carrier": "ZTO",
        "carrier_name": sub.carrier.name,
        "branch_name": sub.branch.name,
        "recycled_at": timezone.localtime(mine.recycled_at).isoformat(),
        "tracked_at": timezone.localtime(mine.first_tracked_at).isoformat(),
        "detected_at": timezone.localtime(v.detected_at).isoformat(),
        "deducted": 1,
        "deducted_at": timezone.localtime(v.deducted_at).isoformat(),
        "note": v.note,
    }


def test_the_page_and_the_api_have_the_scope_of_usage_details(client, shop_a):
    """Whoever may read usage details (any member or token of the shop, no named
    permission) reads violations; nobody else does."""
    sub = open_service(shop_a, balance=10)
    mine = violate(shop_a, sub)
    clerk = shop_services.sub_account_create(
        actor=main_actor(shop_a), username="clerk-v", password="pass-12345", permissions=[]
    )
    client.force_login(clerk.user)
    assert client.get("/console/waybills/").status_code == 200
    html = client.get(PAGE).content.decode()
    assert mine.waybill_no in html
    assert [
        r["waybill_no"] for r in token_client(shop_a, scopes=[]).get(API).json()["results"]
    ] == [mine.waybill_no]
    client.logout()
    anonymous = client.get(PAGE)
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    assert token_client(None, branch=sub.branch).get(API).status_code == 403
