"""The language and message middleware: what pages need, and nothing more for the API."""

import pytest
from django.urls import reverse
from django.utils import translation

from tests.conftest import token_client

pytestmark = pytest.mark.django_db


def _no_language_from_path(path):
    raise AssertionError(f"the language was looked up in the path {path!r}")


def test_the_language_comes_from_the_cookie_or_header_never_the_path(shop_a, monkeypatch):
    monkeypatch.setattr(translation, "get_language_from_path", _no_language_from_path)
    api = token_client(shop_a)
    chinese = api.get("/api/v1/orders/999999999/")
    english = api.get("/api/v1/orders/999999999/", HTTP_ACCEPT_LANGUAGE="en")
    assert chinese.status_code == english.status_code == 404
    assert chinese["Content-Language"] == "zh-hans" and english["Content-Language"] == "en"
    assert "Accept-Language" in chinese["Vary"]
    assert chinese.json()["message"] != english.json()["message"]


def test_the_english_switch_sets_the_pages_language(client, shop_a, monkeypatch):
    monkeypatch.setattr(translation, "get_language_from_path", _no_language_from_path)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = client.get(reverse("login"))
    assert page["Content-Language"] == "en"
    assert b"Log in" in page.content or b"Sign in" in page.content


def test_api_requests_build_no_message_store_pages_do(client, shop_a):
    api = token_client(shop_a)
    assert not hasattr(api.get("/api/v1/me/").wsgi_request, "_messages")
    assert hasattr(client.get(reverse("login")).wsgi_request, "_messages")
