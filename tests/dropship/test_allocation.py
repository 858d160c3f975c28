"""The merchant hands items or whole orders to bound factories (one or many at a time) and
takes them back; after-sale and under-review orders cannot be handed over and lose their
allocations automatically; items of one order may go to different factories."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dropship import selectors
from dropship.models import Allocation, FactoryOrder
from dropship.services import allocation as alloc
from dropship.services import factory as fs
from shops import services as shop_services
from shops.models import Order
from tests.conftest import main_actor
from tests.dropship.conftest import (
    FACTORY_NO,
    allocate,
    allocated,
    bind,
    factory_order,
    make_factory,
    make_merchant,
    new_order,
    returned,
)
from tests.waybills.parallel import run_in_processes
from waybill_console.errors import AppError

pytestmark = pytest.mark.django_db


def live(order) -> dict[int, int]:
    """``{order_item_id: factory_id}`` of the order's live allocations."""
    return dict(
        Allocation.objects.filter(order=order, status="allocated").values_list(
            "order_item_id", "factory_id"
        )
    )


def codes(results: list[dict]) -> list:
    return [r["error"]["code"] if not r["ok"] else "ok" for r in results]


@pytest.fixture
def second_factory(merchant):
    other = make_factory("210102", username="f2")
    bind(merchant, other)
    return other


# --- handing over ---------------------------------------------------------------------------


def test_one_item_goes_to_the_factory(merchant, factory, order):
    cup, lid = order.items.order_by("pk")
    at = timezone.now()

    results = allocate(merchant, factory, order_items=[cup], now=at)

    fo = factory_order(order, factory)
    (allocation,) = Allocation.objects.filter(order=order)
    assert results == [
        {
            "order_item": cup.pk,
            "order": order.pk,
            "ok": True,
            "allocation": allocation.pk,
            "factory_order": fo.pk,
        }
    ]
    assert live(order) == {cup.pk: factory.pk}
    assert (fo.status, fo.merchant_id, fo.allocated_at) == ("allocated", merchant.pk, at)
    assert allocation.actor == "user:ds-merchant"
    assert Order.objects.get(pk=order.pk).is_dropship


def test_a_whole_order_hands_over_every_item(merchant, factory, order):
    results = allocate(merchant, factory, orders=[order])

    assert codes(results) == ["ok", "ok"]
    assert live(order) == {i.pk: factory.pk for i in order.items.all()}
    assert FactoryOrder.objects.filter(order=order).count() == 1


def test_a_batch_of_orders_and_items_one_refusal_stops_nothing(merchant, factory, binding):
    a, b, blocked = new_order(merchant), new_order(merchant), new_order(merchant)
    shop_services.order_start_after_sale(actor=main_actor(merchant), order=blocked)
    cup_b = b.items.order_by("pk").first()

    results = allocate(merchant, factory, orders=[a, blocked], order_items=[cup_b])

    by_order = {}
    for r in results:
        by_order.setdefault(r["order"], []).append("ok" if r["ok"] else r["error"]["code"])
    assert by_order == {a.pk: ["ok", "ok"], b.pk: ["ok"], blocked.pk: ["ORDER_BLOCKED"]}
    assert len(live(a)) == 2 and live(b) == {cup_b.pk: factory.pk} and live(blocked) == {}
    assert not FactoryOrder.objects.filter(order=blocked).exists()


def test_asking_again_returns_the_same_allocation(merchant, factory, order):
    first = allocate(merchant, factory, orders=[order])
    again = allocate(merchant, factory, orders=[order])
    assert [r["allocation"] for r in again] == [r["allocation"] for r in first]
    assert Allocation.objects.count() == 2


def test_items_of_one_order_go_to_different_factories(merchant, factory, second_factory, order):
    cup, lid = order.items.order_by("pk")
    assert codes(allocate(merchant, factory, order_items=[cup])) == ["ok"]

    # the whole order to the second factory takes only what is still free
    results = allocate(merchant, second_factory, orders=[order])

    assert [(r["order_item"], r["ok"]) for r in results] == [(lid.pk, True)]
    assert live(order) == {cup.pk: factory.pk, lid.pk: second_factory.pk}
    assert FactoryOrder.objects.filter(order=order).count() == 2
    # the factories each see only their own item
    for shop, sku in ((factory, "CUP-1"), (second_factory, "LID-2")):
        (fo,) = selectors.factory_order_list(actor=main_actor(shop))
        assert [i["sku"] for i in selectors.factory_view(fo)["items"]] == [sku]


