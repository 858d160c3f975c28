"""The console shell in Chromium: Chinese login, the console, shop switch, English, htmx errors."""

import pytest
from django.core.management import call_command

from shops import services
from shops.models import Shop
from tests.browser.conftest import login, screenshot
from tests.conftest import main_actor, make_order
from waybill_console import permissions as perms

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_merchant_logs_in_switches_shop_and_language(page):
    call_command("seed_demo", "--quiet")

    page.goto(page.base_url + "/")
    assert page.locator("h1").inner_text() == "登录电子面单工作台"
    screenshot(page, "login")
    login(page, "merchant")

    page.wait_for_url("**/console/")
    assert "概览" in page.locator("h1").inner_text()
    assert "星河家居旗舰店" in page.locator("h1").inner_text()
    assert page.get_by_test_id("empty-console").is_visible()
    screenshot(page, "console-home")

    page.select_option("#shop-switch", label="星河数码专营店 (100002) · 专营店")
    page.wait_for_load_state("networkidle")
    assert "星河数码专营店" in page.locator("h1").inner_text()

    page.get_by_test_id("lang-en").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text().startswith("Overview")
    assert page.locator("html").get_attribute("lang") == "en"

    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state("networkidle")
    page.goto(page.base_url + "/console/")
    assert "/accounts/login/" in page.url


def test_refusal_from_htmx_is_shown_in_place(page):
    call_command("seed_demo", "--quiet")
    shop = Shop.objects.get(shop_no="100001")
    order = make_order(shop, "WEB-0001", name="张三丰", phone="13812345678")
    clerk = services.sub_account_create(
        actor=main_actor(shop),
        username="clerk",
        password="clerk-1234",
        permissions=[perms.PRINT, perms.CONSUMER_VIEW],
    )

    login(page, "clerk", "clerk-1234")
    page.wait_for_url("**/console/")
    page.goto(f"{page.base_url}/console/orders/{order.pk}/")
    assert page.get_by_test_id("receiver-masked").inner_text().startswith("张** · 138****5678")

    # the button shows for the permission; the main account withdraws it while the page is open
    services.sub_account_update(
        actor=main_actor(shop), membership_id=clerk.pk, permissions=[perms.PRINT]
    )
    page.get_by_test_id("reveal").click()
    error = page.locator("#receiver .inline-error [data-error-code=PERMISSION_DENIED]")
    error.wait_for()
    assert "您没有“查看消费者信息”权限" in error.inner_text()
    assert "13812345678" not in page.content()


def test_main_account_reveals_receiver_with_htmx(page):
    call_command("seed_demo", "--quiet")
    order = make_order(Shop.objects.get(shop_no="100001"), "WEB-0002", phone="13912345678")

    login(page, "merchant")
    page.wait_for_url("**/console/")
    page.goto(f"{page.base_url}/console/orders/{order.pk}/")
    screenshot(page, "order-detail")
    page.get_by_test_id("reveal").click()
    full = page.get_by_test_id("receiver-full")
    full.wait_for()
    assert "13912345678" in full.inner_text()
