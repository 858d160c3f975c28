"""Tokens, scopes, throttling, idempotency keys and the OpenAPI schema."""

import threading

import pytest
from django.core.management import call_command
from django.db import connection

from carriers.models import Branch, Carrier
from shops.models import ApiToken, Order
from tests.conftest import token_client
from tests.waybill_console.test_errors import VALID
from waybill_console.api import TokenRateThrottle

pytestmark = pytest.mark.django_db


def test_token_is_stored_hashed_and_bound_to_its_shop(shop_a, capsys):
    call_command("create_api_token", "--shop", "100001", "--scopes", "order.manage,print")
    key = capsys.readouterr().out.strip()
    token = ApiToken.objects.get()
    assert len(key) >= 40 and "\n" not in key
    assert token.shop == shop_a and token.scopes == ["order.manage", "print"]
    assert token.key_hash != key and key not in token.key_hash

    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    me = api.get("/api/v1/me/").json()
    assert me == {
        "shop_no": "100001",
        "shop_name": shop_a.name,
        "shop_type": "enterprise",
        "shop_type_label": "企业店",
        "permissions": ["order.manage", "print"],
    }


def test_branch_token_cannot_use_shop_endpoints(db):
    carrier = Carrier.objects.get(code="ZTO")  # from the catalog migration
    Branch.objects.create(carrier=carrier, code="571001", name="杭州西湖网点")
    from io import StringIO

    out = StringIO()
    call_command("create_api_token", "--carrier", "zto", "--branch", "571001", stdout=out)
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")
    response = api.get("/api/v1/orders/")
    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"


def test_token_scope_limits_what_it_may_do(shop_a):
    response = token_client(shop_a, scopes=["print"]).post("/api/v1/orders/", VALID, format="json")
    assert response.status_code == 403
    assert Order.objects.count() == 0


def test_rate_limit_answers_429_rate_limited(shop_a, monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "3/min"})
    api = token_client(shop_a)
    codes = [api.get("/api/v1/orders/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = api.get("/api/v1/orders/")
    assert response.json()["code"] == "RATE_LIMITED"
    assert 55 <= int(response["Retry-After"]) <= 61  # the rest of the one-minute window


def test_rate_limit_counts_per_token_in_redis(shop_a, monkeypatch):
    from django.core.cache import cache

    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "2/min"})
    first, second = token_client(shop_a), token_client(shop_a)
    assert [first.get("/api/v1/orders/").status_code for _ in range(3)] == [200, 200, 429]
    assert second.get("/api/v1/orders/").status_code == 200
    keys = cache._cache.get_client().keys("wbc:*throttle_token_*")
    assert len(keys) == 2


def test_idempotency_key_replays_the_first_answer(shop_a):
    api = token_client(shop_a)
    first = api.post("/api/v1/orders/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = api.post("/api/v1/orders/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1


def test_idempotency_key_reused_for_another_body_is_refused(shop_a):
    api = token_client(shop_a)
    api.post("/api/v1/orders/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    other = {**VALID, "order_no": "API-2"}
    response = api.post("/api/v1/orders/", other, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert response.status_code == 422
    assert response.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert Order.objects.count() == 1


def test_refused_request_does_not_burn_its_key(shop_a):
    api = token_client(shop_a)
    bad = {**VALID, "receiver": {**VALID["receiver"], "phone": "1"}}
    assert (
        api.post("/api/v1/orders/", bad, format="json", HTTP_IDEMPOTENCY_KEY="k-3").status_code
        == 400
    )
    assert (
        api.post("/api/v1/orders/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="k-3").status_code
        == 201
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_create_one_order(shop_a):
    """Eight parallel connections on PostgreSQL, one credential, one Idempotency-Key:
    exactly one order."""
    from rest_framework.test import APIClient

    from shops.services import api_token_create

    results = []
    barrier = threading.Barrier(8)
    _token, key = api_token_create(shop=shop_a)
    clients = [APIClient() for _ in range(8)]
    for client in clients:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    def call(api):
        try:
            barrier.wait()
            r = api.post("/api/v1/orders/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="race")
            results.append(r.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=call, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert Order.objects.filter(order_no="API-1").count() == 1
    assert results.count(201) >= 1
    assert set(results) <= {201, 409}


def test_schema_is_valid_openapi_3(client, db):
    from drf_spectacular.validation import validate_schema

    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)
    assert "/api/v1/orders/" in schema["paths"]
    assert "/api/v1/orders/{order_id}/" in schema["paths"]


def test_docs_page_uses_locally_served_assets(client, db):
    html = client.get("/api/v1/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200
