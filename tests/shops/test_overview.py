"""概览 (the console's home): the balances per service by carrier name, 面单异常, SLA at risk and
未打印, each counted for the shop alone and linked to the list that shows exactly what it
counts; the 未打印 count is a range of its partial index."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.utils import timezone

from printing.services import prints_record
from shops.overview import overview_figures
from tests.conftest import main_actor, make_order
from tests.waybills.conftest import open_service
from waybill_console.errors import AppError
from waybills import services
from waybills.selectors import UNPRINTED, waybill_list, waybill_unprinted_count

pytestmark = pytest.mark.django_db


def figure(html: str, key: str) -> tuple[str, str]:
    """(the figure's value, its link) as the page shows them."""
    link = re.search(rf'<a class="stat[^"]*" href="([^"]+)" data-testid="{key}-link">', html)
    value = re.search(rf'data-testid="{key}">([^<]*)<', html)
    assert link and value, key
    return value.group(1), unescape(link.group(1))


@pytest.fixture
def busy_shop(shop_a, shop_b):
    """shop_a: ZTO with 50 numbers left (low) and SF on a monthly account; 3 orders, two
    numbered (one printed), one at risk, one unpaid whose allocation failed. shop_b has the
    same kind of work, which shop_a never counts."""
    now = timezone.now()
    zto = open_service(shop_a, "ZTO", balance=53)
    open_service(shop_a, "SF", monthly_account="0571888", detail="文二路 2 号")
    actor = main_actor(shop_a)
    printed, waiting = (
        services.waybill_allocate(actor=actor, order=make_order(shop_a), subscription=zto).parent
        for _ in range(2)
    )
    prints_record(waybill_ids=[printed.pk])
    # paid 40 h ago: ready-to-ship is due in 8 h, inside the 12 h "at risk" window
    make_order(shop_a, "RISK-1", paid_at=now - timedelta(hours=40))
    with pytest.raises(AppError):  # not paid yet: refused and recorded as 面单异常
        services.waybill_allocate(
            actor=actor, order=make_order(shop_a, status="unpaid"), subscription=zto
        )

    other = open_service(shop_b, "ZTO", balance=500)
    services.waybill_allocate(
        actor=main_actor(shop_b), order=make_order(shop_b), subscription=other
    )
    make_order(shop_b, "RISK-B", paid_at=now - timedelta(hours=40))
    with pytest.raises(AppError):
        services.waybill_allocate(
            actor=main_actor(shop_b), order=make_order(shop_b, status="unpaid"), subscription=other
        )
    return {"zto": zto, "printed": printed, "waiting": waiting}


def test_the_overview_shows_each_figure_for_the_shop_with_a_link_to_its_list(
    client, shop_a, busy_shop
):
    client.force_login(shop_a.memberships.get().user)
    html = client.get("/console/").content.decode()

    assert figure(html, "order-count") == ("4", "/console/orders/")
    assert figure(html, "awaiting-count") == ("3", "/console/orders/?status=paid")
    assert figure(html, "at-risk-count") == ("1", "/console/orders/?at_risk=1")
    assert figure(html, "exception-count") == ("1", "/console/waybills/exceptions/")
    assert figure(html, "unprinted-count") == (
        "1",
        "/console/waybills/?days=366&status=allocated&printed=no",
    )
    zto = busy_shop["zto"]
    assert figure(html, f"balance-{zto.pk}") == ("51", f"/console/waybills/?subscription={zto.pk}")
    sf = shop_a.subscriptions.get(carrier__code="SF")
    assert figure(html, f"balance-{sf.pk}")[0] == "月结账号"
    # carriers by name, never their code; the low balance says what to do
    assert f"中通快递 · {zto.branch.name}" in html and f"顺丰速运 · {sf.branch.name}" in html
    assert "余额不足，请尽快联系网点申购。" in html
    balances = html[html.index('data-testid="overview-balances"') :]
    assert ">ZTO<" not in balances and ">SF<" not in balances

    # each link shows what its figure counts
    at_risk = client.get("/console/orders/?at_risk=1").content.decode()
    assert "RISK-1" in at_risk and "RISK-B" not in at_risk
    usage = client.get("/console/waybills/?days=366&status=allocated&printed=no")
    listed = usage.content.decode()
    assert usage.status_code == 200
    assert busy_shop["waiting"].waybill_no in listed
    assert busy_shop["printed"].waybill_no not in listed


def test_the_figures_are_the_selectors_counts_and_the_same_in_english(
    client, shop_a, busy_shop, django_assert_num_queries
):
    actor = main_actor(shop_a)
    with django_assert_num_queries(6):  # one count (or the services) per figure
        groups = overview_figures(actor=actor)
    todo = {f.key: (f.value, f.attention) for f in groups["todo"]}
    assert todo == {
        "order-count": (4, False),
        "awaiting-count": (3, False),
        "at-risk-count": (1, True),
        "exception-count": (1, True),
        "unprinted-count": (1, True),
    }
    assert [(f.value, f.attention) for f in groups["balance"]] == [
        ("月结账号", False),  # SF (by carrier code): a monthly account, no balance to run low
        (51, True),  # ZTO, under 100
    ]

    client.force_login(shop_a.memberships.get().user)
    client.cookies["django_language"] = "en"
    html = client.get("/console/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "SLA at risk" in html and "Not printed" in html and "Monthly account" in html


def test_a_new_shop_sees_zeros_and_where_to_open_a_service(client, shop_a):
    client.force_login(shop_a.memberships.get().user)
    html = client.get("/console/").content.decode()
    for key in ("order-count", "at-risk-count", "exception-count", "unprinted-count"):
        assert figure(html, key)[0] == "0"
    assert 'data-testid="no-balances"' in html and "/console/waybill-service/apply/" in html


def test_the_unprinted_filter_and_count_agree_and_read_the_partial_index(shop_a, busy_shop):
    actor = main_actor(shop_a)
    assert waybill_unprinted_count(actor=actor) == 1
    assert list(waybill_list(actor=actor, filters=UNPRINTED)) == [busy_shop["waiting"]]
    printed = waybill_list(actor=actor, filters=type(UNPRINTED)(printed="yes"))
    assert list(printed) == [busy_shop["printed"]]

    # what the planner does with the count's own SQL when a table scan is not an option
    sql, params = waybill_list(actor=actor, filters=UNPRINTED).order_by().query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute(f"EXPLAIN SELECT count(*) FROM ({sql}) q", params)  # nosec B608
        plan = "\n".join(row[0] for row in cur.fetchall())
    assert "waybill_shop_unprinted" in plan, plan
