"""Shipping a dropship order from either side: once (the second gets ALREADY_SHIPPED, also
when both try at the same moment), only with a returned number, the merchant one or a
batch with its return address, and items of one order at two factories independently."""

from __future__ import annotations

import pytest

from dropship.models import FactoryOrder
from dropship.services import factory as fs
from dropship.services import identity
from shops import services as shop_services
from shops.models import Order, Shop
from tests.conftest import main_actor, make_shop, make_user
from tests.dropship.conftest import (
    MERCHANT_PROFILE,
    allocate,
    allocated,
    bind,
    factory_order,
    make_factory,
    make_merchant,
    new_order,
    returned,
)
from tests.waybills.conftest import SENDER, open_service
from tests.waybills.parallel import run_in_processes
from waybill_console.errors import AppError

pytestmark = pytest.mark.django_db


def ship(shop, fo, **kw) -> FactoryOrder:
    return fs.factory_order_ship(actor=main_actor(shop), factory_order_id=fo.pk, **kw)


def snapshot(fo) -> tuple:
    fo.refresh_from_db()
    order = Order.objects.get(pk=fo.order_id)
    return (
        fo.shipped_at,
        fo.shipped_by,
        fo.return_address_id,
        order.status,
        order.tracking_no,
        order.events.filter(kind="ship").count(),
    )


@pytest.fixture
def return_address(merchant):
    return shop_services.address_create(actor=main_actor(merchant), data=SENDER)


def test_the_merchant_ships_with_its_return_address(
    merchant, factory, binding, factory_sub, return_address
):
    fo = returned(merchant, factory, factory_sub)

    shipped = ship(merchant, fo, return_address_id=return_address.pk)

    assert shipped.shipped_by == "merchant" and shipped.shipped_at is not None
    assert shipped.return_address_id == return_address.pk
    order = Order.objects.get(pk=fo.order_id)
    assert (order.status, order.carrier_code, order.tracking_no) == (
        "shipped",
        "ZTO",
        fo.tracking_no,
    )
    assert order.has_waybill and not order.shipped_by_hand
    assert order.return_address_id == return_address.pk
    (event,) = order.events.filter(kind="ship")
    assert event.data["dropship_factory"] == factory.shop_no
    assert event.data["waybill_no"] == fo.tracking_no


def test_the_factory_ships_and_then_the_merchant_gets_already_shipped(
    merchant, factory, binding, factory_sub, return_address
):
    fo = returned(merchant, factory, factory_sub)
    ship(factory, fo)
    before = snapshot(fo)
    assert before[1] == "factory" and before[3] == "shipped" and before[5] == 1

    with pytest.raises(AppError) as err:
        ship(merchant, fo, return_address_id=return_address.pk)

    assert err.value.code == "ALREADY_SHIPPED" and err.value.detail == {"shipped_by": "factory"}
    assert snapshot(fo) == before  # not even the return address moved


def test_the_merchant_ships_and_then_the_factory_gets_already_shipped(
    merchant, factory, binding, factory_sub
):
    fo = returned(merchant, factory, factory_sub)
    ship(merchant, fo)
    before = snapshot(fo)
    with pytest.raises(AppError) as err:
        ship(factory, fo)
    assert err.value.code == "ALREADY_SHIPPED"
    assert snapshot(fo) == before


def test_no_shipping_before_the_factory_returned_a_number(merchant, factory, binding, factory_sub):
    fo = allocated(merchant, factory)
    fs.factory_order_draw(actor=main_actor(factory), factory_order_id=fo.pk, carrier="ZTO")
    before = snapshot(fo)
    for shop in (merchant, factory):
        with pytest.raises(AppError) as err:
            ship(shop, fo)
        assert err.value.code == "WAYBILL_NOT_RETURNED"
    assert snapshot(fo) == before and before[3] == "paid"


def test_a_cancelled_allocation_does_not_ship(merchant, factory, binding):
    fo = allocated(merchant, factory)
    shop_services.order_start_after_sale(actor=main_actor(merchant), order=fo.order)
    with pytest.raises(AppError) as err:
        ship(merchant, fo)
    assert err.value.code == "ALLOCATION_CANCELLED"
    assert snapshot(fo)[0] is None


