"""Login and logout, the Chinese default and English switch, demo seed, login limits."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from shops.models import Membership, Shop

pytestmark = pytest.mark.django_db


def test_login_page_is_chinese_by_default(client):
    html = client.get(reverse("login")).content.decode()
    assert 'lang="zh-hans"' in html
    assert "登录" in html


def test_login_page_in_english_after_switch(client):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    html = client.get(reverse("login")).content.decode()
    assert "Log in to Waybill Console" in html


def test_seed_demo_is_idempotent_and_gives_the_demo_shops(client):
    call_command("seed_demo", "--quiet")
    call_command("seed_demo", "--quiet")
    assert set(Shop.objects.values_list("shop_no", flat=True)) == {"100001", "100002", "200001"}
    assert Membership.objects.filter(role="main").count() == 3
    assert Shop.objects.get(shop_no="200001").is_factory

    assert client.login(username="merchant", password="waybill-demo")
    html = client.get(reverse("console:home")).content.decode()
    assert "星河家居旗舰店" in html
    assert 'data-testid="empty-console"' in html


def test_factory_lands_on_the_factory_portal(client):
    call_command("seed_demo", "--quiet")
    client.login(username="factory", password="waybill-demo")
    response = client.get(reverse("console:home"))
    assert response.status_code == 302 and response.url == reverse("factory:home")
    assert "工厂" in client.get(reverse("factory:home")).content.decode()


def test_login_and_logout(client):
    call_command("seed_demo", "--quiet")
    response = client.post(reverse("login"), {"username": "merchant", "password": "waybill-demo"})
    assert response.status_code == 302
    assert client.get(reverse("console:home")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("console:home")).status_code == 302


def test_failed_logins_are_limited_per_account(client, settings):
    call_command("seed_demo", "--quiet")
    settings.LOGIN_FAILURE_LIMIT_PER_HOUR = 3
    for _ in range(3):
        r = client.post(reverse("login"), {"username": "merchant", "password": "wrong"})
        assert r.status_code == 200
    refused = client.post(reverse("login"), {"username": "merchant", "password": "waybill-demo"})
    assert refused.status_code == 429
    assert "RATE_LIMITED" in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_health_reports_database_and_redis(client):
    body = client.get("/healthz").json()
    assert body["database"] == "ok" and body["redis"] == "ok"
