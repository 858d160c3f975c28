"""The bell: the dispatcher makes notifications of the told types, each shop's people see
theirs as their permissions allow, read marks are per person, another shop's id is a 404,
and the text reads in the reader's language."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.models import Endpoint, Notification, NotificationRead
from events.selectors_notifications import unread_count
from events.services.dispatch import events_dispatch
from events.services.outbox import emit
from shops import services as shop_services
from tests.conftest import main_actor, make_user, token_client
from tests.dropship.conftest import make_factory
from waybill_console import permissions as perms
from waybill_console.tenancy import Actor

pytestmark = pytest.mark.django_db

PAGE = "/console/notifications/"
OPEN = "/console/notifications/open/"
SERVICES = "/console/waybill-service/"

#: a franchise service as the API shows it (carriers.api.serializers), with its carrier's name
LOW = {
    "id": 7,
    "carrier": "ZTO",
    "carrier_name": "中通快递",
    "branch": "331001",
    "branch_name": "杭州西湖网点",
    "status": "active",
    "balance": 37,
}


def told(shop, type_name="quota.low", data=None, link=SERVICES) -> Notification:
    """Emit one event and dispatch it: the notification it made."""
    assert emit(shop.pk, type_name, LOW if data is None else data, link=link)
    events_dispatch()
    return Notification.objects.filter(shop=shop).order_by("-id").first()


def sub_account(shop, username, permissions):
    return shop_services.sub_account_create(
        actor=main_actor(shop),
        username=username,
        password="Pack-station-24",
        permissions=permissions,
    )


def bell(html: str) -> str | None:
    """The bell's badge, None when the bell shows no count."""
    assert 'data-testid="bell"' in html
    found = re.search(r'data-testid="bell-count">([^<]+)<', html)
    return found[1] if found else None


def listed(html: str) -> list[str]:
    return re.findall(r'data-testid="notification-(\d+)"', html)


def test_dispatcher_tells_of_a_low_balance_but_not_of_each_number_allocated(shop_a):
    # an endpoint takes every type: waybill.allocated is written and dispatched too
    Endpoint.objects.create(shop=shop_a, url="https://erp.example.com/hook", secret="whsec_x")
    assert emit(shop_a.pk, "waybill.allocated", {"waybill_no": "73000001"}, link="/console/")
    assert emit(shop_a.pk, "quota.low", LOW, link=SERVICES)

    assert events_dispatch() == 2

    (made,) = Notification.objects.filter(shop=shop_a)
    assert (made.type, made.permission, made.link) == ("quota.low", perms.WAYBILL_OPEN, SERVICES)
    assert made.title == "单号余额不足"
    assert made.body == "中通快递 杭州西湖网点：单号余额仅剩 37，请尽快联系网点申购。"
    assert made.event.type == "quota.low"
    assert events_dispatch() == 0  # dispatched once
    assert Notification.objects.count() == 1


def test_a_sub_account_sees_a_low_balance_only_with_the_service_permission(client, shop_a):
    notification = told(shop_a)
    packer = sub_account(shop_a, "packer-1", [perms.PRINT, perms.SHIP])
    opener = sub_account(shop_a, "opener-1", [perms.WAYBILL_OPEN])

    client.force_login(packer.user)
    html = client.get(PAGE).content.decode()
    assert listed(html) == [] and bell(html) is None
    assert "还没有消息。" in html
    # opening it by id is a 404 too, and marks nothing
    assert client.post(OPEN, {"id": notification.pk}).status_code == 404
    assert not NotificationRead.objects.exists()

    client.force_login(opener.user)
    html = client.get(PAGE).content.decode()
    assert listed(html) == [str(notification.pk)] and bell(html) == "1"
    assert "单号余额仅剩 37" in html


