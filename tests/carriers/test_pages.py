"""The wizard and the account page, through the test client."""

import pytest
from django.core.management import call_command

from carriers.models import Subscription
from carriers.services import subscription_approve, subscription_recharge
from shops.models import Shop
from waybill_console.tenancy import Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant(client):
    call_command("seed_demo", "--quiet")
    client.login(username="merchant", password="waybill-demo")
    return Shop.objects.get(shop_no="100001")


def test_wizard_lists_matching_branches_and_applies(client, merchant):
    address = merchant.addresses.get()
    html = client.get(
        "/console/waybill-service/apply/", {"carrier": "ZTO", "address": address.pk}
    ).content.decode()
    assert "中通快递杭州" in html
    response = client.post(
        "/console/waybill-service/apply/",
        {
            "carrier": "ZTO",
            "address": address.pk,
            "branch": "331001",
            "contact_name": "王主管",
            "contact_phone": "13800571000",
            "agree": "on",
        },
    )
    assert response.status_code == 302
    sub = Subscription.objects.get(shop=merchant)
    assert sub.status == "pending_review" and sub.branch.code == "331001"


def test_wizard_without_agreement_names_the_field(client, merchant):
    address = merchant.addresses.get()
    response = client.post(
        "/console/waybill-service/apply/",
        {
            "carrier": "ZTO",
            "address": address.pk,
            "branch": "331001",
            "contact_name": "王主管",
            "contact_phone": "13800571000",
        },
    )
    assert response.status_code == 400 and "agree" in response.content.decode()
    assert not Subscription.objects.exists()


def test_account_page_shows_balance_low_warning_and_entries(client, merchant):
    address = merchant.addresses.get()
    client.post(
        "/console/waybill-service/apply/",
        {
            "carrier": "ZTO",
            "address": address.pk,
            "branch": "331001",
            "contact_name": "王主管",
            "contact_phone": "13800571000",
            "agree": "on",
        },
    )
    sub = Subscription.objects.get()
    branch = Actor(shop=None, branch=sub.branch)
    subscription_approve(actor=branch, subscription=sub)
    subscription_recharge(actor=branch, subscription=sub, count=30)
    html = client.get("/console/waybill-service/").content.decode()
    assert 'data-testid="low-balance"' in html and ">30<" in html and "充值" in html
    subscription_recharge(actor=branch, subscription=sub, count=1000)
    html = client.get("/console/waybill-service/").content.decode()
    assert 'data-testid="low-balance"' not in html and ">1030<" in html


def test_branch_search_page(client, merchant):
    html = client.get("/console/branches/", {"carrier": "YTO", "province": "440000"}).content
    assert "圆通速递广州" in html.decode()


def test_wizard_with_a_carrier_but_no_address_yet(client, merchant):
    html = client.get("/console/waybill-service/apply/", {"carrier": "SF"}).content.decode()
    assert 'name="monthly_account"' in html and "顺丰速运" in html


def test_wizard_prefills_the_contact_from_the_address(client, merchant):
    address = merchant.addresses.get()
    html = client.get(
        "/console/waybill-service/apply/", {"carrier": "ZTO", "address": address.pk}
    ).content.decode()
    assert f'name="contact_name" value="{address.contact_name}"' in html


def test_wizard_asks_for_the_account_the_connected_gateway_orders_on(client, merchant):
    """ZTO on the sandbox asks for no account; connected through Kuaidi100 (numbers ordered
    on the merchant's partner account from the branch) it asks for both, on the page and
    in the API's carrier list."""
    from carriers.gateways import gateways_forget
    from tests.conftest import token_client
    from tests.fakes.kuaidi100 import FakeKuaidi100, connect

    address = merchant.addresses.get()
    page = {"carrier": "ZTO", "address": address.pk}
    api = token_client(merchant)
    html = client.get("/console/waybill-service/apply/", page).content.decode()
    assert 'name="monthly_account"' not in html and 'name="secret_key"' not in html
    zto = next(c for c in api.get("/api/v1/carriers/").json() if c["code"] == "ZTO")
    assert zto["account_fields"] == []
    connect(FakeKuaidi100())  # configured only: no call is made
    gateways_forget()
    html = client.get("/console/waybill-service/apply/", page).content.decode()
    assert 'name="monthly_account"' in html and 'name="secret_key"' in html
    zto = next(c for c in api.get("/api/v1/carriers/").json() if c["code"] == "ZTO")
    assert zto["account_fields"] == ["monthly_account", "secret_key"]
    sf = next(c for c in api.get("/api/v1/carriers/").json() if c["code"] == "SF")
    assert sf["account_fields"] == ["monthly_account"]  # the catalog's: SF needs its card
