"""The e-waybill service in Chromium: the opening wizard, then the branch approves and
recharges through the REST API, and the merchant sees the balance and the ledger."""

import pytest
from django.core.management import call_command

from carriers.models import Branch, Subscription
from shops.services import api_token_create
from tests.browser.conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SERVICE_URL = "**/console/waybill-service/"


def zto_zhejiang_branch() -> Branch:
    return Branch.objects.get(carrier__code="ZTO", province="浙江省")


def open_wizard(page) -> None:
    """Log in as the merchant, go to the service page from the nav, open the wizard and pick
    ZTO and the demo shipping address (each select submits the search form on change)."""
    login(page, "merchant")
    page.wait_for_url("**/console/")
    page.locator("nav.sidenav a[href$='/console/waybill-service/']").click()
    page.wait_for_url(SERVICE_URL)
    assert page.locator("h1").inner_text() == "电子面单服务"
    page.get_by_test_id("apply-link").click()
    page.wait_for_url("**/console/waybill-service/apply/")

    with page.expect_navigation():
        page.get_by_test_id("carrier").select_option("ZTO")
    page.wait_for_load_state("load")
    assert page.get_by_test_id("carrier").input_value() == "ZTO"

    values = page.locator("[data-testid=address] option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    address = next(v for v in values if v)
    with page.expect_navigation():
        page.get_by_test_id("address").select_option(address)
    page.wait_for_load_state("load")
    assert page.get_by_test_id("address").input_value() == address
    assert page.get_by_test_id("apply-form").is_visible()


def test_open_service_with_zto_approve_recharge_and_see_balance(page):
    call_command("seed_demo", "--quiet")
    branch = zto_zhejiang_branch()

    open_wizard(page)
    radio = f"input[type=radio][name=branch][value='{branch.code}']"
    choice = page.get_by_test_id("apply-form").locator(radio)
    assert choice.count() == 1 and choice.is_visible()
    assert choice.is_checked()
    label = page.locator("label.branch-choice", has=page.locator(radio))
    assert branch.name in label.inner_text() and "浙江省" in label.inner_text()
    screenshot(page, "waybill-wizard")

    page.get_by_test_id("agree").check()
    with page.expect_navigation():
        page.get_by_test_id("apply-submit").click()
    page.wait_for_url(SERVICE_URL)
    page.wait_for_load_state("load")
    assert page.locator("ul.messages li.success").is_visible()
    assert page.get_by_test_id("subscription-status").inner_text() == "待审核"

    sub = Subscription.objects.get()
    assert (sub.carrier.code, sub.branch_id, sub.status) == ("ZTO", branch.pk, "pending_review")
    assert sub.address.shop.shop_no == "100001"

    # The branch approves and recharges through the REST API with its own token.
    _, key = api_token_create(branch=branch)
    headers = {"Authorization": f"Token {key}"}
    base = f"{page.base_url}/api/v1/carrier/subscriptions/{sub.pk}"
    approved = page.request.post(f"{base}/approve/", headers=headers, data={})
    assert approved.status == 200, approved.text()
    assert approved.json()["status"] == "active"
    recharged = page.request.post(f"{base}/recharge/", headers=headers, data={"count": 1000})
    assert recharged.status == 200, recharged.text()
    assert recharged.json()["balance"] == 1000

    page.reload()
    page.wait_for_load_state("load")
    card = page.get_by_test_id(f"subscription-{sub.pk}")
    assert card.get_by_test_id("subscription-status").inner_text() == "启用中"  # "Active"
    assert card.get_by_test_id("balance").inner_text() == "1000"
    assert card.get_by_test_id("low-balance").count() == 0
    rows = [r.locator("td").all_inner_texts() for r in card.locator("table tbody tr").all()]
    recharge_rows = [cells for cells in rows if cells[1] == "充值"]
    assert len(recharge_rows) == 1
    assert recharge_rows[0][2] == "1000" and recharge_rows[0][3] == "1000"
    screenshot(page, "waybill-service")


def test_wizard_refuses_without_agreement(page):
    call_command("seed_demo", "--quiet")
    branch = zto_zhejiang_branch()

    open_wizard(page)
    assert page.locator(f"input[name=branch][value='{branch.code}']").is_checked()
    assert not page.get_by_test_id("agree").is_checked()
    with page.expect_navigation():
        page.get_by_test_id("apply-submit").click()
    page.wait_for_load_state("load")

    assert "/console/waybill-service/apply/" in page.url
    error = page.locator("[data-error-code=VALIDATION_ERROR]")
    assert error.is_visible()
    # the field by its label, the code only in the markup
    assert error.locator("ul.error-detail li .field-label").all_inner_texts() == [
        "电子面单服务协议"
    ]
    assert "VALIDATION_ERROR" not in error.inner_text() and "agree" not in error.inner_text()
    assert (
        page.get_by_test_id("field-error-agree").inner_text() == "必须阅读并同意电子面单服务协议。"
    )
    assert not Subscription.objects.exists()