def test_an_item_with_one_factory_is_not_handed_to_another(
    merchant, factory, second_factory, order
):
    cup, _lid = order.items.order_by("pk")
    allocate(merchant, factory, order_items=[cup])

    assert codes(allocate(merchant, second_factory, order_items=[cup])) == [
        "ITEM_ALREADY_ALLOCATED"
    ]
    assert live(order) == {cup.pk: factory.pk}
    # nothing left for the second factory in the whole order either
    allocate(merchant, factory, orders=[order])
    assert codes(allocate(merchant, second_factory, orders=[order])) == ["ITEM_ALREADY_ALLOCATED"]
    assert not Allocation.objects.filter(factory=second_factory).exists()


def test_another_shops_orders_and_items_are_not_found(merchant, factory, binding):
    stranger = make_merchant("110102", username="m2")
    theirs = new_order(stranger)

    results = allocate(merchant, factory, orders=[theirs], order_items=list(theirs.items.all()))

    assert codes(results) == ["NOT_FOUND"] * 3
    assert not Allocation.objects.exists() and not FactoryOrder.objects.exists()


@pytest.mark.parametrize(
    ("target", "code"),
    [("110102", "NOT_A_FACTORY"), ("999999", "NOT_A_FACTORY"), ("210102", "BINDING_NOT_ACTIVE")],
)
def test_only_a_bound_factory_receives_orders(merchant, factory, binding, order, target, code):
    make_merchant("110102", username="m2")
    make_factory("210102", username="f2")  # a factory, but not bound to this merchant

    with pytest.raises(AppError) as err:
        alloc.allocation_create(actor=main_actor(merchant), factory=target, orders=[order.pk])

    assert err.value.code == code
    assert not Allocation.objects.exists()


def test_a_pending_binding_receives_nothing(merchant, factory):
    from dropship.services import identity

    identity.binding_request(actor=main_actor(merchant), factory_shop_no=FACTORY_NO)
    order = new_order(merchant)
    with pytest.raises(AppError) as err:
        allocate(merchant, factory, orders=[order])
    assert err.value.code == "BINDING_NOT_ACTIVE"


def test_a_factory_cannot_allocate(factory, binding, order):
    with pytest.raises(AppError) as err:
        alloc.allocation_create(actor=main_actor(factory), factory=FACTORY_NO, orders=[order.pk])
    assert err.value.code == "PERMISSION_DENIED"


def test_bad_input_is_named_and_batches_are_capped(merchant, factory, binding):
    actor = main_actor(merchant)
    with pytest.raises(AppError) as err:
        alloc.allocation_create(actor=actor, factory=FACTORY_NO)
    assert err.value.code == "VALIDATION_ERROR" and "order_items" in err.value.detail
    with pytest.raises(AppError) as err:
        alloc.allocation_create(actor=actor, factory=FACTORY_NO, orders=["x"])
    assert err.value.code == "VALIDATION_ERROR"
    with pytest.raises(AppError) as err:
        alloc.allocation_create(actor=actor, factory=FACTORY_NO, orders=list(range(1, 502)))
    assert err.value.code == "BATCH_TOO_LARGE" and err.value.detail == {"count": 501}


# --- orders that cannot be handed over ------------------------------------------------------


def test_an_order_in_after_sale_cannot_be_allocated(merchant, factory, order):
    shop_services.order_start_after_sale(actor=main_actor(merchant), order=order)

    results = allocate(merchant, factory, orders=[order])

    assert codes(results) == ["ORDER_BLOCKED"]
    assert results[0]["error"]["detail"] == {"after_sale_status": "in_progress"}
    assert not Allocation.objects.exists() and not FactoryOrder.objects.exists()
    assert not Order.objects.get(pk=order.pk).is_dropship


def test_an_order_under_review_cannot_be_allocated(merchant, factory, order):
    shop_services.order_request_cancel(actor=main_actor(merchant), order=order)

    results = allocate(merchant, factory, order_items=list(order.items.all()))

    assert codes(results) == ["ORDER_BLOCKED", "ORDER_BLOCKED"]
    assert results[0]["error"]["detail"] == {"cancel_request_status": "pending"}
    assert not Allocation.objects.exists()


