"""A deactivated shop stops at once on every door: its API tokens (also those a process
has cached), its print agents and its users' sessions, whether ops deactivate it with the
admin's action or code calls the service."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client
from rest_framework.test import APIClient

from printing import agents
from shops import services as shop_services
from shops.models import ApiToken, Shop
from tests.conftest import main_actor, make_user
from waybill_console import api_tokens

pytestmark = pytest.mark.django_db


def _deactivate_in_admin(shop):
    ops = make_user("ops-deactivator")
    ops.is_staff = ops.is_superuser = True
    ops.save()
    admin = Client()
    admin.force_login(ops)
    response = admin.post(
        "/admin/shops/shop/", {"action": "deactivate", "_selected_action": [shop.pk]}
    )
    assert response.status_code == 302


def _deactivate_by_service(shop):
    assert shop_services.shop_set_active(shop_ids=[shop.pk], active=False) == 1


def _deactivate_by_saving(shop):
    shop = Shop.objects.get(pk=shop.pk)  # as the admin's edit form does
    shop.is_active = False
    shop.save()


DOORS = {
    "admin action": _deactivate_in_admin,
    "service": _deactivate_by_service,
    "shop saved": _deactivate_by_saving,
}


@pytest.mark.parametrize("door", DOORS)
def test_a_cached_token_of_a_deactivated_shop_is_refused(
    shop_a, door, django_capture_on_commit_callbacks
):
    _, key = shop_services.api_token_create(shop=shop_a)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/orders/").status_code == 200
    digest = hashlib.sha256(key.encode()).hexdigest()
    assert digest in api_tokens._entries  # this process serves it from its cache now
    with django_capture_on_commit_callbacks(execute=True):
        DOORS[door](shop_a)
    assert Shop.objects.get(pk=shop_a.pk).is_active is False
    refused = api.get("/api/v1/orders/")
    assert refused.status_code == 401 and refused.json()["code"] == "NOT_AUTHENTICATED"
    # a fresh process (nothing cached) refuses it too, and the token row is untouched
    api_tokens._entries.clear()
    assert api.get("/api/v1/orders/").status_code == 401
    assert ApiToken.objects.get(key_hash=digest).revoked_at is None


@pytest.mark.parametrize("door", DOORS)
def test_a_print_agent_of_a_deactivated_shop_is_refused(
    shop_a, door, django_capture_on_commit_callbacks
):
    _, key = agents.agent_create(actor=main_actor(shop_a), name="打包台 1")
    agent = APIClient()
    agent.credentials(HTTP_AUTHORIZATION=f"Agent {key}")
    assert agent.get("/api/v1/agent/jobs/next/").status_code == 204
    with django_capture_on_commit_callbacks(execute=True):
        DOORS[door](shop_a)
    refused = agent.get("/api/v1/agent/jobs/next/")
    assert refused.status_code == 401 and refused.json()["code"] == "NOT_AUTHENTICATED"


def test_sessions_of_a_deactivated_shop_see_no_shop(shop_a, django_capture_on_commit_callbacks):
    browser = Client()
    browser.force_login(shop_a.memberships.get().user)
    assert browser.get("/console/orders/").status_code == 200
    assert browser.get("/api/v1/orders/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        _deactivate_in_admin(shop_a)
    page = browser.get("/console/orders/")
    assert page.status_code == 403 and 'data-testid="no-shop"' in page.content.decode()
    api = browser.get("/api/v1/orders/")
    assert api.status_code == 403 and api.json()["code"] == "PERMISSION_DENIED"


def test_reactivating_a_shop_lets_its_token_in_again(shop_a, django_capture_on_commit_callbacks):
    _, key = shop_services.api_token_create(shop=shop_a)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    with django_capture_on_commit_callbacks(execute=True):
        shop_services.shop_set_active(shop_ids=[shop_a.pk], active=False)
    assert api.get("/api/v1/orders/").status_code == 401
    with django_capture_on_commit_callbacks(execute=True):
        shop_services.shop_set_active(shop_ids=[shop_a.pk], active=True)
    assert api.get("/api/v1/orders/").status_code == 200
