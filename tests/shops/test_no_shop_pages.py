"""A signed-in user with no active shop (ops staff right after login, the admin's
"查看站点" link, a member of a deactivated shop) gets a friendly page on every console and
factory page, never a 500."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from shops import services as shop_services
from tests.conftest import make_shop, make_user
from tests.routes import all_routes

pytestmark = pytest.mark.django_db

NO_SHOP_TEXT = "您的账号不属于任何有效店铺，请联系店铺主账号添加。"


def page_routes() -> list[str]:
    """Every console and factory page of the URL configuration, parameters filled in."""
    found = [r for r in all_routes() if r.startswith(("console/", "factory/"))]
    filled = {}
    for route in found:
        path = re.sub(r"<int:[^>]+>", "1", route)
        path = re.sub(r"<(?:str|slug|path):[^>]+>", "x", path)
        assert "<" not in path, f"unknown parameter in {route}"
        filled[route] = "/" + path
    return sorted(filled.values())


def _shopless_users():
    ops = make_user("ops-staff")
    ops.is_staff = True
    ops.save()
    plain = make_user("no-shop-user")
    member = make_user("closed-shop-owner")
    closed = make_shop("150001", user=member)
    shop_services.shop_set_active(shop_ids=[closed.pk], active=False)
    return {"staff": ops, "plain": plain, "deactivated-shop member": member}


def test_no_console_or_factory_page_is_a_500_for_a_user_without_a_shop():
    routes = page_routes()
    assert "/console/" in routes and "/factory/" in routes and len(routes) > 40
    failures = []
    for who, user in _shopless_users().items():
        client = Client(raise_request_exception=False)
        client.force_login(user)
        for path in routes:
            for method in ("get", "post"):
                response = getattr(client, method)(path)
                if response.status_code >= 500:
                    failures.append((who, method.upper(), path, response.status_code))
    assert failures == []


@pytest.mark.parametrize("path", ["/console/", "/factory/", "/console/orders/"])
def test_the_no_shop_page_explains_and_links_staff_to_the_admin(path):
    users = _shopless_users()
    for who, user in users.items():
        client = Client()
        client.force_login(user)
        response = client.get(path)
        assert response.status_code == 403, (who, path)
        html = response.content.decode()
        assert 'data-testid="no-shop"' in html and NO_SHOP_TEXT in html
        has_admin_link = 'data-testid="admin-link" href="/admin/"' in html or (
            'href="/admin/" data-testid="admin-link"' in html
        )
        assert has_admin_link == (who == "staff"), who