def test_an_unpaid_or_cancelled_order_cannot_be_allocated(merchant, factory, binding):
    unpaid = new_order(merchant, status="unpaid")
    cancelled = new_order(merchant)
    shop_services.order_cancel_by_seller(actor=main_actor(merchant), order=cancelled)

    results = allocate(merchant, factory, orders=[unpaid, cancelled])

    assert codes(results) == ["ORDER_STATE_CONFLICT", "ORDER_STATE_CONFLICT"]
    assert not Allocation.objects.exists()


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ("after_sale", "after_sale"),
        ("request_cancel", "under_review"),
        ("seller_cancel", "order_cancelled"),
    ],
)
def test_after_sale_review_or_cancel_takes_existing_allocations_away(
    merchant, factory, second_factory, order, event, reason
):
    cup, lid = order.items.order_by("pk")
    allocate(merchant, factory, order_items=[cup])
    allocate(merchant, second_factory, order_items=[lid])
    actor = main_actor(merchant)

    {
        "after_sale": lambda: shop_services.order_start_after_sale(actor=actor, order=order),
        "request_cancel": lambda: shop_services.order_request_cancel(actor=actor, order=order),
        "seller_cancel": lambda: shop_services.order_cancel_by_seller(actor=actor, order=order),
    }[event]()

    assert live(order) == {}
    assert set(Allocation.objects.values_list("status", "cancel_reason")) == {("cancelled", reason)}
    assert set(FactoryOrder.objects.values_list("status", "cancel_reason")) == {
        ("cancelled", reason)
    }


def test_the_factory_is_told_why_an_after_sale_took_its_order(merchant, factory, order):
    fo = allocated(merchant, factory, order)
    shop_services.order_start_after_sale(actor=main_actor(merchant), order=order)

    view = selectors.factory_view(
        selectors.factory_order_get(actor=main_actor(factory), factory_order_id=fo.pk)
    )
    assert (view["status"], view["after_sale_status"]) == ("cancelled", "in_progress")
    assert {i["status"] for i in view["items"]} == {"cancelled"}
    with pytest.raises(AppError) as err:
        fs.factory_order_draw(actor=main_actor(factory), factory_order_id=fo.pk, carrier="ZTO")
    assert err.value.code == "ORDER_BLOCKED"


def test_an_after_sale_after_the_number_came_back_keeps_the_allocation(
    merchant, factory, order, factory_sub
):
    """Before the return the allocation is taken away; after it the parcel is the factory's
    work (it stays on the statement)."""
    fo = returned(merchant, factory, factory_sub, order)
    shop_services.order_start_after_sale(actor=main_actor(merchant), order=order)
    fo.refresh_from_db()
    assert fo.status == "allocated" and fo.is_returned
    assert len(live(order)) == 2


# --- taking items back ----------------------------------------------------------------------


def test_the_merchant_cancels_an_allocation_item_by_item(merchant, factory, order):
    allocate(merchant, factory, orders=[order])
    first, second = Allocation.objects.filter(order=order).order_by("order_item_id")
    at = timezone.now() + timedelta(minutes=5)

    cancelled = alloc.allocation_cancel(actor=main_actor(merchant), allocation_id=first.pk, now=at)

    assert (cancelled.status, cancelled.cancel_reason, cancelled.cancelled_at) == (
        "cancelled",
        "merchant",
        at,
    )
    fo = factory_order(order, factory)
    assert fo.status == "allocated"  # one item is still there
    alloc.allocation_cancel(actor=main_actor(merchant), allocation_id=second.pk, now=at)
    fo.refresh_from_db()
    assert (fo.status, fo.cancel_reason, fo.cancelled_at) == ("cancelled", "merchant", at)

    with pytest.raises(AppError) as err:  # once only
        alloc.allocation_cancel(actor=main_actor(merchant), allocation_id=second.pk)
    assert err.value.code == "ALLOCATION_NOT_CANCELLABLE"
    assert Allocation.objects.get(pk=second.pk).cancelled_at == at


