"""One parcel per order (issue 17, guards): an order that carries the merchant's own live
waybill number (printed or not) is not handed to a factory, and a factory neither draws,
prints, returns nor ships for it (ORDER_HAS_OWN_WAYBILL, naming the number: in full to the
merchant, masked to the factory). Refused means nothing changed: no allocation, no factory
number, nothing charged, nothing shipped. Once the merchant cancels its number, the factory
draws (the refusal is the rule, not a broken door)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from carriers.models import Subscription
from dropship.models import Allocation, FactoryOrder
from dropship.services import factory as fs
from shops.models import Order
from tests.conftest import main_actor, token_client
from tests.dropship.conftest import allocate, allocated, new_order, returned
from waybill_console.crypto import mask_code
from waybill_console.errors import AppError
from waybills import services as waybill_services
from waybills.errors import OrderHasOwnWaybill
from waybills.models import Waybill

pytestmark = pytest.mark.django_db

CODE = "ORDER_HAS_OWN_WAYBILL"


def own_number(merchant, order, sub) -> Waybill:
    """The merchant draws its own number for the order."""
    return waybill_services.waybill_allocate(
        actor=main_actor(merchant), order=order, subscription=sub
    ).parent


def zh(number: str) -> str:
    with translation.override("zh-hans"):
        return OrderHasOwnWaybill(waybill_no=number).render_message()


def factory_state(factory_sub) -> tuple:
    """What a factory's draw, print or ship would change."""
    return (
        Subscription.objects.get(pk=factory_sub.pk).balance,
        Waybill.objects.filter(shop_id=factory_sub.shop_id).count(),
        list(
            FactoryOrder.objects.order_by("pk").values_list(
                "pk", "waybill_id", "tracking_no", "returned_at", "shipped_at"
            )
        ),
    )


def test_the_message_names_the_number_in_both_languages():
    assert zh("73100000000001") == (
        "该订单已有商家自己的运单号 73100000000001，厂家再取号会多发一个包裹。"
        "请商家先取消该运单号。"
    )
    with translation.override("en"):
        assert OrderHasOwnWaybill(waybill_no="73100000000001").render_message() == (
            "The order already has the merchant's own waybill number 73100000000001; a "
            "factory's number would send a second parcel. The merchant must cancel that "
            "number first."
        )


def test_an_order_with_the_merchants_own_number_is_not_handed_to_a_factory(
    merchant, factory, binding, merchant_sub, order
):
    waybill = own_number(merchant, order, merchant_sub)

    with translation.override("zh-hans"):
        [result] = allocate(merchant, factory, orders=[order])

    assert result["ok"] is False
    assert result["error"]["code"] == CODE
    assert result["error"]["message"] == zh(waybill.waybill_no)  # the merchant's: in full
    assert result["error"]["detail"] == {"waybill_no": waybill.waybill_no}
    assert not Allocation.objects.filter(order=order).exists()
    assert not FactoryOrder.objects.filter(order=order).exists()
    assert Order.objects.get(pk=order.pk).is_dropship is False


def test_items_of_such_an_order_are_refused_too(merchant, factory, binding, merchant_sub, order):
    own_number(merchant, order, merchant_sub)
    items = list(order.items.order_by("pk"))

    results = allocate(merchant, factory, order_items=items)

    assert [(r["order_item"], r["ok"], r["error"]["code"]) for r in results] == [
        (i.pk, False, CODE) for i in items
    ]
    assert not Allocation.objects.filter(order=order).exists()


def test_the_factory_cannot_draw_once_the_merchant_drew_its_own_number(
    merchant, factory, binding, merchant_sub, factory_sub, order
):
    fo = allocated(merchant, factory, order)
    waybill = own_number(merchant, order, merchant_sub)
    before = factory_state(factory_sub)

    response = token_client(factory, language="zh-hans").post(
        f"/api/v1/dropship/factory-orders/{fo.pk}/waybill/",
        {"subscription": factory_sub.pk},
        format="json",
    )

    assert response.status_code == 409
    body = response.json()
    masked = mask_code(waybill.waybill_no)
    assert (body["code"], body["message"]) == (CODE, zh(masked))
    assert waybill.waybill_no not in response.content.decode()  # the factory sees it masked
    assert factory_state(factory_sub) == before

    # the portal's 打印 (which draws first) is refused the same way, charging nothing
    with pytest.raises(OrderHasOwnWaybill):
        fs.factory_order_print(
            actor=main_actor(factory), factory_order_ids=[fo.pk], subscription=factory_sub.pk
        )
    # and so is returning a number from the factory's own system (a second parcel too)
    with pytest.raises(OrderHasOwnWaybill):
        fs.factory_order_return(
            actor=main_actor(factory),
            factory_order_id=fo.pk,
            carrier="ZTO",
            tracking_no="73100000009999",
        )
    assert factory_state(factory_sub) == before

    # the merchant cancels its number: the factory draws, from its own service
    waybill_services.waybill_cancel(actor=main_actor(merchant), waybill=waybill)
    drawn = fs.factory_order_draw(
        actor=main_actor(factory), factory_order_id=fo.pk, subscription=factory_sub.pk
    )
    assert drawn.waybill is not None and drawn.waybill.shop_id == factory.pk
    assert Subscription.objects.get(pk=factory_sub.pk).balance == before[0] - 1