def test_a_finished_job_is_told_to_those_who_may_see_its_kind(client, shop_a):
    notification = told(
        shop_a, "job.finished", {"id": 5, "kind": "order_export", "status": "succeeded"}, "/"
    )
    assert notification.permission == perms.EXPORT
    assert (notification.title, notification.body) == ("后台任务已完成", "订单导出已完成。")
    printer = sub_account(shop_a, "printer-1", [perms.PRINT])
    exporter = sub_account(shop_a, "exporter-1", [perms.EXPORT])
    assert unread_count(Actor.for_membership(printer)) == 0
    assert unread_count(Actor.for_membership(exporter)) == 1
    assert unread_count(main_actor(shop_a)) == 1


def test_read_marks_are_per_person(client, shop_a):
    notification = told(shop_a)
    told(shop_a, "sla.missed", {"order_no": "A-1", "sla_due_at": "2024-05-01T08:00:00Z"})
    main_user = shop_a.memberships.get(role="main").user
    colleague = sub_account(shop_a, "colleague-1", [perms.WAYBILL_OPEN, perms.SHIP])

    client.force_login(main_user)
    assert bell(client.get(PAGE).content.decode()) == "2"
    opened = client.post(OPEN, {"id": notification.pk})
    assert (opened.status_code, opened["Location"]) == (302, SERVICES)
    html = client.get(PAGE).content.decode()
    assert bell(html) == "1"
    assert re.search(rf'data-testid="notification-{notification.pk}"[^>]*data-read="1"', html)
    unread = client.get(PAGE, {"filter": "unread"}).content.decode()
    assert notification.pk not in map(int, listed(unread)) and len(listed(unread)) == 1
    assert "订单 A-1 应在 2024-05-01 16:00 前发货，已超时。" in unread

    # the colleague has read nothing
    assert unread_count(Actor.for_membership(colleague)) == 2
    client.force_login(colleague.user)
    assert bell(client.get(PAGE).content.decode()) == "2"

    # 全部标为已读: the colleague's own marks; the main account's stay as they were
    assert client.post("/console/notifications/read-all/").status_code == 302
    assert unread_count(Actor.for_membership(colleague)) == 0
    assert unread_count(main_actor(shop_a)) == 1
    assert NotificationRead.objects.filter(user=colleague.user).count() == 2


def test_another_shops_notification_is_not_found_on_the_page_and_the_api(client, shop_a, shop_b):
    theirs = told(shop_b)
    client.force_login(shop_a.memberships.get(role="main").user)

    assert client.post(OPEN, {"id": theirs.pk}).status_code == 404
    api = token_client(shop_a)
    answer = api.post("/api/v1/notifications/read/", {"ids": [theirs.pk]}, format="json")
    assert answer.status_code == 404 and answer.json()["code"] == "NOT_FOUND"
    assert not NotificationRead.objects.exists()
    assert api.get("/api/v1/notifications/").json()["count"] == 0
    # shop B's own people see it unread
    assert unread_count(main_actor(shop_b)) == 1


def test_the_unread_count_is_one_query(shop_a):
    for _i in range(3):
        told(shop_a)
    actor = main_actor(shop_a)
    with CaptureQueriesContext(connection) as queries:
        assert unread_count(actor) == 3
    assert len(queries) == 1
    assert "count(*)" in queries[0]["sql"].lower()


def test_the_bell_counts_on_every_page_of_the_console_and_the_factory_portal(client, shop_a):
    told(shop_a)
    client.force_login(shop_a.memberships.get(role="main").user)
    assert bell(client.get("/console/").content.decode()) == "1"

    factory = make_factory()
    emit(
        factory.pk,
        "dropship.binding.requested",
        {"merchant": "11****01", "merchant_name": "星河代发"},
    )
    events_dispatch()
    client.force_login(factory.memberships.get(role="main").user)
    assert bell(client.get("/factory/").content.decode()) == "1"
    html = client.get(PAGE).content.decode()
    assert "星河代发 申请与您绑定代发关系。" in html


