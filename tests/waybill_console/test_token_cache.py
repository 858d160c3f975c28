"""API tokens cached per process, checked against the Redis generation on every request."""

import pytest
import redis
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shops import services as shop_services
from shops.models import ApiToken
from tests.conftest import main_actor
from waybill_console import api_tokens
from waybill_console.api import redis_client

pytestmark = pytest.mark.django_db


def _client(shop, **kw):
    from rest_framework.test import APIClient

    token, key = shop_services.api_token_create(shop=shop, **kw)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api, token, key


def _token_reads(queries) -> int:
    return sum("wbc_token" in q["sql"] or "shops_apitoken" in q["sql"] for q in queries)


def test_a_cached_token_is_not_read_from_postgresql_again(shop_a):
    api, _, _ = _client(shop_a)
    assert api.get("/api/v1/me/").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert api.get("/api/v1/me/").status_code == 200
    assert _token_reads(queries.captured_queries) == 0


def test_revoking_a_token_refuses_it_at_once(shop_a, django_capture_on_commit_callbacks):
    api, token, _ = _client(shop_a)
    assert api.get("/api/v1/me/").status_code == 200  # now cached
    with django_capture_on_commit_callbacks(execute=True):
        shop_services.api_token_revoke(actor=main_actor(shop_a), token_id=token.pk)
    assert api.get("/api/v1/me/").status_code == 401


def test_another_process_announcing_a_change_makes_this_one_read_again(shop_a):
    """Another worker revoked the token: all this process sees is a new generation."""
    api, token, _ = _client(shop_a)
    assert api.get("/api/v1/me/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked_at="2026-11-24T00:00:00Z")
    assert api.get("/api/v1/me/").status_code == 200  # cached, generation unchanged
    redis_client(cache).set(api_tokens.GENERATION_KEY, "another-process-changed-something")
    assert api.get("/api/v1/me/").status_code == 401


def test_a_shop_saved_is_seen_by_the_next_request(shop_a, django_capture_on_commit_callbacks):
    api, _, _ = _client(shop_a)
    assert api.get("/api/v1/me/").json()["shop_name"] == shop_a.name
    with django_capture_on_commit_callbacks(execute=True):
        shop_a.name = "星河家居二店"
        shop_a.save(update_fields=["name"])
    assert api.get("/api/v1/me/").json()["shop_name"] == "星河家居二店"


def test_an_entry_is_used_for_max_age_seconds_at_most(shop_a):
    _, token, key = _client(shop_a)
    now = 1000.0
    first, _ = api_tokens.token_for_key(key, now=now)
    ApiToken.objects.filter(pk=token.pk).update(name="renamed")
    cached, _ = api_tokens.token_for_key(key, now=now + api_tokens.MAX_AGE - 1)
    fresh, _ = api_tokens.token_for_key(key, now=now + api_tokens.MAX_AGE + 1)
    assert (first.name, cached.name, fresh.name) == ("", "", "renamed")


def test_each_request_gets_its_own_copy(shop_a):
    _, _, key = _client(shop_a)
    first, _ = api_tokens.token_for_key(key)
    first.shop.name = "changed by a request"
    second, _ = api_tokens.token_for_key(key)
    assert second.shop.name == shop_a.name and second.pk == first.pk


def test_without_redis_every_request_reads_postgresql(shop_a, monkeypatch):
    api, token, _ = _client(shop_a)
    assert api.get("/api/v1/me/").status_code == 200  # cached
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    monkeypatch.setattr(api_tokens, "_client", lambda: unreachable)
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/api/v1/me/").status_code == 200
    assert _token_reads(queries.captured_queries) == 1
    ApiToken.objects.filter(pk=token.pk).update(revoked_at="2026-11-24T00:00:00Z")
    assert api.get("/api/v1/me/").status_code == 401  # not served from the cache


def test_the_rate_limit_counts_each_request_once_when_counted_with_the_token(shop_a, monkeypatch):
    from waybill_console.api import TokenRateThrottle

    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "5/min"})
    api, token, _ = _client(shop_a)
    codes = [api.get("/api/v1/me/").status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    key = cache.make_key(f"throttle_token_t{token.pk}")
    assert int(redis_client(cache).get(key)) == 6
