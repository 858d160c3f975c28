"""Dropship pages with the Django test client: the merchant's 代发管理 pages in the console
and the factory portal. Each side's pages render for it and send the other side away;
another shop's binding, allocation, factory order or statement is a 404; the factory's
pages never carry the consumer's name, phone or street, the real order number or the
merchant's shop number; the forms post and change state through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from dropship.models import (
    Allocation,
    Binding,
    DropshipProfile,
    FactoryOrder,
    SettlementPrice,
    Statement,
)
from dropship.services import statements as statement_services
from shops import services as shop_services
from shops.errors import AlreadyShipped, OrderBlocked
from shops.models import AfterSaleStatus, Order
from tests.conftest import main_actor, make_shop, make_user
from tests.dropship.conftest import (
    FACTORY_NO,
    MERCHANT_NO,
    SECRETS,
    allocated,
    bind,
    make_factory,
    make_merchant,
    new_order,
    returned,
)
from tests.waybills.conftest import SENDER
from waybill_console.crypto import mask_code
from waybill_console.jobs import job_run

pytestmark = pytest.mark.django_db

MERCHANT_PAGES = (
    "console:dropship_home",
    "console:dropship_bindings",
    "console:dropship_orders",
    "console:dropship_statements",
)
FACTORY_PAGES = (
    "factory:home",
    "factory:bindings",
    "factory:orders",
    "factory:prices",
    "factory:statements",
)
#: console pages a factory needs for its own e-waybill account
FACTORY_CONSOLE_PAGES = (
    "console:subscription_list",
    "console:waybill_usage",
    "console:printer_list",
    "console:label_template_list",
    "console:print_job_list",
    "console:address_list",
)


def login(client, shop):
    client.force_login(shop.memberships.get(role="main").user)
    return client


def text(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def zh(err) -> str:
    with translation.override("zh-hans"):
        return err.render_message()


@pytest.fixture
def as_merchant(client, merchant):
    return login(client, merchant)


@pytest.fixture
def factory_client(factory):
    from django.test import Client

    return login(Client(), factory)


@pytest.fixture
def merchant_address(merchant):
    return shop_services.address_create(
        actor=main_actor(merchant), data={**SENDER, "contact_name": "退货仓"}
    )


# --- each side's pages ----------------------------------------------------------------------


@pytest.mark.parametrize("name", MERCHANT_PAGES)
def test_merchant_pages_render_for_a_merchant(as_merchant, binding, name):
    response = as_merchant.get(reverse(name))
    assert response.status_code == 200
    assert 'data-testid="nav-dropship"' in text(response)


@pytest.mark.parametrize("name", FACTORY_PAGES)
def test_factory_pages_render_for_a_factory(factory_client, binding, name):
    response = factory_client.get(reverse(name))
    assert response.status_code == 200
    html = text(response)
    assert 'data-testid="nav-factory-orders"' in html
    assert 'data-testid="nav-dropship"' not in html


@pytest.mark.parametrize("name", FACTORY_PAGES)
def test_a_merchant_is_sent_away_from_factory_pages(as_merchant, name):
    response = as_merchant.get(reverse(name))
    assert response.status_code == 302
    assert response.url == reverse("console:dropship_home")


@pytest.mark.parametrize("name", MERCHANT_PAGES[1:])
def test_a_factory_is_sent_away_from_merchant_pages(factory_client, name):
    response = factory_client.get(reverse(name))
    assert response.status_code == 302
    assert response.url == reverse("factory:home")


def test_the_dropship_home_points_a_factory_to_its_portal(factory_client):
    html = text(factory_client.get(reverse("console:dropship_home")))
    assert 'data-testid="factory-portal-link"' in html


@pytest.mark.parametrize("name", FACTORY_CONSOLE_PAGES)
def test_a_factory_opens_the_console_pages_of_its_own_waybill_account(factory_client, name):
    response = factory_client.get(reverse(name))
    assert response.status_code == 200
    assert 'data-testid="nav-factory-orders"' in text(response)


# --- identity and bindings --------------------------------------------------------------------


def test_a_new_shop_chooses_factory_and_lands_on_the_portal(client, db):
    shop = make_shop("230001", user=make_user("new-factory"))
    login(client, shop)
    response = client.post(reverse("console:dropship_home"), {"identity": "factory"})
    assert response.status_code == 302 and response.url == reverse("factory:home")
    assert DropshipProfile.objects.get(shop=shop).identity == "factory"
    assert client.get(reverse("factory:home")).status_code == 200


def test_a_merchant_saves_its_dropship_name_and_sender(as_merchant, merchant):
    response = as_merchant.post(
        reverse("console:dropship_home"),
        {"identity": "merchant", "display_name": "新代发名", "sender_name": "新发货人",
         "sender_phone": "13800003333", "sender_detail": "新地址 1 号"},
    )  # fmt: skip
    assert response.status_code == 302
    profile = DropshipProfile.objects.get(shop=merchant)
    assert (profile.display_name, profile.sender_name, profile.sender_detail) == (
        "新代发名",
        "新发货人",
        "新地址 1 号",
    )


def test_a_merchant_without_a_sender_is_told_which_fields_are_missing(client, db):
    shop = make_shop("130009", user=make_user("bare"))
    login(client, shop)
    response = client.post(reverse("console:dropship_home"), {"identity": "merchant"})
    assert response.status_code == 400
    html = text(response)
    assert 'data-error-code="VALIDATION_ERROR"' in html and "sender_phone" in html
    assert not DropshipProfile.objects.filter(shop=shop).exists()


def test_identity_locked_after_a_binding_request_is_shown(as_merchant, merchant, binding):
    html = text(as_merchant.get(reverse("console:dropship_home")))
    assert 'data-testid="identity-locked"' in html
    response = as_merchant.post(reverse("console:dropship_home"), {"identity": "factory"})
    assert response.status_code == 409
    assert 'data-error-code="DROPSHIP_IDENTITY_LOCKED"' in text(response)
    assert DropshipProfile.objects.get(shop=merchant).identity == "merchant"


def test_bind_a_factory_by_its_shop_number_then_it_confirms(as_merchant, merchant, factory):
    response = as_merchant.post(
        reverse("console:dropship_binding_request"), {"factory_shop_no": FACTORY_NO}
    )
    assert response.status_code == 302
    binding = Binding.objects.get(merchant=merchant, factory=factory)
    assert binding.status == "pending"
    html = text(as_merchant.get(reverse("console:dropship_bindings")))
    assert f'data-testid="binding-{binding.pk}"' in html and 'data-status="pending"' in html

    from django.test import Client

    factory_client = login(Client(), factory)
    html = text(factory_client.get(reverse("factory:bindings")))
    assert f'data-testid="binding-{binding.pk}"' in html
    assert mask_code(MERCHANT_NO) in html and "星河代发" in html
    assert MERCHANT_NO not in html
    assert text(factory_client.get(reverse("factory:home"))).count('data-testid="pending-count">1<')
    response = factory_client.post(reverse("factory:binding_action", args=[binding.pk, "confirm"]))
    assert response.status_code == 302
    binding.refresh_from_db()
    assert binding.status == "active" and binding.confirmed_at is not None


def test_binding_a_shop_that_is_not_a_factory_says_so(as_merchant, merchant, db):
    other = make_merchant("110777", username="other-merchant")
    response = as_merchant.post(
        reverse("console:dropship_binding_request"), {"factory_shop_no": other.shop_no}
    )
    assert response.status_code == 422
    html = text(response)
    assert 'data-error-code="NOT_A_FACTORY"' in html and "请输入正确的厂家店铺ID" in html
    assert 'value="110777"' in html  # what was typed stays in the field
    assert not Binding.objects.exists()


def test_the_factory_rejects_and_either_side_unbinds(
    as_merchant, merchant, factory, factory_client
):
    pending = as_merchant.post(
        reverse("console:dropship_binding_request"), {"factory_shop_no": FACTORY_NO}
    )
    assert pending.status_code == 302
    binding = Binding.objects.get()
    factory_client.post(reverse("factory:binding_action", args=[binding.pk, "reject"]))
    binding.refresh_from_db()
    assert binding.status == "rejected"

    active = bind(merchant, factory)
    as_merchant.post(reverse("console:dropship_binding_unbind", args=[active.pk]))
    active.refresh_from_db()
    assert (active.status, active.ended_by) == ("unbound", "merchant")

    again = bind(merchant, factory)
    factory_client.post(reverse("factory:binding_action", args=[again.pk, "unbind"]))
    again.refresh_from_db()
    assert (again.status, again.ended_by) == ("unbound", "factory")


# --- the merchant's dropship list ---------------------------------------------------------------


def test_the_merchant_allocates_items_and_sees_where_each_went(
    as_merchant, merchant, factory, order
):
    cup, lid = list(order.items.order_by("pk"))
    response = as_merchant.post(
        reverse("console:dropship_allocate"),
        {"factory": FACTORY_NO, "items": [cup.pk], "state": "unallocated"},
    )
    assert response.status_code == 302
    assert response.url == reverse("console:dropship_orders") + "?state=unallocated"
    allocation = Allocation.objects.get(order_item=cup)
    assert (allocation.status, allocation.factory_id) == ("allocated", factory.pk)
    assert not Allocation.objects.filter(order_item=lid).exists()

    response = as_merchant.get(reverse("console:dropship_orders"))
    html = text(response)
    assert order.order_no in html
    fo = FactoryOrder.objects.get(order=order)
    assert f'data-testid="shipment-{fo.pk}"' in html and 'data-state="allocated"' in html
    assert "义乌优品工厂" in html

    tabs = text(as_merchant.get(reverse("console:dropship_orders") + "?state=allocated"))
    assert order.order_no in tabs
    shipped = text(as_merchant.get(reverse("console:dropship_orders") + "?state=shipped"))
    assert order.order_no not in shipped


def test_allocating_whole_orders_reports_each_refusal(as_merchant, merchant, factory, binding):
    good = new_order(merchant)
    blocked = new_order(merchant)
    shop_services.order_start_after_sale(actor=main_actor(merchant), order=blocked)
    response = as_merchant.post(
        reverse("console:dropship_allocate"),
        {"factory": FACTORY_NO, "orders": [good.pk, blocked.pk]},
        follow=True,
    )
    notes = messages_of(response)
    expected = zh(OrderBlocked(reason=AfterSaleStatus.IN_PROGRESS.label))
    assert any(str(blocked.pk) in m and expected in m for m in notes), notes
    assert Allocation.objects.filter(order=good, status="allocated").count() == 2
    assert not Allocation.objects.filter(order=blocked).exists()


def test_the_merchant_cancels_an_allocation(as_merchant, merchant, factory, order):
    fo = allocated(merchant, factory, order)
    allocation = Allocation.objects.filter(factory_order=fo).first()
    response = as_merchant.post(
        reverse("console:dropship_allocation_cancel", args=[allocation.pk]),
        {"next": "/console/dropship/orders/?state=allocated"},
    )
    assert (
        response.status_code == 302 and response.url == "/console/dropship/orders/?state=allocated"
    )
    allocation.refresh_from_db()
    assert allocation.status == "cancelled"


def test_the_merchant_sees_the_returned_number_and_ships_with_a_return_address(
    as_merchant, merchant, factory, factory_sub, merchant_address, binding
):
    fo = returned(merchant, factory, factory_sub)
    html = text(as_merchant.get(reverse("console:dropship_orders") + "?state=returned"))
    assert fo.tracking_no in html and 'data-state="returned"' in html

    response = as_merchant.post(
        reverse("console:dropship_ship", args=[fo.pk]),
        {"return_address": merchant_address.pk, "next": "/console/dropship/orders/"},
    )
    assert response.status_code == 302
    fo.refresh_from_db()
    assert (fo.shipped_by, fo.return_address_id) == ("merchant", merchant_address.pk)
    order = Order.objects.get(pk=fo.order_id)
    assert (order.status, order.tracking_no) == ("shipped", fo.tracking_no)

    # the factory's second attempt is told "already shipped"
    from django.test import Client

    again = login(Client(), factory).post(
        reverse("factory:order_ship", args=[fo.pk]), {"confirm": "1"}, follow=True
    )
    assert zh(AlreadyShipped()) in " ".join(messages_of(again))


def test_batch_ship_reports_what_was_refused(as_merchant, merchant, factory, factory_sub, binding):
    shipped = returned(merchant, factory, factory_sub)
    waiting = allocated(merchant, factory)
    response = as_merchant.post(
        reverse("console:dropship_ship_batch"),
        {"shipments": [shipped.pk, waiting.pk], "confirm": "1"},
        follow=True,
    )
    notes = " ".join(messages_of(response))
    assert f"#{waiting.pk}" in notes
    shipped.refresh_from_db()
    waiting.refresh_from_db()
    assert shipped.shipped_at is not None and waiting.shipped_at is None


# --- the factory's orders ---------------------------------------------------------------------


def test_the_factory_order_page_shows_only_masked_data(factory_client, merchant, factory, order):
    fo = allocated(merchant, factory, order)
    SettlementPrice.objects.create(factory=factory, merchant=merchant, sku="CUP-1", price="12.50")
    response = factory_client.get(reverse("factory:orders"))
    html = text(response)
    assert f'data-testid="factory-order-{fo.pk}"' in html
    assert mask_code(order.order_no) in html and mask_code(MERCHANT_NO) in html
    assert "保温杯" in html and "500ml 白色" in html and "×2" in html
    assert "¥12.50" in html and 'data-testid="missing-price"' in html  # LID-2 has none
    assert order.receiver_name_masked in html and order.receiver_phone_masked in html
    for secret in (*SECRETS, order.order_no, MERCHANT_NO):
        assert secret not in html, secret
    for name in FACTORY_PAGES:
        page = text(factory_client.get(reverse(name)))
        for secret in (*SECRETS, order.order_no, MERCHANT_NO):
            assert secret not in page, (name, secret)


def test_the_factory_filters_by_merchant_without_its_shop_number(
    factory_client, merchant, factory, binding, order
):
    fo = allocated(merchant, factory, order)
    other = make_merchant("110888", username="second-merchant", display_name="另一家")
    other_binding = bind(other, factory)
    other_fo = allocated(other, factory)
    html = text(factory_client.get(reverse("factory:orders") + f"?merchant={binding.pk}"))
    assert f'data-testid="factory-order-{fo.pk}"' in html
    assert f'data-testid="factory-order-{other_fo.pk}"' not in html
    assert f'value="{other_binding.pk}"' in html and "110888" not in html
    returned_only = text(factory_client.get(reverse("factory:orders") + "?returned=yes"))
    assert f'data-testid="factory-order-{fo.pk}"' not in returned_only


def test_the_factory_prints_a_pdf_with_its_own_service_and_the_number_goes_back(
    factory_client, as_merchant, merchant, factory, factory_sub, binding
):
    first, second = allocated(merchant, factory), allocated(merchant, factory)
    response = factory_client.post(
        reverse("factory:order_print"),
        {"orders": [first.pk, second.pk], "subscription": factory_sub.pk, "print_target": "pdf"},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert "attachment" in response["Content-Disposition"]
    for fo in (first, second):
        fo.refresh_from_db()
        assert fo.returned_at is not None and fo.waybill.shop_id == factory.pk
    factory_sub.refresh_from_db()
    assert factory_sub.balance == 8

    html = text(as_merchant.get(reverse("console:dropship_orders")))
    assert first.tracking_no in html and second.tracking_no in html


def test_printing_an_order_in_after_sale_is_refused_with_its_reason(
    factory_client, merchant, factory, factory_sub, order
):
    fo = allocated(merchant, factory, order)
    shop_services.order_start_after_sale(actor=main_actor(merchant), order=order)
    response = factory_client.post(
        reverse("factory:order_print"),
        {"orders": [fo.pk], "subscription": factory_sub.pk, "print_target": "pdf"},
        follow=True,
    )
    assert response.status_code == 200
    expected = zh(OrderBlocked(reason=AfterSaleStatus.IN_PROGRESS.label))
    assert expected in " ".join(messages_of(response))
    fo.refresh_from_db()
    assert fo.returned_at is None and fo.waybill_id is None
    factory_sub.refresh_from_db()
    assert factory_sub.balance == 10


def test_the_factory_returns_a_number_by_hand_and_ships(factory_client, merchant, factory, order):
    fo = allocated(merchant, factory, order)
    response = factory_client.post(
        reverse("factory:order_return", args=[fo.pk]),
        {"carrier": "ZTO", "tracking_no": "73100000009999", "next": "/factory/orders/"},
    )
    assert response.status_code == 302 and response.url == "/factory/orders/"
    fo.refresh_from_db()
    assert (fo.carrier_code, fo.tracking_no) == ("ZTO", "73100000009999")
    response = factory_client.post(reverse("factory:order_ship", args=[fo.pk]), {"confirm": "1"})
    fo.refresh_from_db()
    assert fo.shipped_by == "factory"


def test_a_bad_manual_number_is_refused_and_nothing_changes(
    factory_client, merchant, factory, order
):
    fo = allocated(merchant, factory, order)
    response = factory_client.post(
        reverse("factory:order_return", args=[fo.pk]),
        {"carrier": "ZTO", "tracking_no": "12"},
        follow=True,
    )
    assert "tracking_no" in " ".join(messages_of(response))
    fo.refresh_from_db()
    assert fo.returned_at is None and fo.tracking_no == ""


# --- prices -------------------------------------------------------------------------------------


def test_prices_page_lists_missing_prices_first_and_saves_them(
    factory_client, merchant, factory, order
):
    allocated(merchant, factory, order)
    SettlementPrice.objects.create(factory=factory, merchant=merchant, sku="CUP-1", price="12.50")
    response = factory_client.get(reverse("factory:prices"))
    html = text(response)
    rows = response.context["rows"]
    assert [(r["sku"], r["missing"]) for r in rows] == [("LID-2", True), ("CUP-1", False)]
    assert 'data-testid="missing-alert"' in html and MERCHANT_NO not in html

    post = {"rows": "2"}
    for r in rows:
        post.update(
            {
                f"ref-{r['index']}": r["ref"],
                f"sku-{r['index']}": r["sku"],
                f"product-{r['index']}": r["product_name"],
                f"shown-{r['index']}": r["price"],
                f"price-{r['index']}": r["price"],
            }
        )
    post["price-0"] = "3.20"
    response = factory_client.post(reverse("factory:prices"), post)
    assert response.status_code == 302
    prices = dict(SettlementPrice.objects.filter(factory=factory).values_list("sku", "price"))
    assert {k: str(v) for k, v in prices.items()} == {"CUP-1": "12.50", "LID-2": "3.20"}

    post["shown-0"], post["price-0"] = "3.20", "-1"
    refused = factory_client.post(reverse("factory:prices"), post)
    assert refused.status_code == 400 and 'data-testid="price-error"' in text(refused)
    assert str(SettlementPrice.objects.get(sku="LID-2").price) == "3.20"


# --- statements ---------------------------------------------------------------------------------


def test_statements_are_requested_limited_generated_and_downloaded(
    as_merchant, merchant, factory, factory_sub, factory_client, binding, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    fo = returned(merchant, factory, factory_sub)
    today = timezone.localdate().isoformat()
    form = {"factory": FACTORY_NO, "date_from": today, "date_to": today, "format": "csv"}
    response = as_merchant.post(reverse("console:dropship_statements"), form)
    assert response.status_code == 302
    statement = Statement.objects.get()
    assert statement.requested_by_id == merchant.pk

    html = text(as_merchant.get(reverse("console:dropship_statements")))
    assert 'data-status="generating"' in html and 'data-testid="statement-download"' not in html

    again = as_merchant.post(reverse("console:dropship_statements"), form)
    assert again.status_code == 429
    assert 'data-error-code="STATEMENT_LIMIT"' in text(again)
    assert "同一个厂家每天最多生成3次对账单" in text(again)
    assert Statement.objects.count() == 1

    job_run(job_id=statement.job_id)
    html = text(as_merchant.get(reverse("console:dropship_statements")))
    assert 'data-status="generated"' in html and 'data-testid="statement-download"' in html
    download = as_merchant.get(reverse("console:dropship_statement_download", args=[statement.pk]))
    assert download.status_code == 200
    body = b"".join(download.streaming_content).decode("utf-8-sig")
    assert fo.tracking_no in body and "缺少结算价" in body

    # the factory lists it but may not download the merchant's copy
    html = text(factory_client.get(reverse("factory:statements")))
    assert f'data-testid="statement-{statement.pk}"' in html
    assert 'data-testid="statement-download"' not in html
    refused = factory_client.get(reverse("factory:statement_download", args=[statement.pk]))
    assert refused.status_code == 404


def test_the_factory_requests_a_statement_by_merchant_reference(
    factory_client, merchant, factory, binding, factory_sub, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    fo = returned(merchant, factory, factory_sub)
    today = timezone.localdate()
    response = factory_client.post(
        reverse("factory:statements"),
        {"merchant": binding.pk, "date_from": (today - timedelta(days=1)).isoformat(),
         "date_to": today.isoformat(), "format": "csv"},
    )  # fmt: skip
    assert response.status_code == 302
    statement = Statement.objects.get()
    assert (statement.merchant_id, statement.requested_by_id) == (merchant.pk, factory.pk)
    job_run(job_id=statement.job_id)
    download = factory_client.get(reverse("factory:statement_download", args=[statement.pk]))
    body = b"".join(download.streaming_content).decode("utf-8-sig")
    assert fo.tracking_no in body
    assert MERCHANT_NO not in body and fo.order.order_no not in body


# --- other shops' objects -----------------------------------------------------------------------


def test_another_shops_binding_allocation_factory_order_and_statement_are_404(
    client, merchant, factory, factory_sub, binding, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    fo = returned(merchant, factory, factory_sub)
    waiting = allocated(merchant, factory)
    allocation = Allocation.objects.filter(factory_order=waiting).first()
    statement = statement_services.statement_start(
        actor=main_actor(merchant), counterpart=FACTORY_NO, date_from="2026-11-01",
        date_to="2026-11-02",
    )  # fmt: skip
    intruder = make_merchant("110999", username="intruder")
    rogue = make_factory("210999", username="rogue")
    login(client, intruder)
    for url in (
        reverse("console:dropship_binding_unbind", args=[binding.pk]),
        reverse("console:dropship_allocation_cancel", args=[allocation.pk]),
        reverse("console:dropship_ship", args=[fo.pk]),
    ):
        assert client.post(url).status_code == 404, url
    download = reverse("console:dropship_statement_download", args=[statement.pk])
    assert client.get(download).status_code == 404

    login(client, rogue)
    for url in (
        reverse("factory:binding_action", args=[binding.pk, "confirm"]),
        reverse("factory:binding_action", args=[binding.pk, "unbind"]),
        reverse("factory:order_return", args=[waiting.pk]),
        reverse("factory:order_ship", args=[fo.pk]),
    ):
        assert client.post(url).status_code == 404, url
    assert client.get(reverse("factory:statement_download", args=[statement.pk])).status_code == 404
    printed = client.post(
        reverse("factory:order_print"), {"orders": [waiting.pk], "print_target": "pdf"}, follow=True
    )
    assert printed.status_code == 200
    waiting.refresh_from_db()
    binding.refresh_from_db()
    assert waiting.waybill_id is None and binding.status == "active"
    fo.refresh_from_db()
    assert fo.shipped_at is None
