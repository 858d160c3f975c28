"""The one rule of "this order is blocked" (``order_refuse_if_blocked``), purpose by purpose,
on real orders moved into each state by the order services."""

from __future__ import annotations

import pytest
from django.utils.translation import gettext as _

from shops import services
from shops.errors import OrderBlocked
from shops.models import AfterSaleStatus, Order
from shops.services.order_states import PURPOSES, order_refuse_if_blocked
from tests.conftest import main_actor, make_order
from waybill_console.errors import AppError

pytestmark = pytest.mark.django_db

UNDER_REVIEW = "under review (cancellation requested)"


def _in_state(shop, state: str) -> Order:
    actor = main_actor(shop)
    if state == "unpaid":
        return make_order(shop, status="unpaid")
    order = make_order(shop)
    if state == "ready_to_ship":
        services.order_mark_ready(actor=actor, order=order)
    elif state == "shipped":
        services.order_ship_by_hand(
            actor=actor, order=order, carrier_code="ZTO", tracking_no="73100000000001"
        )
    elif state == "cancelled":
        services.order_cancel_by_seller(actor=actor, order=order)
    elif state == "after_sale":
        services.order_start_after_sale(actor=actor, order=order)
    elif state == "under_review":
        services.order_request_cancel(actor=actor, order=order)
    return Order.objects.get(pk=order.pk)


def _answer(order: Order, purpose: str, **kw) -> str:
    try:
        order_refuse_if_blocked(order, purpose=purpose, **kw)
    except AppError as err:
        return err.code
    return "ok"


NOT_ALLOCATABLE = "ORDER_NOT_ALLOCATABLE"
STATE_CONFLICT = "ORDER_STATE_CONFLICT"
BLOCKED = "ORDER_BLOCKED"

#: state -> purpose -> answer
MATRIX = {
    "paid": dict.fromkeys(PURPOSES, "ok"),
    "ready_to_ship": dict.fromkeys(PURPOSES, "ok"),
    "unpaid": {
        "allocate": NOT_ALLOCATABLE,
        "allocate_on_behalf": NOT_ALLOCATABLE,
        "hand_to_factory": STATE_CONFLICT,
        "print": "ok",
        "ship": "ok",  # the ship transition refuses it (ORDER_STATE_CONFLICT)
    },
    "shipped": {
        "allocate": NOT_ALLOCATABLE,
        "allocate_on_behalf": NOT_ALLOCATABLE,
        "hand_to_factory": STATE_CONFLICT,
        "print": "ok",
        "ship": "ok",  # the ship transition answers ALREADY_SHIPPED
    },
    "cancelled": {
        "allocate": NOT_ALLOCATABLE,
        "allocate_on_behalf": NOT_ALLOCATABLE,
        "hand_to_factory": STATE_CONFLICT,
        "print": "ok",
        "ship": "ok",
    },
    "after_sale": dict.fromkeys(PURPOSES, BLOCKED),
    "under_review": dict.fromkeys(PURPOSES, BLOCKED),
}


def test_the_purposes_are_the_documented_five():
    assert PURPOSES == {"allocate", "allocate_on_behalf", "hand_to_factory", "print", "ship"}


@pytest.mark.parametrize("state", list(MATRIX))
def test_each_purpose_refuses_what_the_rule_says(shop_a, state):
    order = _in_state(shop_a, state)
    answers = {purpose: _answer(order, purpose) for purpose in sorted(PURPOSES)}
    assert answers == MATRIX[state]


def test_a_factory_draw_takes_a_shipped_order_only_when_another_part_shipped(shop_a):
    order = _in_state(shop_a, "shipped")
    assert _answer(order, "allocate_on_behalf", also_shipped=True) == "ok"
    assert _answer(order, "allocate_on_behalf") == NOT_ALLOCATABLE
    # never an order that is not paid, whatever the caller says
    unpaid = _in_state(shop_a, "unpaid")
    assert _answer(unpaid, "allocate_on_behalf", also_shipped=True) == NOT_ALLOCATABLE


