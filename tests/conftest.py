"""Shared fixtures: real PostgreSQL (pytest-django's test database) and real Redis."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.test import APIClient

from shops import services as shop_services
from shops.models import Membership, Shop
from waybill_console.tenancy import Actor

_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def _clean_cache():
    """Each test starts with an empty Redis cache (rate limits, login counters) and an
    empty per-process screening cache."""
    from carriers.gateways import gateways_forget
    from carriers.gateways.builtin import coverage_forget

    cache.clear()
    coverage_forget()
    gateways_forget()
    yield


@pytest.fixture(autouse=True)
def _workers_take_the_default_queue():
    """An in-process worker started without queues takes the default queue only, as the
    runner's worker does (``-Q celery``). Celery remembers a worker's queue selection on
    the app: without this, a test's events worker (``queues=["events"]``) would leave the
    next test's job worker deaf to jobs."""
    from waybill_console.celery import app

    app.amqp.queues.select(["celery"])
    yield


@pytest.fixture(autouse=True)
def _carrier_catalog(request):
    """Every test that uses the database finds the migration's carrier catalog. A
    transactional test flushes every table; run alone, pytest-django puts those last, but
    a pytest-xdist worker runs them between other files' tests."""
    if request.node.get_closest_marker("django_db") is None and not (
        {"db", "transactional_db"} & set(request.fixturenames)
    ):
        return
    request.getfixturevalue("_django_db_helper")
    ensure_carrier_catalog()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the site's default language: a request in English (the test
    client runs it in this thread) must not leave English active for the next test."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


def make_user(username: str | None = None, password: str = "pass-12345"):
    User = get_user_model()
    return User.objects.create_user(username=username or f"user{next(_seq)}", password=password)


def ensure_carrier_catalog() -> None:
    """Transactional tests flush every table, the migration's carrier catalog too."""
    from carriers import catalog
    from carriers.models import Carrier

    if Carrier.objects.count() != len(catalog.CARRIERS):
        catalog.load(Carrier)


def make_shop(shop_no: str | None = None, *, user=None, name: str | None = None, **kw) -> Shop:
    ensure_carrier_catalog()
    shop_no = shop_no or str(300000 + next(_seq))
    return shop_services.shop_create(
        shop_no=shop_no, name=name or f"店铺{shop_no}", main_user=user or make_user(), **kw
    )


def main_actor(shop: Shop) -> Actor:
    return Actor.for_membership(shop.memberships.get(role=Membership.Role.MAIN))


def make_order(
    shop: Shop, order_no: str | None = None, *, phone: str = "13812345678", name: str = "张三", **kw
):
    return shop_services.order_create(
        actor=main_actor(shop),
        order_no=order_no or f"ORD{next(_seq):08d}",
        items=kw.pop(
            "items",
            [
                {
                    "sku": "SKU-1",
                    "product_name": "保温杯",
                    "spec": "500ml 白色",
                    "quantity": 2,
                    "unit_price": "39.90",
                }
            ],
        ),
        receiver=kw.pop(
            "receiver",
            {
                "name": name,
                "phone": phone,
                "province": "浙江省",
                "city": "杭州市",
                "district": "西湖区",
                "detail": "文三路 90 号 3 幢 501",
            },
        ),
        **kw,
    )


def token_client(
    shop: Shop | None = None, *, branch=None, scopes=None, language: str | None = None
) -> APIClient:
    _, key = shop_services.api_token_create(shop=shop, branch=branch, scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    if language:
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    return client


@pytest.fixture
def shop_a(db):
    return make_shop("100001", user=make_user("merchant-a"), name="星河家居旗舰店")


@pytest.fixture
def shop_b(db):
    return make_shop("100002", user=make_user("merchant-b"), name="星河数码专营店")
