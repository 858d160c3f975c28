"""批量发货 from "select all N matching orders" on the order list: all N are shipped when
N ≤ 500 (not only the ticked rows of the page shown), and N > 500 is refused before anything
is shipped, with a message naming the limit and N."""

import pytest
from django.urls import reverse

from shops.models import Order, OrderEvent
from tests.conftest import main_actor, make_order, make_shop, make_user
from tests.waybills.conftest import open_service
from waybills import services

pytestmark = pytest.mark.django_db

PHONE = "13900001111"


def _post(client, shop, ticked, **extra):
    client.force_login(shop.memberships.get().user)
    return client.post(
        reverse("console:waybill_batch_ship"),
        {"ids": [o.pk for o in ticked], "q": PHONE, "status": "paid", "confirm": "1", **extra},
        follow=True,
    )


def test_select_all_matching_ships_every_matching_order(client, shop_a):
    sub = open_service(shop_a, balance=200)
    matching = [make_order(shop_a, phone=PHONE) for _ in range(75)]  # more than a page (50)
    for order in matching:
        services.waybill_allocate(actor=main_actor(shop_a), order=order, subscription=sub)
    other = make_order(shop_a, phone="13700002222")  # not matching the filter
    services.waybill_allocate(actor=main_actor(shop_a), order=other, subscription=sub)
    other_shop = make_shop("100009", user=make_user("merchant-z"), name="别家店")
    foreign = make_order(other_shop, phone=PHONE)

    response = _post(client, shop_a, matching[:50], all_matching="1", return_address=sub.address_id)

    assert response.status_code == 200
    assert "75" in response.content.decode()
    statuses = dict(Order.objects.filter(shop=shop_a).values_list("pk", "status"))
    assert [statuses[o.pk] for o in matching] == ["shipped"] * 75
    assert statuses[other.pk] == "paid"
    assert Order.objects.get(pk=foreign.pk).status == "paid"
    assert set(
        Order.objects.filter(pk__in=[o.pk for o in matching]).values_list(
            "return_address_id", flat=True
        )
    ) == {sub.address_id}


def test_ticked_rows_without_select_all_ship_only_those(client, shop_a):
    sub = open_service(shop_a, balance=20)
    matching = [make_order(shop_a, phone=PHONE) for _ in range(3)]
    for order in matching:
        services.waybill_allocate(actor=main_actor(shop_a), order=order, subscription=sub)

    _post(client, shop_a, matching[:1], all_matching="0")

    statuses = [Order.objects.get(pk=o.pk).status for o in matching]
    assert statuses == ["shipped", "paid", "paid"]


def test_select_all_of_more_than_500_is_refused_before_anything_ships(client, shop_a):
    sub = open_service(shop_a, balance=10)
    matching = [make_order(shop_a, phone=PHONE) for _ in range(520)]
    for order in matching[:3]:
        services.waybill_allocate(actor=main_actor(shop_a), order=order, subscription=sub)
    events_before = OrderEvent.objects.count()

    response = _post(client, shop_a, matching[:50], all_matching="1")

    text = response.content.decode()
    assert "批量发货每次最多 500 单，当前选中 520 单。" in text
    assert Order.objects.filter(shop=shop_a).exclude(status="paid").count() == 0
    assert OrderEvent.objects.count() == events_before


def test_select_all_message_in_english(client, shop_a):
    open_service(shop_a, balance=0)
    for _ in range(501):
        make_order(shop_a, phone=PHONE)

    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    response = _post(client, shop_a, [], all_matching="1")

    assert (
        "Batch shipping handles at most 500 orders at a time; 501 are selected."
        in response.content.decode()
    )
    assert Order.objects.filter(shop=shop_a).exclude(status="paid").count() == 0
