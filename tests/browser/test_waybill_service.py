"""The e-waybill service wizard in Chromium, with the branch's approval and recharge by API."""

import json

import pytest
from django.core.management import call_command

from carriers.models import Branch, Subscription
from shops.services import api_token_create
from tests.browser.conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _open_wizard(page):
    login(page, "merchant")
    page.wait_for_url("**/console/")
    page.get_by_role("link", name="电子面单服务").click()
    page.get_by_test_id("apply-link").click()
    with page.expect_navigation():
        page.select_option("[data-testid=carrier]", "ZTO")
    address = page.locator("[data-testid=address] option").nth(1).get_attribute("value")
    with page.expect_navigation():
        page.select_option("[data-testid=address]", address)


def test_open_service_with_zto_approve_recharge_and_see_balance(page):
    call_command("seed_demo", "--quiet")
    branch = Branch.objects.get(carrier__code="ZTO", code="331001")
    _open_wizard(page)
    choice = page.locator("input[name=branch][value='331001']")
    assert choice.is_checked()
    screenshot(page, "waybill-wizard")
    page.get_by_test_id("agree").check()
    page.get_by_test_id("apply-submit").click()
    page.wait_for_url("**/console/waybill-service/")
    assert page.get_by_test_id("subscription-status").inner_text() == "待审核"

    sub = Subscription.objects.get()
    _, key = api_token_create(branch=branch)
    headers = {"Authorization": f"Token {key}", "Content-Type": "application/json"}
    base = f"{page.base_url}/api/v1/carrier/subscriptions/{sub.pk}"
    approved = page.request.post(f"{base}/approve/", headers=headers, data="{}")
    assert approved.status == 200 and approved.json()["status"] == "active"
    recharged = page.request.post(
        f"{base}/recharge/", headers=headers, data=json.dumps({"count": 1000})
    )
    assert recharged.status == 200 and recharged.json()["balance"] == 1000

    page.reload()
    assert page.get_by_test_id("subscription-status").inner_text() == "启用中"
    assert page.get_by_test_id("balance").inner_text() == "1000"
    row = page.locator("table tbody tr").first
    assert "充值" in row.inner_text() and "1000" in row.inner_text()
    screenshot(page, "waybill-service")


def test_wizard_refuses_without_agreement(page):
    call_command("seed_demo", "--quiet")
    _open_wizard(page)
    with page.expect_navigation():
        page.get_by_test_id("apply-submit").click()
    error = page.locator("[data-error-code=VALIDATION_ERROR]")
    assert error.is_visible() and "agree" in error.inner_text()
    assert not Subscription.objects.exists()
