"""The bell in Chromium: a franchise service's balance falls under the low line with a real
draw (which writes ``quota.low`` to the outbox; the dispatcher makes the notification),
the merchant sees the bell's count, opens 消息通知, reads 单号余额不足 and clicks it
through to the services page; the count drops."""

import pytest
from django.core.management import call_command

from carriers import services as carrier_services
from carriers.models import Branch, Subscription
from carriers.selectors import LOW_BALANCE
from events.models import Notification
from events.selectors_notifications import unread_count
from events.services.dispatch import events_dispatch
from shops.models import Shop
from tests.browser.conftest import login, screenshot, submit
from tests.conftest import main_actor, make_order
from waybill_console.tenancy import Actor
from waybills.services import waybill_allocate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SERVICES = "/console/waybill-service/"


def low_balance_service(shop: Shop) -> Subscription:
    """A ZTO franchise service opened, approved and recharged to exactly the low line, then
    one number drawn: the balance is one under it (the draw tells ``quota.low``)."""
    branch = Branch.objects.get(carrier__code="ZTO", code="331001")
    address = shop.addresses.order_by("pk").first()
    sub = carrier_services.subscription_apply(
        actor=main_actor(shop),
        carrier="ZTO",
        branch=branch.code,
        address=address.pk,
        contact_name=address.contact_name,
        contact_phone=address.phone,
        agree=True,
    )
    ops = Actor(shop=None, branch=branch)
    carrier_services.subscription_approve(actor=ops, subscription=sub)
    carrier_services.subscription_recharge(actor=ops, subscription=sub, count=LOW_BALANCE)
    waybill_allocate(actor=main_actor(shop), order=make_order(shop, "BELL-1"), subscription=sub)
    sub.refresh_from_db()
    assert sub.balance == LOW_BALANCE - 1
    return sub


def test_the_bell_shows_a_low_balance_and_opening_it_goes_to_the_service(page):
    call_command("seed_demo", "--quiet")
    merchant = Shop.objects.get(shop_no="100001")
    sub = low_balance_service(merchant)
    events_dispatch()
    notice = Notification.objects.get(shop=merchant, type="quota.low")
    before = unread_count(main_actor(merchant))
    assert before >= 1

    login(page, "merchant")
    page.wait_for_url("**/console/")
    assert page.get_by_test_id("bell-count").inner_text() == str(before)

    submit(page, page.get_by_test_id("bell"))
    assert page.url.endswith("/console/notifications/")
    assert page.locator("h1").inner_text() == "消息通知"
    item = page.get_by_test_id(f"notification-{notice.pk}")
    assert item.get_attribute("data-read") == "0"
    assert "单号余额不足" in item.inner_text()
    body = item.get_by_test_id("notification-body").inner_text()
    assert body == f"{sub.branch.name}：单号余额仅剩 {LOW_BALANCE - 1}，请尽快联系网点申购。"
    screenshot(page, "notifications-bell")

    submit(page, item.get_by_test_id("notification-open"))
    assert page.url.endswith(SERVICES)
    if before == 1:
        assert page.get_by_test_id("bell-count").count() == 0
    else:
        assert page.get_by_test_id("bell-count").inner_text() == str(before - 1)

    page.goto(page.base_url + "/console/notifications/?filter=unread")
    assert page.get_by_test_id(f"notification-{notice.pk}").count() == 0
    page.goto(page.base_url + "/console/notifications/")
    assert page.get_by_test_id(f"notification-{notice.pk}").get_attribute("data-read") == "1"