@pytest.mark.parametrize("side", ["merchant", "factory"])
def test_an_order_in_after_sale_after_the_return_does_not_ship(
    merchant, factory, binding, factory_sub, side
):
    """The number was returned (the after-sale left the allocation alone), but the order
    rule's ``ship`` purpose refuses it on this door as on the merchant's own."""
    fo = returned(merchant, factory, factory_sub)
    shop_services.order_start_after_sale(actor=main_actor(merchant), order=fo.order)
    before = snapshot(fo)
    with pytest.raises(AppError) as err:
        ship(merchant if side == "merchant" else factory, fo)
    assert err.value.code == "ORDER_BLOCKED"
    assert err.value.detail == {"after_sale_status": "in_progress"}
    assert snapshot(fo) == before and before[:1] == (None,) and before[3] == "paid"


def test_only_the_merchant_chooses_a_return_address_and_only_its_own(
    merchant, factory, binding, factory_sub, return_address
):
    fo = returned(merchant, factory, factory_sub)
    theirs = shop_services.address_create(actor=main_actor(factory), data=SENDER)
    with pytest.raises(AppError) as err:
        ship(factory, fo, return_address_id=theirs.pk)
    assert err.value.code == "VALIDATION_ERROR" and "return_address" in err.value.detail
    with pytest.raises(AppError) as err:
        ship(merchant, fo, return_address_id=theirs.pk)
    assert err.value.code == "VALIDATION_ERROR" and "return_address" in err.value.detail
    assert snapshot(fo)[0] is None


def test_strangers_cannot_ship(merchant, factory, binding, factory_sub):
    fo = returned(merchant, factory, factory_sub)
    for stranger in (make_merchant("110102", username="m2"), make_factory("210102", "f2")):
        with pytest.raises(AppError) as err:
            ship(stranger, fo)
        assert err.value.code == "NOT_FOUND"
    assert snapshot(fo)[0] is None


def test_a_no_source_risk_merchant_cannot_ship_with_an_outside_number(db):
    merchant = make_shop("110103", user=make_user("risky"), no_source_risk=True)
    identity.profile_update(actor=main_actor(merchant), data=MERCHANT_PROFILE)
    factory = make_factory()
    bind(merchant, factory)
    sub = open_service(factory, "ZTO", balance=5)
    outside = allocated(merchant, factory)
    fs.factory_order_return(
        actor=main_actor(factory),
        factory_order_id=outside.pk,
        carrier="YTO",
        tracking_no="YT1234567890123",
    )
    platform = returned(merchant, factory, sub)

    with pytest.raises(AppError) as err:
        ship(merchant, outside)
    assert err.value.code == "PLATFORM_WAYBILL_REQUIRED"
    assert snapshot(outside)[0] is None
    assert ship(merchant, platform).shipped_by == "merchant"


def test_an_outside_number_ships_by_hand_for_an_ordinary_merchant(merchant, factory, binding):
    fo = allocated(merchant, factory)
    fs.factory_order_return(
        actor=main_actor(factory), factory_order_id=fo.pk, carrier="YTO", tracking_no="YT1234567890"
    )
    ship(factory, fo)
    order = Order.objects.get(pk=fo.order_id)
    assert (order.status, order.tracking_no, order.shipped_by_hand, order.has_waybill) == (
        "shipped",
        "YT1234567890",
        True,
        False,
    )


def test_the_merchant_ships_a_batch_one_refusal_stops_nothing(
    merchant, factory, binding, factory_sub, return_address
):
    a = returned(merchant, factory, factory_sub)
    b = returned(merchant, factory, factory_sub)
    waiting = allocated(merchant, factory)
    ship(factory, b)

    results = fs.factory_order_ship_batch(
        actor=main_actor(merchant),
        factory_order_ids=[a.pk, b.pk, waiting.pk, "x"],
        return_address_id=return_address.pk,
    )

    assert [r["ok"] for r in results] == [True, False, False, False]
    assert results[0]["tracking_no"] == factory_order(a.order, factory).tracking_no
    assert [r["error"]["code"] for r in results[1:]] == [
        "ALREADY_SHIPPED",
        "WAYBILL_NOT_RETURNED",
        "VALIDATION_ERROR",
    ]
    a.refresh_from_db()
    assert (a.shipped_by, a.return_address_id) == ("merchant", return_address.pk)
    assert snapshot(waiting)[0] is None


def test_batch_input_is_checked(merchant):
    actor = main_actor(merchant)
    for ids, code in (([], "VALIDATION_ERROR"), ("1,2", "VALIDATION_ERROR"),
                      (list(range(1, 502)), "BATCH_TOO_LARGE")):  # fmt: skip
        with pytest.raises(AppError) as err:
            fs.factory_order_ship_batch(actor=actor, factory_order_ids=ids)
        assert err.value.code == code


