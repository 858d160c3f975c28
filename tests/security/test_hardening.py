"""Hardening: CSRF on every form and every state-changing page route, the deploy checks
under production settings, and login brute-force lockout."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.test import Client
from django.urls import reverse

from dropship.services import profile_update
from tests.conftest import main_actor, make_shop, make_user
from tests.routes import all_routes

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


def page_routes():
    return [
        r
        for r in all_routes()
        if not r.startswith(("admin/", "api/", "static/")) and r not in ("healthz",)
    ]


def fill(route: str) -> str:
    return "/" + re.sub(
        r"<(\w+:)?(\w+)>", lambda m: "x" if m.group(1) in ("str:", "slug:", None) else "1", route
    )


def test_every_page_route_refuses_a_post_without_csrf_token(client):
    """A logged-in browser posting without the token is refused on every page route
    (Django's CSRF middleware runs before any view; no route is exempt)."""
    shop = make_shop("130001", user=make_user("csrf-user"))
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(shop.memberships.get().user)
    accepted = []
    for route in page_routes():
        response = strict.post(fill(route), {"x": "1"})
        if response.status_code != 403:
            accepted.append(f"POST {fill(route)}: {response.status_code}")
    assert len(page_routes()) > 30
    assert not accepted, "\n".join(accepted)


def test_the_api_with_a_session_needs_the_csrf_token_too():
    shop = make_shop("130002", user=make_user("csrf-api"))
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(shop.memberships.get().user)
    response = strict.post("/api/v1/addresses/", {}, content_type="application/json")
    assert response.status_code == 403
    # the same request with the token gets through to validation: it was the token
    strict.get(reverse("console:home"))
    token = strict.cookies["csrftoken"].value
    response = strict.post(
        "/api/v1/addresses/", {}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 400


def _post_forms(html: str) -> list[str]:
    return [
        m.group(0)
        for m in re.finditer(r"<form\b[^>]*>.*?</form>", html, re.S | re.I)
        if re.search(r'method="post"', m.group(0), re.I)
    ]


def test_every_post_form_on_the_main_pages_carries_the_token():
    merchant = make_shop("130003", user=make_user("forms-m"))
    factory = make_shop("230003", user=make_user("forms-f"))
    profile_update(actor=main_actor(factory), data={"identity": "factory"})
    checked = 0
    for shop in (merchant, factory):
        client = Client()
        client.force_login(shop.memberships.get().user)
        for route in page_routes():
            if "<" in route or route.startswith(("accounts/", "i18n/")):
                continue
            response = client.get("/" + route)
            if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
                continue
            for form in _post_forms(response.content.decode()):
                checked += 1
                assert "csrfmiddlewaretoken" in form, f"/{route}: {form[:200]}"
    assert checked > 10


def test_htmx_requests_send_the_csrf_header():
    """htmx posts (hx-post) carry the token from the page: base.html sets hx-headers."""
    shop = make_shop("130004", user=make_user("htmx-user"))
    client = Client()
    client.force_login(shop.memberships.get().user)
    html = client.get(reverse("console:home")).content.decode()
    assert re.search(r"hx-headers='\{\"X-CSRFToken\": \"[^\"]+\"\}'", html), html[:500]


def test_deploy_checks_are_clean_under_production_settings(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        # the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE is theirs, not production's
        if k
        not in (
            "WBC_TESTING",
            "WBC_DEV_DEFAULTS",
            "DEBUG",
            "DJANGO_SETTINGS_MODULE",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        )
    }
    db = settings.DATABASES["default"]
    env.update(
        DJANGO_SETTINGS_MODULE="waybill_console.settings",
        WBC_VAR_DIR=str(tmp_path),  # not the private dev services' defaults
        WBC_DEV_DEFAULTS="0",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="waybill.example.com",
        CSRF_TRUSTED_ORIGINS="https://waybill.example.com",
        SECURE_COOKIES="1",
        SECURE_SSL_REDIRECT="1",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="1",
        SECURE_HSTS_PRELOAD="1",
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        BLIND_INDEX_KEY=secrets.token_urlsafe(32),
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        REDIS_URL=settings.REDIS_URL,
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_keys(tmp_path):
    """No built-in secret in production: missing keys stop the app at start."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("WBC_TESTING", "WBC_DEV_DEFAULTS", "DEBUG", "SECRET_KEY")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="waybill_console.settings",
        WBC_VAR_DIR=str(tmp_path),
        WBC_DEV_DEFAULTS="0",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_login_brute_force_is_locked_out_per_account(settings):
    """The lockout (also in tests/shops/test_accounts.py) holds across clients: a new
    client (another IP, no cookie) for the same account is refused too."""
    settings.LOGIN_FAILURE_LIMIT_PER_HOUR = 5
    make_shop("130005", user=make_user("victim-login", password="right-password-1"))
    for _ in range(5):
        Client().post(reverse("login"), {"username": "victim-login", "password": "guess"})
    refused = Client().post(
        reverse("login"), {"username": "victim-login", "password": "right-password-1"}
    )
    assert refused.status_code == 429
    other = make_shop("130006", user=make_user("other-login", password="right-password-2"))
    assert other
    ok = Client().post(
        reverse("login"), {"username": "other-login", "password": "right-password-2"}
    )
    assert ok.status_code == 302


def test_a_nul_character_anywhere_is_a_clean_400():
    """PostgreSQL stores no U+0000 in text: found by the schema fuzzer as a 500."""
    shop = make_shop("130007", user=make_user("nul-user"))
    from tests.conftest import token_client

    api = token_client(shop, language="en")
    cases = [
        api.post("/api/v1/dropship/allocations/", {"factory": "21\x000001"}, format="json"),
        api.get("/api/v1/orders/?q=13%0012"),
        api.post("/api/v1/addresses/", "contact_name=a%00b", content_type=
                 "application/x-www-form-urlencoded"),
    ]  # fmt: skip
    for response in cases:
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "VALIDATION_ERROR"
    client = Client()
    client.force_login(shop.memberships.get().user)
    page = client.get(reverse("console:order_list") + "?q=%00")
    assert page.status_code == 400
    # an order import file is binary: multipart bodies are not refused for their bytes
    assert client.get(reverse("console:order_list") + "?q=138").status_code == 200
