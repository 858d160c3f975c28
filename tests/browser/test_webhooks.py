"""推送设置 in Chromium, with a real Celery worker on the events queue and a local receiver
over real HTTP (issue 18): a merchant adds an endpoint and sees its secret once, sends a
test and sees it delivered (the receiver verifies the signature with the secret the page
showed, through the published Standard Webhooks library), an order created through the
API arrives as ``order.created``; the receiver then fails, 重发 shows the attempts grow, and
once it answers again 重发 ends in 已送达 with the attempt log naming the manual resends."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker
from standardwebhooks.webhooks import Webhook

from events.models import Delivery, Endpoint
from tests.browser.conftest import login, screenshot, submit
from tests.conftest import make_shop, make_user, token_client
from tests.fakes.webhook_receiver import WebhookReceiver
from waybill_console.celery import app

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TIMEOUT = 30_000  # ms: the worker shares the cores with Chromium and the live server


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # the live server runs in this process
    # retries far apart: what the page shows is what 重发 did, not the schedule
    settings.WEBHOOK_RETRY_SCHEDULE = [600, 600, 600]
    with WebhookReceiver() as r:
        yield r


@pytest.fixture
def events_worker():
    with start_worker(
        app, pool="solo", queues=["events"], perform_ping_check=False, shutdown_timeout=10
    ):
        yield


def wait_until(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def row(page, delivery_id: int):
    return page.locator(f'[data-testid="delivery-{delivery_id}"]')


def wait_row(page, delivery_id: int, *, status: str, attempts: int) -> None:
    """The log (it follows pending deliveries by itself) shows the delivery so."""
    page.wait_for_selector(
        f'[data-testid="delivery-{delivery_id}"][data-status="{status}"]', timeout=TIMEOUT
    )
    page.wait_for_function(
        """([id, n]) => {
            const cell = document.querySelector(
                `[data-testid="delivery-${id}"] [data-testid="delivery-attempts"]`);
            return cell && cell.textContent.trim() === String(n);
        }""",
        arg=[delivery_id, attempts],
        timeout=TIMEOUT,
    )


def test_a_merchant_adds_an_endpoint_tests_it_and_resends_a_failed_delivery(
    page, receiver, events_worker
):
    shop = make_shop(user=make_user("hooks-merchant", password="waybill-demo"))
    login(page, "hooks-merchant")
    page.wait_for_load_state("load")

    # 推送设置 from the sidebar, then the form
    submit(page, page.get_by_test_id("nav-webhooks"))
    assert page.locator("h1").first.inner_text().startswith("推送设置")
    submit(page, page.get_by_test_id("webhook-new"))
    page.get_by_test_id("webhook-url").fill(receiver.url)
    page.fill("input[name=description]", "ERP 订单同步")
    page.get_by_label("订单已创建").check()
    page.get_by_label("单号余额不足").check()
    submit(page, page.get_by_test_id("webhook-save"))

    # the secret, once
    secret = page.get_by_test_id("webhook-secret").inner_text().strip()
    assert secret.startswith("whsec_")
    assert "密钥只显示这一次" in page.get_by_test_id("webhook-secret-card").inner_text()
    endpoint = Endpoint.objects.get(shop=shop)
    submit(page, page.get_by_test_id("webhook-secret-done"))
    assert secret not in page.content()

    # 发送测试: delivered, signed with the secret the page showed
    submit(page, page.get_by_test_id("webhook-send-test"))
    test_delivery = Delivery.objects.get(endpoint=endpoint, event__type="webhook.test")
    wait_row(page, test_delivery.pk, status="succeeded", attempts=1)
    assert "已送达" in row(page, test_delivery.pk).inner_text()
    [got] = receiver.wait_for(1)
    payload = Webhook(secret).verify(got.body, got.headers)
    assert payload["type"] == "webhook.test"
    test_id = got.headers["webhook-id"]

    # a real event: an order created through the API arrives as order.created
    api = token_client(shop)
    created = api.post(
        "/api/v1/orders/",
        {"order_no": "HOOK-1",
         "items": [{"sku": "S-1", "product_name": "保温杯", "spec": "", "quantity": 1,
                    "unit_price": "39.90"}],
         "receiver": {"name": "张三", "phone": "13812345678", "province": "浙江省",
                      "city": "杭州市", "district": "西湖区", "detail": "文三路 1 号"}},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    order_delivery = wait_until(
        lambda: Delivery.objects.filter(endpoint=endpoint, event__type="order.created").first(),
        what="the order.created delivery",
    )
    arrived = receiver.wait_for(2)
    order_payload = Webhook(secret).verify(arrived[1].body, arrived[1].headers)
    assert order_payload["type"] == "order.created"
    assert order_payload["data"]["order_no"] == "HOOK-1"
    assert "张三" not in arrived[1].body.decode() and "13812345678" not in arrived[1].body.decode()
    page.reload()
    wait_row(page, order_delivery.pk, status="succeeded", attempts=1)
    assert "订单已创建" in row(page, order_delivery.pk).inner_text()

    # the receiver fails: 重发 shows one more attempt, failed
    receiver.default_status = 500
    submit(page, row(page, test_delivery.pk).get_by_test_id("delivery-resend"))
    assert "已安排重发" in page.locator(".messages").inner_text()
    wait_row(page, test_delivery.pk, status="pending", attempts=2)
    assert "对方返回 HTTP 500" in row(page, test_delivery.pk).inner_text()
    page.reload()
    assert "失败中" in page.get_by_test_id("webhook-state").inner_text()
    screenshot(page, "webhooks-detail")

    # it answers again: 重发 ends in 已送达, the same webhook-id every time
    receiver.default_status = 200
    submit(page, row(page, test_delivery.pk).get_by_test_id("delivery-resend"))
    wait_row(page, test_delivery.pk, status="succeeded", attempts=3)
    assert "已送达" in row(page, test_delivery.pk).inner_text()
    page.reload()
    assert page.get_by_test_id("webhook-state").inner_text().strip() == "启用"
    sent_test = [r for r in receiver.received if r.headers["webhook-id"] == test_id]
    assert [r.status for r in sent_test] == [200, 500, 200]

    # the attempt log names the resends
    submit(page, row(page, test_delivery.pk).get_by_test_id("delivery-attempts"))
    attempts = page.get_by_test_id("attempt-table").inner_text()
    assert attempts.count("手动重发") == 2 and attempts.count("自动") == 1

    submit(page, page.get_by_test_id("nav-webhooks"))
    assert "ERP 订单同步" in page.get_by_test_id("webhook-table").inner_text()
    screenshot(page, "webhooks-list")
