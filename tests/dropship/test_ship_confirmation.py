"""The dropship 发货 doors cannot be undone, so they confirm with the count first (issue 17):
the merchant's 批量发货 and the factory's 发货 (one row) and 发货所选. A POST without
``confirm=1`` answers with 确认发货 N 个订单？此操作不可撤销。 and ships nothing; the
confirmation's own form posts the same orders back and ships them."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from dropship.models import FactoryOrder
from shops.models import Order
from tests.confirmation import confirmed_post, question
from tests.dropship.conftest import returned

pytestmark = pytest.mark.django_db


def login(shop) -> Client:
    client = Client()
    client.force_login(shop.memberships.get(role="main").user)
    return client


def shipped(fos) -> list[bool]:
    return [FactoryOrder.objects.get(pk=fo.pk).shipped_at is not None for fo in fos]


def order_statuses(fos) -> list[str]:
    return [Order.objects.get(pk=fo.order_id).status for fo in fos]


def test_the_merchants_batch_ship_confirms_the_count(merchant, factory, binding, factory_sub):
    fos = [returned(merchant, factory, factory_sub) for _ in range(2)]
    client = login(merchant)

    asked = client.post(
        reverse("console:dropship_ship_batch"),
        {"shipments": [fo.pk for fo in fos], "next": "/console/dropship/orders/?state=returned"},
    )

    html = asked.content.decode()
    assert question(html) == "确认发货 2 个订单？此操作不可撤销。"
    assert 'href="/console/dropship/orders/?state=returned" data-testid="confirm-cancel"' in html
    assert shipped(fos) == [False, False] and order_statuses(fos) == ["paid", "paid"]

    action, data = confirmed_post(html)
    client.post(action, data)

    assert shipped(fos) == [True, True] and order_statuses(fos) == ["shipped", "shipped"]


def test_the_factorys_ship_selected_confirms_the_count(merchant, factory, binding, factory_sub):
    fos = [returned(merchant, factory, factory_sub) for _ in range(3)]
    client = login(factory)

    asked = client.post(reverse("factory:order_ship_batch"), {"orders": [fo.pk for fo in fos]})

    html = asked.content.decode()
    assert question(html) == "确认发货 3 个订单？此操作不可撤销。"
    assert shipped(fos) == [False, False, False]

    action, data = confirmed_post(html)
    assert action == reverse("factory:order_ship_batch")
    client.post(action, data)

    assert shipped(fos) == [True, True, True]
    assert {FactoryOrder.objects.get(pk=fo.pk).shipped_by for fo in fos} == {"factory"}


def test_the_factorys_ship_of_one_order_confirms_too(merchant, factory, binding, factory_sub):
    fo = returned(merchant, factory, factory_sub)
    client = login(factory)

    asked = client.post(reverse("factory:order_ship", args=[fo.pk]), {"next": "/factory/orders/"})

    html = asked.content.decode()
    assert question(html) == "确认发货 1 个订单？此操作不可撤销。"
    assert shipped([fo]) == [False]

    action, data = confirmed_post(html)
    done = client.post(action, data)

    assert done.status_code == 302 and done.url == "/factory/orders/"
    assert shipped([fo]) == [True] and order_statuses([fo]) == ["shipped"]
