"""The webhook pages (推送设置): the sidebar link by permission, the form and its refusals by
label, the secret shown once, delete and rotate asked first, 发送测试, the delivery log with
its filter and 重发, the attempt log; another shop's endpoint a 404; every page read as a
person reads it in both languages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint, Event
from events.services import endpoints as services
from shops import services as shop_services
from tests.confirmation import confirmed_post, question
from tests.conftest import main_actor
from tests.waybill_console.test_page_walk import page_text, problems
from waybill_console import permissions as perms
from waybill_console.crypto import open_secret

pytestmark = pytest.mark.django_db

PUBLIC = "https://93.184.216.34/hooks"


@pytest.fixture
def merchant(client, shop_a):
    client.force_login(shop_a.memberships.get(role="main").user)
    return shop_a


def new_endpoint(shop, **kw) -> tuple[Endpoint, str]:
    return services.endpoint_create(actor=main_actor(shop), url=kw.pop("url", PUBLIC), **kw)


def a_delivery(endpoint: Endpoint, type_name: str = "quota.low", **kw) -> Delivery:
    now = timezone.now()
    event = Event.objects.create(
        msg_id=f"msg_p{Event.objects.count() + 1}",
        shop=endpoint.shop,
        type=type_name,
        at=now,
        data={},
        dispatched_at=now,
    )
    kw.setdefault("next_attempt_at", None)
    return Delivery.objects.create(endpoint=endpoint, event=event, created_at=now, **kw)


def text_of(response) -> str:
    return page_text(response.content.decode())


def test_the_sidebar_links_to_webhooks_only_with_the_permission(client, merchant):
    home = client.get(reverse("console:home")).content.decode()
    assert re.search(r'data-testid="nav-webhooks">推送设置</a>', home)
    clerk = shop_services.sub_account_create(
        actor=main_actor(merchant),
        username="clerk-pages",
        password="pass-12345",
        permissions=[perms.ORDER_MANAGE],
    )
    client.force_login(clerk.user)
    assert "nav-webhooks" not in client.get(reverse("console:home")).content.decode()
    refused = client.get(reverse("console:webhook_list"))
    assert refused.status_code == 403
    assert "您没有“推送设置（事件推送）”权限" in text_of(refused)
    assert client.get(reverse("console:webhook_new")).status_code == 403


def test_the_factory_portal_links_to_webhooks_too(client):
    from tests.dropship.conftest import make_factory

    factory = make_factory("240901", "hooks-factory")
    client.force_login(factory.memberships.get(role="main").user)
    html = client.get(reverse("factory:home")).content.decode()
    assert 'data-testid="nav-webhooks"' in html
    assert client.get(reverse("console:webhook_list")).status_code == 200


def test_create_shows_the_secret_once_and_no_page_shows_it_again(client, merchant):
    response = client.post(
        reverse("console:webhook_new"),
        {"url": PUBLIC, "description": "ERP 同步", "event_types": ["quota.low", "sla.missed"],
         "is_enabled": "1"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    endpoint = Endpoint.objects.get(shop=merchant)
    secret = open_secret(endpoint.secret)
    html = response.content.decode()
    assert f'data-testid="webhook-secret" id="webhook-secret">{secret}</code>' in html
    assert "请立即复制：密钥只显示这一次。" in text_of(response)
    assert (endpoint.description, endpoint.event_types) == ("ERP 同步", ["quota.low", "sla.missed"])
    for url in (
        reverse("console:webhook_list"),
        reverse("console:webhook_detail", args=[endpoint.pk]),
        reverse("console:webhook_edit", args=[endpoint.pk]),
    ):
        page = client.get(url)
        assert page.status_code == 200
        assert secret not in page.content.decode() and secret[6:14] not in page.content.decode()
    listed = text_of(client.get(reverse("console:webhook_list")))
    assert "ERP 同步 单号余额不足、发货超时 启用" in listed


def test_a_refused_url_is_named_by_its_label_and_the_form_keeps_what_was_typed(
    client, merchant, settings
):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    response = client.post(
        reverse("console:webhook_new"),
        {"url": "http://127.0.0.1:9000/hooks", "event_types": ["quota.low"]},
    )
    assert response.status_code == 400
    text = text_of(response)
    refused = (
        "不能向该地址推送。 地址：该地址指向内网或保留地址（127.0.0.1），推送只能发往公网地址。"
    )
    assert refused in text
    html = response.content.decode()
    assert 'value="http://127.0.0.1:9000/hooks"' in html
    assert 'value="quota.low" checked' in html
    assert not Endpoint.objects.exists()

    scheme = client.post(reverse("console:webhook_new"), {"url": "ftp://93.184.216.34/"})
    assert "地址：请输入以 http:// 或 https:// 开头的完整地址。" in text_of(scheme)


def test_edit_saves_and_enabling_again_forgets_the_failures(client, merchant):
    endpoint, _secret = new_endpoint(merchant)
    Endpoint.objects.filter(pk=endpoint.pk).update(
        is_enabled=False,
        disabled_reason="failing since 2026-01-01 00:00 UTC",
        failing_since=timezone.now() - timedelta(days=3),
        consecutive_failures=12,
    )
    detail = text_of(client.get(reverse("console:webhook_detail", args=[endpoint.pk])))
    assert "已停用：自" in detail and "起持续失败" in detail
    response = client.post(
        reverse("console:webhook_edit", args=[endpoint.pk]),
        {"url": PUBLIC, "description": "新描述", "is_enabled": "1"},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.is_enabled, endpoint.failing_since, endpoint.consecutive_failures) == (
        True,
        None,
        0,
    )
    assert (endpoint.description, endpoint.event_types) == ("新描述", [])


def test_delete_asks_first(client, merchant):
    endpoint, _secret = new_endpoint(merchant)
    asked = client.post(reverse("console:webhook_delete", args=[endpoint.pk]))
    assert asked.status_code == 200
    assert question(asked.content.decode()) == (
        f"删除推送地址 {PUBLIC}？其推送记录将一并删除，此操作不可撤销。"
    )
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()
    action, data = confirmed_post(asked.content.decode())
    done = client.post(action, data)
    assert done.status_code == 302 and done["Location"] == reverse("console:webhook_list")
    assert not Endpoint.objects.exists()


def test_rotate_asks_first_then_shows_the_new_secret_once(client, merchant):
    endpoint, old = new_endpoint(merchant)
    asked = client.post(reverse("console:webhook_rotate", args=[endpoint.pk]))
    assert "当前密钥将立即失效" in question(asked.content.decode())
    assert open_secret(Endpoint.objects.get(pk=endpoint.pk).secret) == old
    action, data = confirmed_post(asked.content.decode())
    shown = client.post(action, data)
    new = open_secret(Endpoint.objects.get(pk=endpoint.pk).secret)
    assert new != old
    assert f">{new}</code>" in shown.content.decode()
    assert shown["Cache-Control"] == "no-store"


def test_send_test_adds_a_delivery_to_the_log(client, merchant):
    endpoint, _secret = new_endpoint(merchant)
    response = client.post(reverse("console:webhook_test", args=[endpoint.pk]))
    assert response.status_code == 302
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert (delivery.event.type, delivery.status) == ("webhook.test", "pending")
    assert delivery.event.dispatched_at is not None
    log = client.get(response["Location"])
    text = text_of(log)
    assert "测试消息已开始发送，结果见下方推送记录。" in text
    assert "测试消息 待发送 0" in text
    assert 'hx-trigger="every 2s"' in log.content.decode()  # it follows the pending delivery


def test_the_log_filters_by_status_and_resends_a_row(client, merchant):
    endpoint, _secret = new_endpoint(merchant)
    failed = a_delivery(endpoint, status=DeliveryStatus.FAILED, attempts=9, last_status_code=500,
                        last_error="HTTP 500", last_latency_ms=31)  # fmt: skip
    delivered = a_delivery(endpoint, "sla.missed", status=DeliveryStatus.SUCCEEDED, attempts=1,
                           last_status_code=200, last_latency_ms=12)  # fmt: skip
    url = reverse("console:webhook_detail", args=[endpoint.pk])
    everything = client.get(url).content.decode()
    assert f'data-testid="delivery-{failed.pk}"' in everything
    assert f'data-testid="delivery-{delivered.pk}"' in everything
    only_failed = client.get(url, {"status": "failed"})
    html = only_failed.content.decode()
    assert f'data-testid="delivery-{failed.pk}"' in html
    assert f'data-testid="delivery-{delivered.pk}"' not in html
    assert "单号余额不足 失败 9 500 31 毫秒 对方返回 HTTP 500 重发" in text_of(only_failed)

    resent = client.post(
        reverse("console:webhook_resend", args=[endpoint.pk, failed.pk]), {"query": "status=failed"}
    )
    assert resent.status_code == 302
    assert resent["Location"] == f"{url}?status=failed#deliveries"
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.resend_requested) == ("pending", 9, True)


def test_the_attempt_log_says_how_each_attempt_went(client, merchant):
    endpoint, _secret = new_endpoint(merchant)
    delivery = a_delivery(endpoint, status=DeliveryStatus.SUCCEEDED, attempts=3)
    now = timezone.now()
    for seconds, code, error, manual in (
        (0, None, "timed out", False),
        (5, 500, "HTTP 500", False),
        (9, 200, "", True),
    ):
        DeliveryAttempt.objects.create(delivery=delivery, at=now + timedelta(seconds=seconds),
                                       status_code=code, latency_ms=seconds * 10, error=error,
                                       manual=manual)  # fmt: skip
    page = client.get(reverse("console:webhook_delivery", args=[endpoint.pk, delivery.pk]))
    assert page.status_code == 200
    rows = re.findall(r'data-testid="attempt-\d+" data-manual="(\d)"', page.content.decode())
    assert rows == ["1", "0", "0"]  # newest first
    text = text_of(page)
    assert "200 90 毫秒 手动重发" in text
    assert "500 50 毫秒 对方返回 HTTP 500 自动" in text
    assert "— 0 毫秒 超时 自动" in text


def test_another_shops_endpoint_is_a_404_on_every_page(client, merchant, shop_b):
    theirs, secret = new_endpoint(shop_b)
    delivery = a_delivery(theirs, status=DeliveryStatus.FAILED)
    mine, _secret = new_endpoint(merchant)
    gets = [
        reverse("console:webhook_detail", args=[theirs.pk]),
        reverse("console:webhook_edit", args=[theirs.pk]),
        reverse("console:webhook_delivery", args=[theirs.pk, delivery.pk]),
        reverse("console:webhook_delivery", args=[mine.pk, delivery.pk]),
    ]
    posts = [
        reverse("console:webhook_edit", args=[theirs.pk]),
        reverse("console:webhook_delete", args=[theirs.pk]),
        reverse("console:webhook_rotate", args=[theirs.pk]),
        reverse("console:webhook_test", args=[theirs.pk]),
        reverse("console:webhook_resend", args=[theirs.pk, delivery.pk]),
        reverse("console:webhook_resend", args=[mine.pk, delivery.pk]),
    ]
    for url in gets:
        assert client.get(url).status_code == 404, url
    for url in posts:
        assert client.post(url, {"confirm": "1", "url": PUBLIC}).status_code == 404, url
    theirs.refresh_from_db()
    assert open_secret(theirs.secret) == secret and theirs.is_enabled
    assert Delivery.objects.get(pk=delivery.pk).status == "failed"
    assert Delivery.objects.count() == 1


def test_the_pages_read_without_internal_names_in_both_languages(client, merchant):
    endpoint, _secret = new_endpoint(merchant, event_types=["quota.low", "order.created"])
    failing, _secret = new_endpoint(merchant, description="备用")
    Endpoint.objects.filter(pk=failing.pk).update(failing_since=timezone.now())
    delivery = a_delivery(endpoint, status=DeliveryStatus.FAILED, attempts=2,
                          last_error="address not allowed: 10.0.0.1")  # fmt: skip
    DeliveryAttempt.objects.create(delivery=delivery, at=timezone.now(), error="ConnectError: x")
    a_delivery(endpoint, "webhook.test", status=DeliveryStatus.PENDING)
    pages = {
        "list": lambda: client.get(reverse("console:webhook_list")),
        "new": lambda: client.get(reverse("console:webhook_new")),
        "edit": lambda: client.get(reverse("console:webhook_edit", args=[endpoint.pk])),
        "detail": lambda: client.get(reverse("console:webhook_detail", args=[endpoint.pk])),
        "delivery": lambda: client.get(
            reverse("console:webhook_delivery", args=[endpoint.pk, delivery.pk])
        ),
        "refused": lambda: client.post(reverse("console:webhook_new"), {"url": "ftp://x/"}),
        "delete": lambda: client.post(reverse("console:webhook_delete", args=[endpoint.pk])),
        "rotate": lambda: client.post(reverse("console:webhook_rotate", args=[endpoint.pk])),
    }
    report = {}
    texts = {}
    for language in ("zh-hans", "en"):
        client.cookies["django_language"] = language
        for name, get in pages.items():
            response = get()
            assert response.status_code in (200, 400), (language, name)
            texts[language, name] = text_of(response)
            if found := problems(texts[language, name], language):
                report[f"{language} {name}"] = found
    assert not report, report
    assert "失败中：自" in texts["zh-hans", "list"]
    assert "Failing since" in texts["en", "list"]
    assert "地址不允许：10.0.0.1" in texts["zh-hans", "detail"]
    assert "连接失败" in texts["zh-hans", "delivery"]
    assert "Webhooks" in texts["en", "list"] and "Send test" in texts["en", "detail"]


def test_ops_switch_an_endpoint_on_again_in_the_admin_and_its_failures_are_forgotten(
    admin_client, shop_a
):
    endpoint, secret = new_endpoint(shop_a)
    Endpoint.objects.filter(pk=endpoint.pk).update(
        is_enabled=False, disabled_reason="failing", failing_since=timezone.now(),
        consecutive_failures=7,
    )  # fmt: skip
    url = reverse("admin:events_endpoint_change", args=[endpoint.pk])
    form = admin_client.get(url).content.decode()
    assert secret not in form and 'name="url"' not in form
    response = admin_client.post(url, {"is_enabled": "on"})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.is_enabled, endpoint.failing_since, endpoint.consecutive_failures) == (
        True,
        None,
        0,
    )
    assert endpoint.disabled_reason == "" and open_secret(endpoint.secret) == secret