def test_the_text_reads_in_english_when_the_language_is_english(client, shop_a):
    notification = told(shop_a)
    client.force_login(shop_a.memberships.get(role="main").user)
    client.cookies["django_language"] = "en"
    html = client.get(PAGE).content.decode()
    assert "Waybill balance low" in html
    assert "中通快递 杭州西湖网点: only 37 numbers left; contact the branch to recharge." in html
    assert "单号余额" not in html

    api = token_client(shop_a, language="en")
    (row,) = api.get("/api/v1/notifications/").json()["results"]
    assert row["id"] == notification.pk and row["title"] == "Waybill balance low"
    assert row["read"] is False and row["link"] == SERVICES
    assert (
        row["body"]
        == "中通快递 杭州西湖网点: only 37 numbers left; contact the branch to recharge."
    )


def test_missing_data_reads_as_a_generic_line(client, shop_a):
    notification = told(shop_a, "quota.low", {"carrier": "ZTO"})
    assert (notification.title, notification.body) == ("单号余额不足", "点击查看详情。")
    # the subscriptions API's shape: the carrier by its code, never shown; the branch's name
    served = {"carrier": "ZTO", "branch_name": "中通快递杭州西湖网点", "balance": 99}
    notification = told(shop_a, "quota.low", served)
    assert notification.body == "中通快递杭州西湖网点：单号余额仅剩 99，请尽快联系网点申购。"
    notification = told(shop_a, "sla.at_risk", {"order_no": "A-3", "sla_due_at": "soon"})
    assert (notification.title, notification.body) == ("即将发货超时", "点击查看详情。")
    notification = told(
        shop_a, "sla.at_risk", {"order_no": "A-4", "sla_due_at": "2024-05-01T08:00"}
    )
    assert notification.body == "订单 A-4 须在 2024-05-01 16:00 前发货。"  # a naive time is UTC


def test_opening_goes_only_to_a_path_of_this_site(client, shop_a):
    client.force_login(shop_a.memberships.get(role="main").user)
    for link in ("https://evil.example.com/", "//evil.example.com/x", "/\\evil.example.com"):
        notification = told(shop_a, link=link)
        opened = client.post(OPEN, {"id": notification.pk})
        assert (opened.status_code, opened["Location"]) == (302, PAGE)
    assert client.post(OPEN, {"id": "x"}).status_code == 404
    assert client.get(OPEN).status_code == 405


def test_the_api_lists_unread_and_marks_read_with_the_tokens_scopes(shop_a):
    low = told(shop_a)
    missed = told(shop_a, "sla.missed", {"order_no": "A-2", "sla_due_at": "2024-05-01T08:00:00Z"})
    shipper = token_client(shop_a, scopes=[perms.SHIP])
    rows = shipper.get("/api/v1/notifications/").json()["results"]
    assert [r["id"] for r in rows] == [missed.pk]
    assert rows[0]["title"] == "发货超时"

    full = token_client(shop_a)
    assert [r["id"] for r in full.get("/api/v1/notifications/?unread=1").json()["results"]] == [
        missed.pk,
        low.pk,
    ]
    answer = full.post("/api/v1/notifications/read/", {"ids": [low.pk]}, format="json")
    assert answer.status_code == 200 and answer.json() == {"marked": 1, "unread": 1}
    assert [r["id"] for r in full.get("/api/v1/notifications/?unread=1").json()["results"]] == [
        missed.pk
    ]
    # a token reads as the main account (it created no person of its own)
    assert unread_count(main_actor(shop_a)) == 1
    answer = full.post("/api/v1/notifications/read/", {"all": True}, format="json")
    assert answer.json() == {"marked": 1, "unread": 0}
    bad = full.post("/api/v1/notifications/read/", {}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION_ERROR"
    assert full.get("/api/v1/notifications/?unread=yes").status_code == 400


def test_a_token_reads_as_the_account_that_created_it(shop_a):
    told(shop_a)
    creator = make_user("token-maker")
    token, key = shop_services.api_token_create(shop=shop_a, created_by=creator)
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.post("/api/v1/notifications/read/", {"all": True}, format="json").json() == {
        "marked": 1,
        "unread": 0,
    }
    assert NotificationRead.objects.get().user == creator
    assert unread_count(main_actor(shop_a)) == 1
