"""One error object for every refusal: stable code, HTTP status, translated message."""

import pytest

from shops.models import Order
from tests.conftest import make_order, token_client

pytestmark = pytest.mark.django_db

VALID = {
    "order_no": "API-1",
    "items": [{"sku": "S1", "product_name": "杯子", "quantity": 1, "unit_price": "9.90"}],
    "receiver": {
        "name": "张三",
        "phone": "13812345678",
        "province": "浙江省",
        "city": "杭州市",
        "district": "西湖区",
        "detail": "文三路 1 号",
    },
}


def test_unauthenticated_api_call_is_401_error_object(db):
    from rest_framework.test import APIClient

    response = APIClient().get("/api/v1/orders/")
    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


def test_bad_token_is_401(db):
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token nope")
    assert api.get("/api/v1/orders/").json()["code"] == "NOT_AUTHENTICATED"


def test_validation_error_names_the_field_and_writes_nothing(shop_a):
    bad = {**VALID, "receiver": {**VALID["receiver"], "phone": "12345"}}
    response = token_client(shop_a).post("/api/v1/orders/", bad, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert "receiver.phone" in body["detail"]
    assert Order.objects.count() == 0


def test_missing_field_is_named(shop_a):
    response = token_client(shop_a).post("/api/v1/orders/", {"order_no": "X"}, format="json")
    assert response.status_code == 400
    assert {"items", "receiver"} <= set(response.json()["detail"])


def test_message_follows_accept_language(shop_a, shop_b):
    other = make_order(shop_b)
    zh = token_client(shop_a).get(f"/api/v1/orders/{other.pk}/").json()
    en = token_client(shop_a, language="en").get(f"/api/v1/orders/{other.pk}/").json()
    assert zh["code"] == en["code"] == "NOT_FOUND"
    assert zh["message"] == "未找到。"
    assert en["message"] == "Not found."


def test_duplicate_order_no_is_a_409_conflict(shop_a):
    api = token_client(shop_a)
    assert api.post("/api/v1/orders/", VALID, format="json").status_code == 201
    response = api.post("/api/v1/orders/", VALID, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "ORDER_NO_TAKEN"
    assert Order.objects.count() == 1


def test_create_answer_carries_ids_and_masked_receiver(shop_a):
    body = token_client(shop_a).post("/api/v1/orders/", VALID, format="json").json()
    assert body["order_no"] == "API-1" and body["status"] == "paid"
    assert body["id"] and body["items"][0]["id"]
    assert body["receiver"]["phone"] == "138****5678"
