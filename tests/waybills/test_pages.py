"""Waybill pages with the Django test client: usage details (使用详情) with its chart and
statements, allocation exceptions (面单异常), batch allocation from the order list and the
waybill block of the order detail page."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from carriers import services as carrier_services
from carriers.errors import QuotaInsufficient
from carriers.models import Subscription
from shops.models import Order
from tests.conftest import main_actor, make_order
from tests.waybills.conftest import branch_actor, open_service
from waybill_console.jobs import job_run
from waybill_console.models import Job
from waybills import services
from waybills.models import AllocationException, Waybill

pytestmark = pytest.mark.django_db

USAGE = "/console/waybills/"
EXCEPTIONS = "/console/waybills/exceptions/"


@pytest.fixture
def merchant(client, shop_a):
    client.force_login(shop_a.memberships.get().user)
    return client


def allocate(shop, sub, n=1):
    orders = [make_order(shop) for _ in range(n)]
    return [
        services.waybill_allocate(actor=main_actor(shop), order=o, subscription=sub.pk).parent
        for o in orders
    ]


def text(response) -> str:
    return response.content.decode()


# --- usage details ----------------------------------------------------------------------------


def test_usage_page_lists_the_shops_numbers_with_chart_and_counters(merchant, shop_a, shop_b):
    sub = open_service(shop_a, balance=100)
    mine = allocate(shop_a, sub, 3)
    services.waybill_cancel(actor=main_actor(shop_a), waybill=mine[0])
    other = allocate(shop_b, open_service(shop_b, balance=10), 1)[0]

    response = merchant.get(USAGE)

    assert response.status_code == 200
    html = text(response)
    assert "使用详情" in html
    for w in mine:
        assert f'data-testid="waybill-{w.waybill_no}"' in html
    assert other.waybill_no not in html
    # receivers are masked; the full phone number never reaches the page
    assert "138****5678" in html and "13812345678" not in html
    # one card for the shop's service: counters, the cap and the 7-day SVG chart
    assert f'data-testid="usage-card-{sub.pk}"' in html
    assert re.search(r'data-testid="usage-balance">97<', html)
    assert re.search(r'data-testid="usage-allocated">3<', html)
    assert re.search(r'data-testid="usage-cancelled">1<', html)
    assert "还可取消 2 单" in html
    today = timezone.localdate().isoformat()
    assert f'data-day="{today}" data-allocated="3" data-cancelled="1" data-recycled="0"' in html
    assert html.count('class="chart-day"') == 7
    assert "<svg" in html and 'class="bar bar-allocated"' in html
    # the cancelled number has no cancel button; the two live ones do
    assert html.count('data-testid="cancel-waybill"') == 2


def test_usage_filters_by_status_order_and_waybill_number(merchant, shop_a):
    sub = open_service(shop_a, balance=100)
    a, b, c = allocate(shop_a, sub, 3)
    services.waybill_cancel(actor=main_actor(shop_a), waybill=b)

    cancelled = text(merchant.get(USAGE, {"status": "cancelled"}))
    assert b.waybill_no in cancelled
    assert a.waybill_no not in cancelled and c.waybill_no not in cancelled

    by_no = text(merchant.get(USAGE, {"waybill_no": c.waybill_no.lower()}))
    assert c.waybill_no in by_no and a.waybill_no not in by_no

    by_order = text(merchant.get(USAGE, {"order": a.order.order_no}))
    assert f'data-testid="waybill-{a.waybill_no}"' in by_order
    assert b.waybill_no not in by_order

    by_carrier = text(merchant.get(USAGE, {"carrier": "SF"}))
    assert 'data-testid="waybill-' not in by_carrier


def test_usage_date_window_leaves_out_older_numbers(merchant, shop_a):
    sub = open_service(shop_a, balance=100)
    old = allocate(shop_a, sub, 1)[0]
    Waybill.objects.filter(pk=old.pk).update(
        allocated_at=timezone.now() - timezone.timedelta(days=10)
    )
    new = allocate(shop_a, sub, 1)[0]

    week = text(merchant.get(USAGE, {"days": "7"}))
    assert new.waybill_no in week and old.waybill_no not in week

    month = text(merchant.get(USAGE, {"days": "30"}))
    assert new.waybill_no in month and old.waybill_no in month

    day = (timezone.localdate() - timezone.timedelta(days=10)).isoformat()
    ranged = text(merchant.get(USAGE, {"from": day, "to": day}))
    assert old.waybill_no in ranged and new.waybill_no not in ranged


def test_bad_filter_values_are_shown_next_to_their_fields(merchant, shop_a):
    open_service(shop_a, balance=10)

    response = merchant.get(USAGE, {"days": "abc", "from": "2026-13-40", "status": "lost"})

    assert response.status_code == 400
    html = text(response)
    assert 'data-error-code="VALIDATION_ERROR"' in html
    days = re.search(r'data-testid="field-error-days">([^<]*)<', html)
    assert days and days.group(1) == "请填写整数。"
    start = re.search(r'data-testid="field-error-from">([^<]*)<', html)
    assert start and start.group(1) == "请填写 2000-01-01 至 2099-12-31 之间的日期，如 2026-11-23。"
    assert 'data-testid="field-error-status"' in html
    # what was typed stays in the form, and no list is shown for a bad query
    assert 'value="abc"' in html
    assert 'data-testid="usage-table"' not in html


def test_end_before_start_is_named_on_the_end_date(merchant, shop_a):
    response = merchant.get(USAGE, {"from": "2026-11-20", "to": "2026-11-10"})
    assert response.status_code == 400
    assert re.search(r'data-testid="field-error-to">[^<]+<', text(response))


def test_another_shops_subscription_is_a_field_error(merchant, shop_a, shop_b):
    theirs = open_service(shop_b, balance=10)
    response = merchant.get(USAGE, {"subscription": theirs.pk})
    assert response.status_code == 400
    assert 'data-testid="field-error-subscription"' in text(response)
    assert f'data-testid="usage-card-{theirs.pk}"' not in text(response)


def test_subscription_filter_shows_only_that_services_chart(merchant, shop_a):
    zto = open_service(shop_a, "ZTO", balance=50)
    yto = open_service(shop_a, "YTO", balance=50, detail="文一西路 2 号")
    z = allocate(shop_a, zto, 2)
    y = allocate(shop_a, yto, 1)

    html = text(merchant.get(USAGE, {"subscription": zto.pk, "days": 7}))

    assert f'data-testid="usage-card-{zto.pk}"' in html
    assert f'data-testid="usage-card-{yto.pk}"' not in html
    assert all(w.waybill_no in html for w in z) and y[0].waybill_no not in html
    both = text(merchant.get(USAGE))
    assert f'data-testid="usage-card-{zto.pk}"' in both
    assert f'data-testid="usage-card-{yto.pk}"' in both


def test_subscription_page_links_to_its_usage_for_seven_days(merchant, shop_a):
    sub = open_service(shop_a, balance=10)
    html = text(merchant.get("/console/waybill-service/"))
    assert f"/console/waybills/?subscription={sub.pk}&amp;days=7" in html
    assert "使用详情（近7天）" in html


def test_nav_has_usage_details_and_exceptions(merchant, shop_a):
    html = text(merchant.get("/console/"))
    assert 'href="/console/waybills/"' in html and "使用详情" in html
    assert 'href="/console/waybills/exceptions/"' in html and "面单异常" in html


# --- cancel -----------------------------------------------------------------------------------


def test_cancel_from_the_usage_page_goes_back_with_a_message(merchant, shop_a):
    sub = open_service(shop_a, balance=10)
    w = allocate(shop_a, sub, 1)[0]
    back = f"{USAGE}?status=allocated"

    response = merchant.post(f"/console/waybills/{w.waybill_no}/cancel/", {"next": back})

    assert response.status_code == 302 and response["Location"] == back
    w.refresh_from_db()
    assert w.status == "cancelled"
    assert Subscription.objects.get(pk=sub.pk).cancelled_total == 1
    page = text(merchant.get(back))
    assert f"面单 {w.waybill_no} 已取消" in page


def test_cancel_with_htmx_redirects_and_refusal_is_shown_in_place(merchant, shop_a):
    sub = open_service(shop_a, balance=10)
    w = allocate(shop_a, sub, 1)[0]
    url = f"/console/waybills/{w.waybill_no}/cancel/"

    ok = merchant.post(url, {"next": USAGE}, HTTP_HX_REQUEST="true")
    assert ok.status_code == 204 and ok["HX-Redirect"] == USAGE

    again = merchant.post(url, {"next": USAGE}, HTTP_HX_REQUEST="true")
    assert again.status_code == 409
    assert 'data-error-code="WAYBILL_NOT_CANCELLABLE"' in text(again)
    assert Subscription.objects.get(pk=sub.pk).cancelled_total == 1


def test_cancel_never_redirects_off_site(merchant, shop_a):
    w = allocate(shop_a, open_service(shop_a, balance=10), 1)[0]
    response = merchant.post(
        f"/console/waybills/{w.waybill_no}/cancel/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == USAGE


def test_cancelling_another_shops_waybill_is_404_and_changes_nothing(merchant, shop_a, shop_b):
    theirs = allocate(shop_b, open_service(shop_b, balance=10), 1)[0]

    response = merchant.post(f"/console/waybills/{theirs.waybill_no}/cancel/")

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "allocated" and theirs.cancelled_at is None
    assert Subscription.objects.get(pk=theirs.subscription_id).cancelled_total == 0


def test_cancel_needs_a_post(merchant, shop_a):
    w = allocate(shop_a, open_service(shop_a, balance=10), 1)[0]
    assert merchant.get(f"/console/waybills/{w.waybill_no}/cancel/").status_code == 405


# --- reconciliation statements ------------------------------------------------------------------


def test_statement_form_starts_a_job_with_the_filters_and_opens_the_job_page(merchant, shop_a):
    sub = open_service(shop_a, balance=10)

    response = merchant.post(
        "/console/waybills/reconciliation/",
        {"subscription": sub.pk, "days": "7", "status": "allocated", "format": "xlsx"},
    )

    job = Job.objects.get(kind="reconciliation")
    assert response.status_code == 302
    assert response["Location"] == f"/console/jobs/{job.pk}/"
    assert job.shop_id == shop_a.pk
    assert job.params == {
        "filters": {"days": 7, "subscription": sub.pk, "status": "allocated"},
        "format": "xlsx",
    }
    assert merchant.get(response["Location"]).status_code == 200


def test_statement_with_a_bad_format_is_refused_with_a_message(merchant, shop_a):
    response = merchant.post("/console/waybills/reconciliation/", {"days": "7", "format": "pdf"})
    assert response.status_code == 302 and response["Location"].startswith(USAGE)
    assert not Job.objects.exists()
    assert "format" in text(merchant.get(response["Location"]))


def test_usage_page_has_the_statement_form_with_the_filters(merchant, shop_a):
    sub = open_service(shop_a, balance=10)
    html = text(merchant.get(USAGE, {"subscription": sub.pk, "status": "cancelled"}))
    form = html[html.index('data-testid="statement-form"') :]
    form = form[: form.index("</form>")]
    assert f'name="subscription" value="{sub.pk}"' in form
    assert 'name="status" value="cancelled"' in form
    assert "生成对账单" in form


# --- allocation exceptions --------------------------------------------------------------------


def test_exceptions_page_lists_open_records_and_retry_resolves_one(merchant, shop_a):
    sub = open_service(shop_a, balance=0)
    order = make_order(shop_a, "EXC-1")
    with pytest.raises(QuotaInsufficient):  # recorded as the order's exception
        services.waybill_allocate(actor=main_actor(shop_a), order=order, subscription=sub.pk)
    row = AllocationException.objects.get()

    html = text(merchant.get(EXCEPTIONS))
    assert "面单异常" in html
    assert f'data-testid="exception-{row.pk}"' in html
    assert "EXC-1" in html and "QUOTA_INSUFFICIENT" in html

    # still no balance: the retry fails, the record stays open with one more attempt
    failed = merchant.post(f"{EXCEPTIONS}{row.pk}/retry/")
    assert failed.status_code == 302
    row.refresh_from_db()
    assert row.resolved_at is None and row.attempts == 2

    carrier_services.subscription_recharge(actor=branch_actor(sub), subscription=sub, count=5)
    merchant.post(f"{EXCEPTIONS}{row.pk}/retry/")
    row.refresh_from_db()
    assert row.resolved_at is not None
    waybill = Waybill.objects.get(order=order)
    page = text(merchant.get(EXCEPTIONS))
    assert f"订单 EXC-1 已取号：{waybill.waybill_no}" in page
    assert f'data-testid="exception-{row.pk}"' not in page
    assert f'data-testid="exception-{row.pk}"' in text(merchant.get(EXCEPTIONS, {"all": "1"}))


def test_retry_all_reports_how_many_got_numbers(merchant, shop_a):
    sub = open_service(shop_a, balance=0)
    orders = [make_order(shop_a) for _ in range(3)]
    for order in orders:
        with pytest.raises(QuotaInsufficient):
            services.waybill_allocate(actor=main_actor(shop_a), order=order, subscription=sub.pk)
    carrier_services.subscription_recharge(actor=branch_actor(sub), subscription=sub, count=2)

    response = merchant.post(f"{EXCEPTIONS}retry-all/")

    assert response.status_code == 302
    assert Waybill.objects.count() == 2
    assert AllocationException.objects.filter(resolved_at=None).count() == 1
    assert "重试 3 单：2 单已取号，1 单仍失败" in text(merchant.get(EXCEPTIONS))


def test_another_shops_exception_cannot_be_retried(merchant, shop_a, shop_b):
    sub = open_service(shop_b, balance=0)
    with pytest.raises(QuotaInsufficient):
        services.waybill_allocate(
            actor=main_actor(shop_b), order=make_order(shop_b), subscription=sub.pk
        )
    row = AllocationException.objects.get()
    assert merchant.post(f"{EXCEPTIONS}{row.pk}/retry/").status_code == 404
    assert f"exception-{row.pk}" not in text(merchant.get(EXCEPTIONS))
    row.refresh_from_db()
    assert row.attempts == 1


# --- batch allocation from the order list -----------------------------------------------------


def test_order_list_loads_the_batch_controls_with_the_active_services(merchant, shop_a):
    sub = open_service(shop_a, balance=10)
    html = text(merchant.get("/console/orders/"))
    assert 'hx-get="/console/waybills/batch/controls/"' in html

    controls = text(merchant.get("/console/waybills/batch/controls/"))
    assert f'<option value="{sub.pk}"' in controls
    assert 'formaction="/console/waybills/batch/"' in controls
    assert "批量取号" in controls


def test_batch_allocate_view_creates_a_job_and_returns_to_the_order_list(merchant, shop_a):
    sub = open_service(shop_a, balance=10)
    orders = [make_order(shop_a) for _ in range(3)]

    response = merchant.post(
        "/console/waybills/batch/",
        {"ids": [o.pk for o in orders], "subscription": sub.pk, "status": "paid"},
    )

    job = Job.objects.get()
    assert (job.kind, job.total, job.shop_id) == ("waybill_batch", 3, shop_a.pk)
    assert job.params["orders"] == [o.pk for o in orders]
    assert job.params["subscription"] == sub.pk
    assert response.status_code == 302
    assert response["Location"] == f"/console/orders/?status=paid&batch_job={job.pk}"

    listing = text(merchant.get(response["Location"]))
    assert f'hx-get="/console/waybills/batch/{job.pk}/"' in listing

    running = text(merchant.get(f"/console/waybills/batch/{job.pk}/"))
    assert 'hx-trigger="every 1s"' in running and 'data-status="queued"' in running

    job_run(job_id=job.pk)  # what the worker does
    done = text(merchant.get(f"/console/waybills/batch/{job.pk}/"))
    assert 'data-status="succeeded"' in done and "every 1s" not in done
    assert "3 单已取号，0 单失败" in done
    for number in Waybill.objects.values_list("waybill_no", flat=True):
        assert number in done


def test_batch_results_list_failures_with_their_messages(merchant, shop_a):
    sub = open_service(shop_a, balance=1)
    first, second = make_order(shop_a, "B-1"), make_order(shop_a, "B-2")
    merchant.post(
        "/console/waybills/batch/", {"ids": [first.pk, second.pk], "subscription": sub.pk}
    )
    job = Job.objects.get()
    job_run(job_id=job.pk)

    html = text(merchant.get(f"/console/waybills/batch/{job.pk}/"))

    assert "1 单已取号，1 单失败" in html
    failures = html[html.index('data-testid="batch-failures"') :]
    assert "B-2" in failures and "QUOTA_INSUFFICIENT" in failures
    assert 'href="/console/waybills/exceptions/"' in html


def test_batch_allocate_of_all_matching_orders(merchant, shop_a):
    sub = open_service(shop_a, balance=10)
    make_order(shop_a)
    make_order(shop_a)
    merchant.post("/console/waybills/batch/", {"all_matching": "1", "subscription": sub.pk})
    assert Job.objects.get().total == 2


def test_batch_allocate_with_nothing_ticked_is_refused(merchant, shop_a):
    sub = open_service(shop_a, balance=10)
    response = merchant.post("/console/waybills/batch/", {"subscription": sub.pk})
    assert response.status_code == 302 and response["Location"] == "/console/orders/"
    assert not Job.objects.exists()
    assert "请先勾选要取号的订单" in text(merchant.get("/console/orders/"))


def test_batch_allocate_with_another_shops_order_is_refused(merchant, shop_a, shop_b):
    sub = open_service(shop_a, balance=10)
    theirs = make_order(shop_b)
    response = merchant.post(
        "/console/waybills/batch/",
        {"ids": [make_order(shop_a).pk, theirs.pk], "subscription": sub.pk},
    )
    assert response.status_code == 302
    assert not Job.objects.exists()
    assert "orders" in text(merchant.get("/console/orders/"))


def test_another_shops_batch_progress_is_404(merchant, shop_a, shop_b):
    sub = open_service(shop_b, balance=10)
    job = services.waybill_batch_start(
        actor=main_actor(shop_b), order_ids=[make_order(shop_b).pk], subscription=sub.pk
    )
    assert merchant.get(f"/console/waybills/batch/{job.pk}/").status_code == 404


def test_order_list_ignores_a_malformed_batch_job(merchant, shop_a):
    response = merchant.get("/console/orders/", {"batch_job": "x"})
    assert response.status_code == 200
    assert "/console/waybills/batch/x" not in text(response)


# --- the order detail page's waybills ----------------------------------------------------------


def test_order_detail_loads_its_waybills_and_ships_with_one(merchant, shop_a):
    sub = open_service(shop_a, balance=10)
    w = allocate(shop_a, sub, 1)[0]
    order = w.order

    detail = text(merchant.get(f"/console/orders/{order.pk}/"))
    assert f'hx-get="/console/waybills/orders/{order.pk}/"' in detail

    block = text(merchant.get(f"/console/waybills/orders/{order.pk}/"))
    assert f'data-testid="order-waybill-{w.waybill_no}"' in block
    assert 'data-testid="ship-with-waybill"' in block and 'data-testid="cancel-waybill"' in block
    assert "allocate-form" not in block

    response = merchant.post(
        f"/console/waybills/orders/{order.pk}/ship/", {"waybill_no": w.waybill_no}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.tracking_no, order.shipped_by_hand) == (
        "shipped",
        w.waybill_no,
        False,
    )
    assert 'data-testid="ship-with-waybill"' not in text(
        merchant.get(f"/console/waybills/orders/{order.pk}/")
    )


def test_order_detail_allocates_one_number(merchant, shop_a):
    sub = open_service(shop_a, balance=10)
    order = make_order(shop_a)
    block = text(merchant.get(f"/console/waybills/orders/{order.pk}/"))
    assert 'data-testid="allocate-form"' in block

    response = merchant.post(
        f"/console/waybills/orders/{order.pk}/allocate/",
        {"subscription": sub.pk, "package_count": "2"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/console/orders/{order.pk}/"
    assert Waybill.objects.filter(order=order).count() == 2
    assert Order.objects.get(pk=order.pk).has_waybill is True


def test_shipping_with_a_number_of_another_order_is_refused_in_place(merchant, shop_a):
    sub = open_service(shop_a, balance=10)
    a, b = allocate(shop_a, sub, 2)
    response = merchant.post(
        f"/console/waybills/orders/{a.order_id}/ship/",
        {"waybill_no": b.waybill_no},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 409
    assert 'data-error-code="WAYBILL_ORDER_MISMATCH"' in text(response)
    assert Order.objects.get(pk=a.order_id).status == "paid"


def test_another_shops_order_waybills_are_404(merchant, shop_a, shop_b):
    theirs = allocate(shop_b, open_service(shop_b, balance=10), 1)[0]
    assert merchant.get(f"/console/waybills/orders/{theirs.order_id}/").status_code == 404
    response = merchant.post(
        f"/console/waybills/orders/{theirs.order_id}/ship/", {"waybill_no": theirs.waybill_no}
    )
    assert response.status_code == 404
    assert Order.objects.get(pk=theirs.order_id).status == "paid"


@pytest.mark.parametrize("htmx", [True, False])
def test_a_gateway_timeout_on_the_order_page_is_shown_where_the_user_acted(merchant, shop_a, htmx):
    """504 from the carrier's gateway: the htmx answer is the error fragment (the console
    swaps every 4xx/5xx in place, tests/browser/test_order_refusals.py); without htmx the
    order page shows the message after the redirect. Nothing is drawn."""
    from carriers.models import Branch

    sub = open_service(shop_a, balance=10)
    order = make_order(shop_a)
    Branch.objects.filter(pk=sub.branch_id).update(fault="timeout")
    url = f"/console/waybills/orders/{order.pk}/allocate/"
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}

    response = merchant.post(url, {"subscription": sub.pk}, **extra)

    if htmx:
        assert response.status_code == 504
        body = text(response)
        assert 'data-error-code="ALLOCATION_TIMEOUT"' in body and "获取单号超时" in body
    else:
        assert response.status_code == 302
        assert response["Location"] == f"/console/orders/{order.pk}/"
        page = text(merchant.get(response["Location"]))
        assert "获取单号超时，请稍后重试" in page
    assert not Waybill.objects.filter(order=order).exists()
    assert Subscription.objects.get(pk=sub.pk).balance == 10