def test_after_sale_is_refused_with_its_reason_and_detail(shop_a):
    order = _in_state(shop_a, "after_sale")
    with pytest.raises(OrderBlocked) as refused:
        order_refuse_if_blocked(order, purpose="allocate")
    assert refused.value.as_dict() == {
        "code": "ORDER_BLOCKED",
        "message": _("The order is blocked: %(reason)s.")
        % {"reason": AfterSaleStatus.IN_PROGRESS.label},
        "detail": {"after_sale_status": "in_progress"},
    }


def test_a_cancellation_request_is_refused_as_under_review(shop_a):
    """审核中: the wording the platform (and the dropship pages) use, on every purpose."""
    order = _in_state(shop_a, "under_review")
    for purpose in sorted(PURPOSES):
        with pytest.raises(OrderBlocked) as refused:
            order_refuse_if_blocked(order, purpose=purpose)
        assert refused.value.as_dict() == {
            "code": "ORDER_BLOCKED",
            "message": _("The order is blocked: %(reason)s.") % {"reason": _(UNDER_REVIEW)},
            "detail": {"cancel_request_status": "pending"},
        }, purpose
    assert "审核中" in refused.value.render_message()


def test_the_lasting_reason_comes_first(shop_a):
    """A shipped order in after-sale will never take a number: it is told so."""
    order = _in_state(shop_a, "shipped")
    services.order_start_after_sale(actor=main_actor(shop_a), order=order)
    order.refresh_from_db()
    assert _answer(order, "allocate") == NOT_ALLOCATABLE
    assert _answer(order, "hand_to_factory") == STATE_CONFLICT
    assert _answer(order, "print") == BLOCKED


def test_the_status_refusals_keep_their_codes_messages_and_details(shop_a):
    order = _in_state(shop_a, "unpaid")
    with pytest.raises(AppError) as drawn:
        order_refuse_if_blocked(order, purpose="allocate")
    assert (drawn.value.code, drawn.value.status, drawn.value.detail) == (
        "ORDER_NOT_ALLOCATABLE",
        409,
        {},
    )
    assert drawn.value.render_message() == _(
        "Numbers are drawn only for paid orders not yet shipped (this one is %(status)s)."
    ) % {"status": order.get_status_display()}
    with pytest.raises(AppError) as handed:
        order_refuse_if_blocked(order, purpose="hand_to_factory")
    assert (handed.value.code, handed.value.status, handed.value.detail) == (
        "ORDER_STATE_CONFLICT",
        409,
        {"status": "unpaid"},
    )
    assert handed.value.render_message() == _(
        "The order is %(status)s; only orders awaiting shipment can be handed over."
    ) % {"status": order.get_status_display()}


def test_a_purpose_outside_the_set_is_a_programming_error(shop_a):
    order = _in_state(shop_a, "paid")
    with pytest.raises(ValueError):
        order_refuse_if_blocked(order, purpose="dispatch")
    with pytest.raises(ValueError):
        order_refuse_if_blocked(order, purpose="allocate", also_shipped=True)


def test_the_old_waybills_error_is_the_same_class():
    from shops.errors import OrderNotAllocatable
    from waybills import errors as waybill_errors

    assert waybill_errors.OrderNotAllocatable is OrderNotAllocatable


@pytest.mark.parametrize("door", ["by hand", "with its waybill"])
def test_shipping_an_order_under_review_is_refused_with_the_same_reason(shop_a, door):
    from tests.waybills.conftest import open_service
    from waybills import services as waybill_services

    actor = main_actor(shop_a)
    order = make_order(shop_a)
    if door == "with its waybill":
        sub = open_service(shop_a, balance=5)
        number = waybill_services.waybill_allocate(actor=actor, order=order, subscription=sub)
    services.order_request_cancel(actor=actor, order=order)
    with pytest.raises(AppError) as refused:
        if door == "by hand":
            services.order_ship_by_hand(
                actor=actor, order=order, carrier_code="ZTO", tracking_no="73100000000001"
            )
        else:
            waybill_services.waybill_ship(
                actor=actor, order=order, waybill_no=number.parent.waybill_no
            )
    assert refused.value.code == "ORDER_BLOCKED"
    assert refused.value.detail == {"cancel_request_status": "pending"}
    assert "审核中" in refused.value.render_message()
    assert Order.objects.get(pk=order.pk).status == "paid"
