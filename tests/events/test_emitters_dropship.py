"""Dropship's events go to the side concerned, as that side's API shows the object: the
factory is told of orders handed to it or taken back (its masked view: no receiver, no
merchant id or order number in plain text) and of binding requests; the merchant of the
numbers its factories return."""

from __future__ import annotations

import json

import pytest
from django.db import transaction

from dropship.models import Allocation
from dropship.services import allocation as alloc
from dropship.services import factory as fs
from dropship.services import identity
from events.models import Event
from shops import services as shop_services
from tests.conftest import main_actor, token_client
from tests.dropship.conftest import (
    ITEMS,
    RECEIVER,
    SECRETS,
    allocate,
    allocated,
    bind,
    factory_order,
    make_factory,
    make_merchant,
    new_order,
)
from tests.events.test_emitters import Boom, api_get, events, listen
from tests.waybills.conftest import open_service

pytestmark = pytest.mark.django_db


# the dropship tests' people: a merchant bound to a factory that has its own service


@pytest.fixture
def merchant(db):
    return make_merchant()


@pytest.fixture
def factory(db):
    return make_factory()


@pytest.fixture
def binding(merchant, factory):
    return bind(merchant, factory)


@pytest.fixture
def order(binding, merchant):
    return new_order(merchant)


@pytest.fixture
def factory_sub(factory):
    return open_service(factory, "ZTO", balance=1000)


def test_an_order_handed_to_the_factory_is_told_to_it_in_its_masked_view(merchant, factory, order):
    results = allocate(merchant, factory, orders=[order])
    assert all(r["ok"] for r in results)

    [event] = events("dropship.allocation.created")
    fo = factory_order(order, factory)
    assert event.shop_id == factory.pk  # the factory's, not the merchant's
    assert event.data == api_get(factory, f"/api/v1/dropship/factory-orders/{fo.pk}/")
    assert event.link == "/factory/orders/"
    assert [i["sku"] for i in event.data["items"]] == [i["sku"] for i in ITEMS]
    assert event.data["order_no"] != order.order_no
    assert event.data["merchant"] != merchant.shop_no


def test_the_factorys_payload_carries_no_consumer_data(merchant, factory, order):
    allocate(merchant, factory, orders=[order])
    shop_services.order_start_after_sale(actor=main_actor(merchant), order=order)  # withdrawn

    sent = [e for e in Event.objects.filter(shop=factory)]
    assert {e.type for e in sent} == {
        "dropship.binding.requested",
        "dropship.allocation.created",
        "dropship.allocation.cancelled",
    }
    body = json.dumps([e.data for e in sent], ensure_ascii=False)
    for secret in (*SECRETS, RECEIVER["name"], RECEIVER["phone"], RECEIVER["detail"]):
        assert secret not in body
    assert order.order_no not in body
    assert merchant.shop_no not in body


def test_an_item_asked_again_is_not_told_twice(merchant, factory, order):
    allocate(merchant, factory, orders=[order])
    allocate(merchant, factory, order_items=list(order.items.all()))

    assert len(events("dropship.allocation.created")) == 1


def test_an_allocation_taken_back_is_told_to_the_factory(merchant, factory, order):
    fo = allocated(merchant, factory, order)
    first = Allocation.objects.filter(factory_order=fo).order_by("pk").first()

    alloc.allocation_cancel(actor=main_actor(merchant), allocation_id=first.pk)

    [event] = events("dropship.allocation.cancelled")
    assert event.shop_id == factory.pk
    assert event.data == api_get(factory, f"/api/v1/dropship/factory-orders/{fo.pk}/")
    assert [i["status"] for i in event.data["items"]] == ["cancelled", "allocated"]


def test_unbinding_tells_the_factory_of_each_order_taken_back(merchant, factory, binding):
    orders = [new_order(merchant), new_order(merchant)]
    allocate(merchant, factory, orders=orders)

    identity.binding_unbind(actor=main_actor(merchant), binding_id=binding.pk)

    got = events("dropship.allocation.cancelled", factory)
    assert sorted(e.data["id"] for e in got) == sorted(factory_order(o, factory).pk for o in orders)
    assert {e.data["status"] for e in got} == {"cancelled"}


def test_a_handover_rolled_back_is_not_told(merchant, factory, order):
    with pytest.raises(Boom), transaction.atomic():
        allocate(merchant, factory, orders=[order])
        assert len(events("dropship.allocation.created")) == 1
        raise Boom

    assert events("dropship.allocation.created") == []
    assert Allocation.objects.count() == 0


def test_a_number_returned_is_told_to_the_merchant_as_its_allocations_show(
    merchant, factory, factory_sub, order
):
    listen(merchant, "dropship.number.returned")
    fo = allocated(merchant, factory, order)
    fs.factory_order_draw(
        actor=main_actor(factory), factory_order_id=fo.pk, subscription=factory_sub.pk
    )

    returned = fs.factory_order_return(actor=main_actor(factory), factory_order_id=fo.pk)

    got = events("dropship.number.returned")
    listed = {
        a["id"]: a
        for a in api_get(merchant, f"/api/v1/dropship/allocations/?order={order.pk}")["results"]
    }
    assert {e.shop_id for e in got} == {merchant.pk}
    assert [e.data for e in got] == [listed[e.data["id"]] for e in got]
    assert len(got) == 2  # one per item handed over
    assert {e.data["tracking_no"] for e in got} == {returned.tracking_no}
    assert {e.link for e in got} == {"/console/dropship/orders/"}
    # asked again: already returned, nothing more
    fs.factory_order_return(actor=main_actor(factory), factory_order_id=fo.pk)
    assert len(events("dropship.number.returned")) == 2


def test_a_number_returned_by_printing_is_told_once(merchant, factory, factory_sub, order):
    listen(merchant, "dropship.number.returned")
    fo = allocated(merchant, factory, order)

    fs.factory_order_print(
        actor=main_actor(factory), factory_order_ids=[fo.pk], subscription=factory_sub.pk
    )
    fs.factory_order_print(actor=main_actor(factory), factory_order_ids=[fo.pk])

    got = events("dropship.number.returned")
    assert len(got) == 2
    assert {e.data["tracking_no"] for e in got} == {factory_order(order, factory).tracking_no}


def test_the_factorys_own_number_is_told_to_the_factory_in_its_view(
    merchant, factory, factory_sub, order
):
    listen(factory, "waybill.allocated")
    listen(merchant, "waybill.allocated")
    fo = allocated(merchant, factory, order)

    drawn = fs.factory_order_draw(
        actor=main_actor(factory), factory_order_id=fo.pk, subscription=factory_sub.pk
    )

    [event] = events("waybill.allocated")
    assert event.shop_id == factory.pk  # its number, not the merchant's
    assert event.data == api_get(factory, f"/api/v1/waybills/{drawn.waybill.waybill_no}/")
    assert event.data["order"] is None and event.data["order_no"] != order.order_no
    assert event.link == "/factory/orders/"
    assert RECEIVER["name"] not in json.dumps(event.data, ensure_ascii=False)


def test_a_binding_request_is_told_to_the_factory(merchant, factory):
    binding = identity.binding_request(actor=main_actor(merchant), factory_shop_no=factory.shop_no)

    [event] = events("dropship.binding.requested")
    assert event.shop_id == factory.pk
    [shown] = token_client(factory).get("/api/v1/dropship/bindings/").json()["results"]
    assert event.data == shown
    assert event.data["id"] == binding.pk
    assert event.data["merchant"] != merchant.shop_no  # masked for the factory
    assert event.link == "/factory/merchants/"