def test_a_cancelled_order_can_be_handed_over_again(merchant, factory, second_factory, order):
    allocate(merchant, factory, orders=[order])
    for a in Allocation.objects.filter(order=order):
        alloc.allocation_cancel(actor=main_actor(merchant), allocation_id=a.pk)

    assert codes(allocate(merchant, second_factory, orders=[order])) == ["ok", "ok"]
    assert codes(allocate(merchant, factory, orders=[order])) == ["ITEM_ALREADY_ALLOCATED"]
    assert set(live(order).values()) == {second_factory.pk}


def test_an_allocation_with_a_returned_number_cannot_be_cancelled(
    merchant, factory, order, factory_sub
):
    fo = returned(merchant, factory, factory_sub, order)
    allocation = Allocation.objects.filter(factory_order=fo).first()

    with pytest.raises(AppError) as err:
        alloc.allocation_cancel(actor=main_actor(merchant), allocation_id=allocation.pk)

    assert err.value.code == "ALLOCATION_NOT_CANCELLABLE"
    assert Allocation.objects.get(pk=allocation.pk).status == "allocated"
    assert factory_order(order, factory).status == "allocated"


def test_another_merchant_cannot_cancel_an_allocation(merchant, factory, order):
    allocate(merchant, factory, orders=[order])
    stranger = make_merchant("110102", username="m2")
    allocation = Allocation.objects.first()
    with pytest.raises(AppError) as err:
        alloc.allocation_cancel(actor=main_actor(stranger), allocation_id=allocation.pk)
    assert err.value.code == "NOT_FOUND"
    assert Allocation.objects.get(pk=allocation.pk).status == "allocated"


def test_the_cancelled_allocation_shows_as_cancelled_to_the_factory(merchant, factory, order):
    fo = allocated(merchant, factory, order)
    for a in Allocation.objects.filter(order=order):
        alloc.allocation_cancel(actor=main_actor(merchant), allocation_id=a.pk)
    filters = selectors.FactoryFilters(status="cancelled")
    assert list(selectors.factory_order_list(actor=main_actor(factory), filters=filters)) == [fo]
    with pytest.raises(AppError) as err:
        fs.factory_order_draw(actor=main_actor(factory), factory_order_id=fo.pk, carrier="ZTO")
    assert err.value.code == "ALLOCATION_CANCELLED"


# --- concurrency ----------------------------------------------------------------------------


def _allocate_item(merchant_id: int, factory_no: str, item_id: int) -> str:
    from shops.models import Shop

    merchant = Shop.objects.get(pk=merchant_id)
    (result,) = alloc.allocation_create(
        actor=main_actor(merchant), factory=factory_no, order_items=[item_id]
    )
    return "ok" if result["ok"] else result["error"]["code"]


def _start_after_sale(merchant_id: int, order_id: int) -> str:
    from shops.models import Shop

    merchant = Shop.objects.get(pk=merchant_id)
    shop_services.order_start_after_sale(
        actor=main_actor(merchant), order=Order.objects.get(pk=order_id)
    )
    return "after_sale"


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_one_item_sent_to_two_factories_at_once_goes_to_exactly_one():
    merchant = make_merchant()
    factories = [make_factory("210101"), make_factory("210102", username="f2")]
    for f in factories:
        bind(merchant, f)
    for _round in range(4):
        order = new_order(merchant)
        cup = order.items.order_by("pk").first()
        outcomes = run_in_processes(
            _allocate_item, [(merchant.pk, f.shop_no, cup.pk) for f in factories] * 2
        )
        assert sorted(outcomes) == ["ITEM_ALREADY_ALLOCATED"] * 2 + ["ok"] * 2, outcomes
        assert len(live(order)) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_an_allocation_racing_an_after_sale_never_leaves_a_live_allocation():
    merchant = make_merchant()
    factory = make_factory()
    bind(merchant, factory)
    for _round in range(5):
        order = new_order(merchant)
        cup = order.items.order_by("pk").first()
        outcomes = run_in_processes(
            lambda kind, *args: (
                _allocate_item(*args) if kind == "allocate" else _start_after_sale(*args)
            ),
            [("allocate", merchant.pk, FACTORY_NO, cup.pk), ("after_sale", merchant.pk, order.pk)],
        )
        assert outcomes[1] == "after_sale" and outcomes[0] in ("ok", "ORDER_BLOCKED")
        assert live(order) == {}
        assert Order.objects.get(pk=order.pk).after_sale_status == "in_progress"
