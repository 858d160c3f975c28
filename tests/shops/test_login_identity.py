"""Logins and new accounts by username identity (NFKC, stripped, case-folded): spelling
variants are one account for the lockout, for logging in and for taking a name; a client
spraying usernames is limited too; Redis down still fails closed."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from shops import services as shop_services
from shops.models import Membership
from tests.conftest import main_actor, make_shop, make_user
from waybill_console.errors import AppError

pytestmark = pytest.mark.django_db

PASSWORD = "right-password-1"
#: every way of writing "victim" that must count, log in and fail as that account
VARIANTS = [
    "victim",
    " victim ",
    "\tvictim\n",
    "ｖｉｃｔｉｍ",  # full-width letters
    "ｖictim",
    "\u3000victim",  # ideographic space
    "Victim",
    "VICTIM",
]


@pytest.fixture
def victim(db):
    user = make_user("victim", password=PASSWORD)
    make_shop("140001", user=user)
    return user


def _login(client, username, password, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_spelling_logs_in_as_the_one_account(victim, variant):
    client = Client()
    response = _login(client, variant, PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(victim.pk)


@pytest.mark.parametrize("variant", VARIANTS[1:])
def test_failures_with_a_variant_lock_the_account_itself(victim, variant, settings):
    settings.LOGIN_FAILURE_LIMIT_PER_HOUR = 4
    for _ in range(4):
        assert _login(Client(), variant, "guess").status_code == 200
    for spelling in ("victim", variant, "VICTIM"):
        refused = _login(Client(), spelling, PASSWORD)
        assert refused.status_code == 429, spelling
        assert "_auth_user_id" not in refused.client.session


def test_failures_across_all_variants_share_one_counter(victim, settings):
    settings.LOGIN_FAILURE_LIMIT_PER_HOUR = len(VARIANTS)
    for variant in VARIANTS:  # one failure each, from a fresh client each time
        assert _login(Client(), variant, "guess").status_code == 200
    assert _login(Client(), "victim", PASSWORD).status_code == 429


def test_the_admin_login_counts_and_obeys_the_same_lockout(victim, settings):
    """The admin's login page authenticates through the same backend: its failures count,
    and a locked account is not let in there either, even with the right password."""
    settings.LOGIN_FAILURE_LIMIT_PER_HOUR = 3
    victim.is_staff = victim.is_superuser = True
    victim.save()
    admin_login = reverse("admin:login")
    for variant in ("ｖictim", " Victim", "victim"):
        client = Client()
        client.post(admin_login, {"username": variant, "password": "guess", "next": "/admin/"})
        assert "_auth_user_id" not in client.session
    assert _login(Client(), "victim", PASSWORD).status_code == 429
    client = Client()
    response = client.post(
        admin_login, {"username": "victim", "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_a_client_spraying_usernames_is_limited(victim, settings):
    """Per client address: failures for any usernames add up, and the client is refused
    even for an account it never tried; another address is not affected."""
    settings.LOGIN_FAILURE_LIMIT_PER_HOUR = 100
    settings.LOGIN_FAILURE_LIMIT_PER_CLIENT_PER_HOUR = 5
    sprayer = Client(REMOTE_ADDR="10.9.8.7")
    for i in range(5):
        assert _login(sprayer, f"guess{i}", "guess").status_code == 200
    refused = _login(sprayer, "victim", PASSWORD)
    assert refused.status_code == 429
    assert "RATE_LIMITED" in refused.content.decode()
    assert "_auth_user_id" not in sprayer.session
    other = Client(REMOTE_ADDR="10.9.8.8")
    assert _login(other, "victim", PASSWORD).status_code == 302


def test_login_fails_closed_while_redis_is_unreachable(victim, settings):
    """The counters live in Redis: with it unreachable (a closed port) the login page and
    the admin's login answer 503 and nobody is logged in."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    client = Client()
    response = _login(client, "victim", PASSWORD)
    assert response.status_code == 503
    assert "_auth_user_id" not in client.session
    response = client.post(
        reverse("admin:login"), {"username": "victim", "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 503
    assert "_auth_user_id" not in client.session


# --- new accounts: one identity, one account ---------------------------------------------


@pytest.mark.parametrize(
    "username", ["ｍerchant-a", " merchant-a ", "Merchant-A", "ＭＥＲＣＨＡＮＴ－Ａ", "merchant-a"]
)
def test_a_sub_account_name_taken_in_any_spelling_is_refused_on_the_page(shop_a, username):
    users, memberships = get_user_model().objects.count(), Membership.objects.count()
    client = Client()
    client.force_login(shop_a.memberships.get().user)
    response = client.post(
        reverse("console:account_list"),
        {"username": username, "password": "long-password-9", "display_name": "打包员"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "用户名：该用户名已被占用。" in html
    assert get_user_model().objects.count() == users
    assert Membership.objects.count() == memberships


@pytest.mark.parametrize("username", ["ｍerchant-a", " merchant-a ", "MERCHANT-A"])
def test_the_service_refuses_a_taken_identity_with_a_username_field_error(shop_a, username):
    with pytest.raises(AppError) as err:
        shop_services.sub_account_create(
            actor=main_actor(shop_a), username=username, password="long-password-9", permissions=[]
        )
    assert err.value.code == "VALIDATION_ERROR" and list(err.value.detail) == ["username"]
    assert get_user_model().objects.filter(username__iexact="merchant-a").count() == 1


def test_a_new_sub_account_is_stored_normalised_and_logs_in_by_any_spelling(shop_a):
    membership = shop_services.sub_account_create(
        actor=main_actor(shop_a),
        username=" ｐａｃｋｅｒ１ ",
        password="long-password-9",
        permissions=["print"],
    )
    assert membership.user.username == "packer1"
    client = Client()
    assert _login(client, "PACKER1", "long-password-9").status_code == 302
    assert client.session["_auth_user_id"] == str(membership.user.pk)