def test_a_returned_factory_part_does_not_ship_beside_the_merchants_own_number(
    merchant, factory, binding, merchant_sub, factory_sub, order
):
    fo = returned(merchant, factory, factory_sub, order)
    waybill = own_number(merchant, order, merchant_sub)
    before = factory_state(factory_sub)

    refusals = {}
    for side, shop in (("merchant", merchant), ("factory", factory)):
        with translation.override("zh-hans"), pytest.raises(AppError) as refused:
            fs.factory_order_ship(actor=main_actor(shop), factory_order_id=fo.pk)
        refusals[side] = (refused.value.code, refused.value.render_message())

    assert refusals == {
        "merchant": (CODE, zh(waybill.waybill_no)),
        "factory": (CODE, zh(mask_code(waybill.waybill_no))),
    }
    assert factory_state(factory_sub) == before
    order.refresh_from_db()
    assert (order.status, order.events.filter(kind="ship").count()) == ("paid", 0)


def test_another_orders_number_does_not_count(
    merchant, factory, binding, merchant_sub, factory_sub, order
):
    """Positive control: the merchant's number for a different order blocks nothing here."""
    own_number(merchant, new_order(merchant), merchant_sub)

    fo = allocated(merchant, factory, order)
    drawn = fs.factory_order_draw(
        actor=main_actor(factory), factory_order_id=fo.pk, subscription=factory_sub.pk
    )

    assert drawn.waybill is not None


def test_the_merchants_own_number_on_a_factory_numbered_order_asks_first(
    client, merchant, factory, binding, merchant_sub, factory_sub, order
):
    """The reverse case on the order page: the factory drew (and returned) its number, so
    the merchant's 取号 block warns with it, and a 取号 (or 取号并打印) posted without the
    confirmation gets the question, nothing drawn; confirmed, the merchant's number is
    drawn (part of an order may still be the merchant's to ship)."""
    fo = returned(merchant, factory, factory_sub, order)
    factory_no = Waybill.objects.get(pk=fo.waybill_id).waybill_no
    client.force_login(merchant.memberships.get(role="main").user)
    block = client.get(reverse("console:order_waybills", args=[order.pk])).content.decode()
    assert 'data-testid="factory-numbers-warning"' in block and factory_no in block
    allocate_url = reverse("console:order_waybill_allocate", args=[order.pk])
    for url in (allocate_url, reverse("console:order_allocate_print", args=[order.pk])):
        asked = client.post(url, {"subscription": merchant_sub.pk})
        assert asked.status_code == 200 and factory_no in asked.content.decode()
        assert not Waybill.objects.filter(shop=merchant).exists()
    done = client.post(allocate_url, {"subscription": merchant_sub.pk, "confirm": "1"})
    assert done.status_code == 302
    assert Waybill.objects.filter(shop=merchant, order=order).count() == 1


def test_batch_allocate_over_a_factory_numbered_order_asks_first(
    client, merchant, factory, binding, merchant_sub, factory_sub, order
):
    """The same question from the order list's 批量取号 (another door to the same second
    parcel): the factory-numbered order is named with its number, nothing starts until
    confirmed."""
    from waybill_console.models import Job

    fo = returned(merchant, factory, factory_sub, order)
    factory_no = Waybill.objects.get(pk=fo.waybill_id).waybill_no
    other = new_order(merchant)
    client.force_login(merchant.memberships.get(role="main").user)
    form = {"ids": [order.pk, other.pk], "subscription": merchant_sub.pk}
    asked = client.post(reverse("console:waybill_batch"), form)
    page = asked.content.decode()
    assert asked.status_code == 200 and factory_no in page and order.order_no in page
    assert not Job.objects.exists()
    started = client.post(reverse("console:waybill_batch"), {**form, "confirm": "1"})
    assert started.status_code == 302 and Job.objects.count() == 1