def test_items_at_two_factories_ship_independently(merchant, factory, binding, factory_sub):
    other = make_factory("210102", username="f2")
    bind(merchant, other)
    other_sub = open_service(other, "ZTO", balance=5)
    order = new_order(merchant)
    cup, lid = order.items.order_by("pk")
    allocate(merchant, factory, order_items=[cup])
    allocate(merchant, other, order_items=[lid])
    first = fs.factory_order_return(
        actor=main_actor(factory),
        factory_order_id=fs.factory_order_draw(
            actor=main_actor(factory),
            factory_order_id=factory_order(order, factory).pk,
            subscription=factory_sub.pk,
        ).pk,
    )

    ship(factory, first)  # the order is shipped now; the other factory's part is not
    assert Order.objects.get(pk=order.pk).status == "shipped"

    second = factory_order(order, other)
    fs.factory_order_print(
        actor=main_actor(other), factory_order_ids=[second.pk], subscription=other_sub.pk
    )
    second.refresh_from_db()
    assert second.is_returned and second.tracking_no != first.tracking_no
    shipped = ship(merchant, second)
    assert shipped.shipped_by == "merchant"
    assert FactoryOrder.objects.filter(order=order, shipped_at__isnull=False).count() == 2
    assert Order.objects.get(pk=order.pk).events.filter(kind="ship").count() == 1


# --- merchant and factory at the same moment ------------------------------------------------


def _ship(shop_id: int, factory_order_id: int) -> str:
    shop = Shop.objects.get(pk=shop_id)
    try:
        fo = fs.factory_order_ship(actor=main_actor(shop), factory_order_id=factory_order_id)
        return f"shipped:{fo.shipped_by}"
    except AppError as err:
        return err.code


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_merchant_and_factory_shipping_at_once_exactly_one_wins():
    merchant = make_merchant()
    factory = make_factory()
    bind(merchant, factory)
    sub = open_service(factory, "ZTO", balance=20)
    winners = set()
    for _round in range(8):
        fo = returned(merchant, factory, sub)
        # two processes per side, all four released together
        outcomes = run_in_processes(
            _ship, [(merchant.pk, fo.pk), (factory.pk, fo.pk)] * 2, timeout=120
        )
        shipped = [o for o in outcomes if o.startswith("shipped:")]
        assert len(shipped) == 1, outcomes
        assert (
            sorted(o for o in outcomes if not o.startswith("shipped:")) == ["ALREADY_SHIPPED"] * 3
        )
        fo.refresh_from_db()
        assert f"shipped:{fo.shipped_by}" == shipped[0]
        order = Order.objects.get(pk=fo.order_id)
        assert order.status == "shipped" and order.tracking_no == fo.tracking_no
        assert order.events.filter(kind="ship").count() == 1
        winners.add(fo.shipped_by)
    assert winners <= {"merchant", "factory"}


def test_the_merchants_dropship_list_follows_each_state(merchant, factory, binding, factory_sub):
    from dropship import selectors

    waiting = new_order(merchant)
    handed = allocated(merchant, factory)
    back = returned(merchant, factory, factory_sub)
    gone = returned(merchant, factory, factory_sub)
    ship(factory, gone)
    taken = allocated(merchant, factory)
    shop_services.order_start_after_sale(actor=main_actor(merchant), order=taken.order)

    def listed(**params):
        filters = selectors.MerchantFilters.from_params(params)
        return {o.pk for o in selectors.dropship_order_list(actor=main_actor(merchant),
                                                            filters=filters)}  # fmt: skip

    # an order whose allocation an after-sale took away is without a factory again
    assert listed(state="unallocated") == {waiting.pk, taken.order_id}
    assert listed(state="allocated") == {handed.order_id}
    assert listed(state="returned") == {back.order_id}
    assert listed(state="shipped") == {gone.order_id}
    assert listed(state="cancelled") == {taken.order_id}
    assert listed(factory=factory.shop_no) == {handed.order_id, back.order_id, gone.order_id}
    assert listed(q=handed.order.order_no) == {handed.order_id}
    with pytest.raises(AppError) as err:
        listed(state="lost")
    assert err.value.code == "VALIDATION_ERROR" and "state" in err.value.detail
