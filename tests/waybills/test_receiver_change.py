"""Changing a waybill's receiver redirects the parcel: it is an order change.

It needs the order permission (``order.manage``, the one that guards an order's address)
besides ``waybill.allocate``; it is written to the order in the same transaction (the
order's ciphertext and the snapshots of its numbers stay equal, the label still prints
with the new address), and audited by the order's ``address_changed`` event, which names
the number and carries no consumer data. Weight and items keep their permission.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from rest_framework.test import APIClient

from printing import services as print_services
from shops import services as shop_services
from shops.models import Order, OrderEvent
from tests.conftest import main_actor, make_order, token_client
from tests.waybills.conftest import branch_actor, open_service
from waybill_console import permissions as perms
from waybill_console.crypto import _decrypt, blind_index
from waybill_console.errors import AppError
from waybill_console.tenancy import Actor
from waybills import services
from waybills.models import Waybill

pytestmark = pytest.mark.django_db

NEW = {
    "name": "李四",
    "phone": "13900001111",
    "province": "浙江省",
    "city": "宁波市",
    "district": "鄞州区",
    "detail": "天童南路 1 号",
}
PLAIN = ("李四", "13900001111", "天童南路")
RECEIVER_FIELDS = ("receiver_name", "receiver_phone", "receiver_detail")


def draw(shop, sub, order=None, packages: int = 1) -> Waybill:
    order = order or make_order(shop)
    return services.waybill_allocate(
        actor=main_actor(shop), order=order, subscription=sub, package_count=packages
    ).parent


def plain(obj, field: str) -> str:
    return _decrypt(getattr(obj, field).token)


def state(waybill: Waybill) -> str:
    """The order and all its numbers, with their events: a refusal changes none."""
    rows = [
        list(Order.objects.filter(pk=waybill.order_id).values()),
        list(Waybill.objects.filter(order_id=waybill.order_id).order_by("pk").values()),
        list(OrderEvent.objects.filter(order_id=waybill.order_id).values()),
    ]
    for row in rows[0]:
        row.pop("updated_at", None)
    blob = json.dumps(rows, cls=DjangoJSONEncoder, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def packer_session(shop, permissions: list[str]) -> APIClient:
    membership = shop_services.sub_account_create(
        actor=main_actor(shop),
        username=f"packer-{shop.shop_no}-{len(permissions)}",
        password="pass-12345",
        permissions=permissions,
    )
    client = APIClient()
    client.force_login(membership.user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.mark.parametrize("door", ["sub-account session", "scoped token"])
def test_a_packer_with_only_allocate_cannot_redirect_the_parcel(shop_a, door):
    sub = open_service(shop_a, balance=10)
    waybill = draw(shop_a, sub)
    client = (
        packer_session(shop_a, [perms.WAYBILL_ALLOCATE])
        if door == "sub-account session"
        else token_client(shop_a, scopes=[perms.WAYBILL_ALLOCATE], language="en")
    )
    before = state(waybill)

    response = client.patch(
        f"/api/v1/waybills/{waybill.waybill_no}/", {"receiver": NEW}, format="json"
    )

    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "PERMISSION_DENIED"
    assert body["detail"] == {"permission": "order.manage"}
    assert "order.manage" not in body["message"] and "Handle orders" in body["message"]
    assert state(waybill) == before
    # weight and items keep their permission (waybill.allocate)
    response = client.patch(
        f"/api/v1/waybills/{waybill.waybill_no}/",
        {"weight_grams": 1300, "items": [{"name": "保温杯", "quantity": 1}]},
        format="json",
    )
    assert response.status_code == 200
    assert (response.json()["weight_grams"], response.json()["items"]) == (
        1300,
        [{"name": "保温杯", "quantity": 1}],
    )
    assert plain(Waybill.objects.get(pk=waybill.pk), "receiver_name") == "张三"


def test_order_permission_alone_does_not_change_a_waybill(shop_a):
    sub = open_service(shop_a, balance=10)
    waybill = draw(shop_a, sub)
    before = state(waybill)
    client = token_client(shop_a, scopes=[perms.ORDER_MANAGE], language="en")
    response = client.patch(
        f"/api/v1/waybills/{waybill.waybill_no}/", {"receiver": NEW}, format="json"
    )
    assert response.status_code == 403 and response.json()["detail"] == {
        "permission": "waybill.allocate"
    }
    assert state(waybill) == before


def test_a_receiver_change_is_written_to_the_order_and_every_package(shop_a):
    sub = open_service(shop_a, balance=10)
    waybill = draw(shop_a, sub, packages=2)
    child = Waybill.objects.get(parent=waybill)
    client = token_client(shop_a, scopes=[perms.WAYBILL_ALLOCATE, perms.ORDER_MANAGE, perms.PRINT])

    response = client.patch(
        f"/api/v1/waybills/{waybill.waybill_no}/", {"receiver": NEW}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["receiver"] == {
        "name": "李*",
        "phone": "139****1111",
        "province": "浙江省",
        "city": "宁波市",
        "district": "鄞州区",
        "detail": "****",
    }
    order = Order.objects.get(pk=waybill.order_id)
    for number in (Waybill.objects.get(pk=waybill.pk), Waybill.objects.get(pk=child.pk)):
        for field in RECEIVER_FIELDS:
            assert plain(number, field) == plain(order, field), field
        assert (number.receiver_name_masked, number.receiver_phone_masked) == (
            order.receiver_name_masked,
            order.receiver_phone_masked,
        )
        assert (number.receiver_province, number.receiver_city, number.receiver_district) == (
            order.receiver_province,
            order.receiver_city,
            order.receiver_district,
        )
        assert number.short_address_name == "宁波 鄞州区"
        assert number.receiver_changed_at == order.address_changed_at
    assert [plain(order, f) for f in RECEIVER_FIELDS] == ["李四", "13900001111", "天童南路 1 号"]
    assert order.receiver_phone_index == blind_index("13900001111")
    (event,) = OrderEvent.objects.filter(order=order, kind="address_changed")
    assert event.data == {"waybill_no": waybill.waybill_no}
    assert event.actor.startswith("token#")
    assert not any(p in json.dumps(event.data, ensure_ascii=False) for p in PLAIN)
    assert not any(p in event.actor for p in PLAIN)
    # the labels carry the new receiver and still print (their snapshot follows the order)
    for number in (waybill, child):
        data = print_services.label_data(
            actor=main_actor(shop_a),
            waybill=Waybill.objects.get(pk=number.pk),
            template=print_services.template_for(shop=shop_a, carrier=waybill.carrier),
        )
        assert data.receiver_line == "李四 13900001111"
    assert client.get(f"/api/v1/waybills/{waybill.waybill_no}/label/").status_code == 200


def test_an_order_address_change_after_the_waybill_change_blocks_printing_again(shop_a):
    sub = open_service(shop_a, balance=10)
    waybill = draw(shop_a, sub)
    at = timezone.now()
    services.waybill_update(actor=main_actor(shop_a), waybill=waybill, receiver=NEW, now=at)
    shop_services.order_change_address(
        actor=main_actor(shop_a),
        order=Order.objects.get(pk=waybill.order_id),
        receiver={**NEW, "detail": "天童南路 2 号"},
        now=at + timedelta(seconds=1),
    )
    with pytest.raises(AppError) as refused:
        print_services.printable(Waybill.objects.get(pk=waybill.pk))
    assert refused.value.code == "ORDER_BLOCKED"


def test_a_shipped_order_not_yet_picked_up_follows_its_number(shop_a):
    sub = open_service(shop_a, balance=10)
    waybill = draw(shop_a, sub)
    order = services.waybill_ship(
        actor=main_actor(shop_a), order=waybill.order, waybill_no=waybill.waybill_no
    )
    assert order.status == "shipped"
    services.waybill_update(
        actor=main_actor(shop_a), waybill=Waybill.objects.get(pk=waybill.pk), receiver=NEW
    )
    order = Order.objects.get(pk=order.pk)
    assert plain(order, "receiver_name") == plain(
        Waybill.objects.get(pk=waybill.pk), "receiver_name"
    )
    assert plain(order, "receiver_name") == "李四"


def test_picked_up_refuses_the_change_and_leaves_the_order_alone(shop_a):
    sub = open_service(shop_a, balance=10)
    waybill = draw(shop_a, sub)
    services.tracking_record(
        actor=branch_actor(sub),
        waybill_no=waybill.waybill_no,
        occurred_at=timezone.now() - timedelta(minutes=1),
        status="picked_up",
    )
    waybill = Waybill.objects.get(pk=waybill.pk)
    before = state(waybill)
    with pytest.raises(AppError) as refused:
        services.waybill_update(actor=main_actor(shop_a), waybill=waybill, receiver=NEW)
    assert refused.value.code == "WAYBILL_NOT_UPDATABLE"
    assert state(waybill) == before


def test_the_service_itself_requires_the_order_permission(shop_a):
    """Every door (API, admin, a future page) reaches the rule through the service."""
    sub = open_service(shop_a, balance=10)
    waybill = draw(shop_a, sub)
    before = state(waybill)
    packer = Actor(shop=shop_a, permissions=frozenset({perms.WAYBILL_ALLOCATE}))
    with pytest.raises(AppError) as refused:
        services.waybill_update(actor=packer, waybill=waybill, receiver=NEW)
    assert (refused.value.code, refused.value.detail) == (
        "PERMISSION_DENIED",
        {"permission": "order.manage"},
    )
    assert state(waybill) == before
