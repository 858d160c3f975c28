"""A factory only ever sees, and only ever names, the merchant's masked id: the price API
answers with it, every factory filter and request takes only it (a shop number matches
nothing, so no answer tells a factory which shop numbers exist), and no error carries an
internal id. Binding a factory twice is refused (BINDING_EXISTS), on the API and the page."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from dropship.models import Binding, SettlementPrice, Statement
from dropship.services import identity
from tests.conftest import main_actor, token_client
from tests.dropship.conftest import MERCHANT_NO, allocated, make_merchant, returned

MASKED = "11**01"  # what the factory sees of shop 110101
OTHER_NO = "110202"  # a merchant that exists but never bound this factory


@pytest.fixture
def stranger(db):
    return make_merchant(OTHER_NO, username="other-merchant")


def test_the_price_api_answers_with_the_masked_merchant_id(merchant, factory, binding):
    allocated(merchant, factory)
    api = token_client(factory, language="en")
    response = api.get("/api/v1/dropship/prices/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert {(r["merchant"], r["sku"]) for r in rows} == {(MASKED, "CUP-1"), (MASKED, "LID-2")}
    assert MERCHANT_NO not in response.content.decode()

    saved = api.put(
        "/api/v1/dropship/prices/",
        {"prices": [{"merchant": MASKED, "sku": "CUP-1", "price": "12.50"}]},
        format="json",
    )
    assert saved.status_code == 200, saved.content
    assert MERCHANT_NO not in saved.content.decode()
    assert list(SettlementPrice.objects.values_list("merchant__shop_no", "sku", "price")) == [
        (MERCHANT_NO, "CUP-1", pytest.approx(12.5))
    ]


@pytest.mark.parametrize("named", [MERCHANT_NO, OTHER_NO, "999999", "11*01", ""])
def test_the_price_api_refuses_anything_but_a_bound_merchants_masked_id(
    merchant, factory, binding, stranger, named
):
    allocated(merchant, factory)
    api = token_client(factory, language="en")
    response = api.put(
        "/api/v1/dropship/prices/",
        {"prices": [{"merchant": named, "sku": "CUP-1", "price": "12.50"}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "VALIDATION_ERROR",
        "message": "Some fields are not valid.",
        "detail": {
            "prices[0].merchant": [
                "The masked ID of a merchant bound to your factory, as shown to you."
            ]
        },
    }
    assert SettlementPrice.objects.count() == 0


def test_the_factory_order_filter_is_no_unmasking_oracle(merchant, factory, binding, stranger):
    """Guessing shop numbers in ``?merchant=`` finds nothing, whether the number is the
    bound merchant's, another shop's or nobody's: all answers are the same empty list."""
    fo = allocated(merchant, factory)
    api = token_client(factory, language="en")
    by_mask = api.get("/api/v1/dropship/factory-orders/", {"merchant": MASKED}).json()
    assert [row["id"] for row in by_mask["results"]] == [fo.pk]
    assert by_mask["results"][0]["merchant"] == MASKED
    answers = {
        guess: api.get("/api/v1/dropship/factory-orders/", {"merchant": guess}).json()
        for guess in (MERCHANT_NO, OTHER_NO, "999999", "1" * 20)
    }
    assert all(
        a == {"count": 0, "next": None, "previous": None, "results": []} for a in answers.values()
    )


@pytest.mark.parametrize("key", ["merchant", "factory"])
@pytest.mark.parametrize("named", [MERCHANT_NO, OTHER_NO, "999999"])
def test_a_factory_statement_request_takes_only_the_masked_id(
    merchant, factory, binding, stranger, key, named
):
    """Bound, existing-but-unbound or unknown shop numbers all get the same refusal."""
    api = token_client(factory, language="en")
    today = timezone.localdate().isoformat()
    response = api.post(
        "/api/v1/dropship/statements/",
        {key: named, "date_from": today, "date_to": today},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["detail"] == {
        "merchant": ["The masked ID of a merchant bound to your factory, as shown to you."]
    }
    assert Statement.objects.count() == 0
    ok = api.post(
        "/api/v1/dropship/statements/",
        {"merchant": MASKED, "date_from": today, "date_to": today},
        format="json",
    )
    assert ok.status_code == 202, ok.content
    assert MERCHANT_NO not in ok.content.decode()


def test_binding_not_active_carries_no_internal_ids(merchant, factory, binding, factory_sub):
    """After an unbind, the factory drawing again for an order it already returned is
    refused with BINDING_NOT_ACTIVE and an empty detail (it used to carry both shops'
    database ids)."""
    fo = returned(merchant, factory, factory_sub)
    identity.binding_unbind(actor=main_actor(merchant), binding_id=binding.pk)
    api = token_client(factory, language="en")
    response = api.post(
        f"/api/v1/dropship/factory-orders/{fo.pk}/waybill/",
        {"subscription": factory_sub.pk},
        format="json",
    )
    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["detail"]) == ("BINDING_NOT_ACTIVE", {})
    assert str(merchant.pk) not in response.content.decode().replace(str(fo.pk), "")


# --- binding twice ---------------------------------------------------------------------------


def test_binding_a_factory_twice_is_refused_on_the_api(merchant, factory):
    api = token_client(merchant, language="en")
    first = api.post(
        "/api/v1/dropship/bindings/", {"factory_shop_no": factory.shop_no}, format="json"
    )
    assert first.status_code == 201
    again = api.post(
        "/api/v1/dropship/bindings/", {"factory_shop_no": factory.shop_no}, format="json"
    )
    assert again.status_code == 409
    assert again.json() == {
        "code": "BINDING_EXISTS",
        "message": "A binding request to this factory is already waiting for the factory to "
        "confirm it.",
        "detail": {"status": "pending"},
    }
    identity.binding_confirm(actor=main_actor(factory), binding_id=first.json()["id"])
    bound = api.post(
        "/api/v1/dropship/bindings/", {"factory_shop_no": factory.shop_no}, format="json"
    )
    assert bound.status_code == 409
    assert bound.json() == {
        "code": "BINDING_EXISTS",
        "message": "This factory is already bound to your shop.",
        "detail": {"status": "active"},
    }
    assert list(Binding.objects.values_list("pk", "status")) == [(first.json()["id"], "active")]


def test_binding_a_bound_factory_again_is_refused_on_the_page(merchant, factory, binding):
    browser = Client()
    browser.force_login(merchant.memberships.get().user)
    response = browser.post(
        "/console/dropship/factories/bind/", {"factory_shop_no": f" {factory.shop_no} "}
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "该厂家已与您的店铺绑定，无需重复绑定。" in html
    assert 'data-error-code="BINDING_EXISTS"' in html
    assert list(Binding.objects.values_list("pk", "status")) == [(binding.pk, "active")]


def test_after_an_unbind_the_factory_can_be_bound_again(merchant, factory, binding):
    identity.binding_unbind(actor=main_actor(merchant), binding_id=binding.pk)
    api = token_client(merchant, language="en")
    again = api.post(
        "/api/v1/dropship/bindings/", {"factory_shop_no": factory.shop_no}, format="json"
    )
    assert again.status_code == 201 and again.json()["status"] == "pending"
