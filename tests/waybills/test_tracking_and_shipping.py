"""Tracking events from carriers (the order follows) and shipping with a platform waybill."""

from datetime import timedelta

import pytest
from django.utils import timezone

from carriers.models import Subscription
from shops.models import Order
from tests.conftest import main_actor, make_order, make_shop, make_user, token_client
from tests.waybills.conftest import open_service
from waybill_console.errors import AppError
from waybills import services
from waybills.models import TrackingEvent, Waybill

pytestmark = pytest.mark.django_db


def _allocated(shop, sub, at=None):
    order = make_order(shop)
    return services.waybill_allocate(
        actor=main_actor(shop), order=order, subscription=sub, now=at
    ).parent


def _event(api, waybill_no, status, at):
    return api.post(
        "/api/v1/carrier/tracking-events/",
        {
            "waybill_no": waybill_no,
            "occurred_at": at.isoformat(),
            "status": status,
            "description": "快件已揽收",
            "location": "杭州",
        },
        format="json",
    )


def test_tracking_events_move_the_waybill_and_the_order(shop_a):
    sub = open_service(shop_a, balance=5)
    now = timezone.now() - timedelta(days=3)  # drawn three days ago, events since
    waybill = _allocated(shop_a, sub, at=now)
    branch_api = token_client(branch=sub.branch)
    assert _event(branch_api, waybill.waybill_no, "picked_up", now).status_code == 201
    waybill.refresh_from_db()
    order = Order.objects.get(pk=waybill.order_id)
    assert waybill.status == "picked_up" and waybill.has_tracking
    assert order.status == "shipped" and order.picked_up_at == now
    _event(branch_api, waybill.waybill_no, "in_transit", now + timedelta(hours=5))
    assert Order.objects.get(pk=order.pk).status == "in_transit"
    _event(branch_api, waybill.waybill_no, "delivered", now + timedelta(days=2))
    assert Waybill.objects.get(pk=waybill.pk).status == "delivered"
    assert Order.objects.get(pk=order.pk).status == "delivered"
    # an out-of-order late event does not move the parcel back
    _event(branch_api, waybill.waybill_no, "in_transit", now + timedelta(hours=6))
    assert Waybill.objects.get(pk=waybill.pk).status == "delivered"
    assert TrackingEvent.objects.filter(waybill=waybill).count() == 4


def test_failed_delivery_is_followed(shop_a):
    sub = open_service(shop_a, balance=5)
    now = timezone.now() - timedelta(days=2)
    waybill = _allocated(shop_a, sub, at=now)
    api = token_client(branch=sub.branch)
    _event(api, waybill.waybill_no, "picked_up", now)
    _event(api, waybill.waybill_no, "failed", now + timedelta(days=1))
    assert Waybill.objects.get(pk=waybill.pk).status == "failed"
    assert Order.objects.get(pk=waybill.order_id).status == "delivery_failed"


def test_only_the_carriers_branch_token_posts_tracking(shop_a):
    sub = open_service(shop_a, balance=5)
    waybill = _allocated(shop_a, sub)
    now = timezone.now()
    assert _event(token_client(shop_a), waybill.waybill_no, "picked_up", now).status_code == 403
    other_carrier = open_service(make_shop(user=make_user()), "YTO", balance=1)
    response = _event(
        token_client(branch=other_carrier.branch), waybill.waybill_no, "picked_up", now
    )
    assert response.status_code == 404
    bad = _event(token_client(branch=sub.branch), waybill.waybill_no, "lost", now)
    assert bad.status_code == 400 and "status" in bad.json()["detail"]
    assert not TrackingEvent.objects.exists()
    assert Waybill.objects.get(pk=waybill.pk).status == "allocated"


def test_ship_with_the_platform_waybill_and_a_return_address(shop_a):
    sub = open_service(shop_a, balance=5)
    waybill = _allocated(shop_a, sub)
    api = token_client(shop_a)
    response = api.post(
        f"/api/v1/orders/{waybill.order_id}/ship/",
        {"waybill_no": waybill.waybill_no, "return_address": sub.address_id},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "shipped" and body["tracking_no"] == waybill.waybill_no
    order = Order.objects.get(pk=waybill.order_id)
    assert order.return_address_id == sub.address_id and not order.shipped_by_hand
    again = api.post(
        f"/api/v1/orders/{waybill.order_id}/ship/",
        {"waybill_no": waybill.waybill_no},
        format="json",
    )
    assert again.status_code == 409 and again.json()["code"] == "ALREADY_SHIPPED"


def test_ship_refuses_a_number_of_another_order_or_a_cancelled_one(shop_a):
    sub = open_service(shop_a, balance=5)
    first, second = _allocated(shop_a, sub), _allocated(shop_a, sub)
    actor = main_actor(shop_a)
    with pytest.raises(AppError) as refused:
        services.waybill_ship(
            actor=actor, order=Order.objects.get(pk=first.order_id), waybill_no=second.waybill_no
        )
    assert refused.value.code == "WAYBILL_ORDER_MISMATCH"
    services.waybill_cancel(actor=actor, waybill=first)
    with pytest.raises(AppError) as refused:
        services.waybill_ship(
            actor=actor, order=Order.objects.get(pk=first.order_id), waybill_no=first.waybill_no
        )
    assert refused.value.code == "WAYBILL_ORDER_MISMATCH"
    assert Order.objects.get(pk=first.order_id).status == "paid"


def test_batch_ship_with_platform_waybills(shop_a):
    sub = open_service(shop_a, balance=5)
    waybills = [_allocated(shop_a, sub) for _ in range(3)]
    unallocated = make_order(shop_a)
    response = token_client(shop_a).post(
        "/api/v1/orders/batch-ship/",
        {
            "orders": [{"order": w.order_id} for w in waybills] + [{"order": unallocated.pk}],
            "return_address": sub.address_id,
        },
        format="json",
    )
    results = response.json()["results"]
    assert [r["ok"] for r in results] == [True, True, True, False]
    assert results[3]["error"]["code"] == "WAYBILL_ORDER_MISMATCH"
    assert Order.objects.filter(status="shipped").count() == 3
    too_many = token_client(shop_a).post(
        "/api/v1/orders/batch-ship/", {"orders": [{"order": 1}] * 501}, format="json"
    )
    assert too_many.status_code == 400 and too_many.json()["code"] == "BATCH_TOO_LARGE"


def test_no_source_risk_shop_ships_with_its_platform_waybill(shop_a):
    sub = open_service(shop_a, balance=5)
    shop_a.no_source_risk = True
    shop_a.save()
    waybill = _allocated(shop_a, sub)
    api = token_client(shop_a)
    by_hand = api.post(
        f"/api/v1/orders/{waybill.order_id}/ship/",
        {"carrier": "ZTO", "tracking_no": "73100000000099"},
        format="json",
    )
    assert by_hand.status_code == 422 and by_hand.json()["code"] == "PLATFORM_WAYBILL_REQUIRED"
    ok = api.post(
        f"/api/v1/orders/{waybill.order_id}/ship/",
        {"waybill_no": waybill.waybill_no},
        format="json",
    )
    assert ok.status_code == 200


def test_ops_admin_action_records_pickup(shop_a, admin_client):
    sub = open_service(shop_a, balance=5)
    waybill = _allocated(shop_a, sub)
    listing = admin_client.get("/admin/waybills/waybill/")
    assert listing.status_code == 200 and waybill.waybill_no in listing.content.decode()
    response = admin_client.post(
        "/admin/waybills/waybill/",
        {"action": "track_picked_up", "_selected_action": [waybill.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert Waybill.objects.get(pk=waybill.pk).status == "picked_up"
    assert Order.objects.get(pk=waybill.order_id).status == "shipped"
    page = admin_client.get(f"/admin/waybills/waybill/{waybill.pk}/change/")
    assert page.status_code == 200 and "文三路" not in page.content.decode()


def test_a_number_the_order_shipped_with_cannot_be_cancelled(shop_a):
    from waybills.errors import WaybillNotCancellable
    from waybills.services.changes import waybill_cancellable

    sub = open_service(shop_a, balance=5)
    order = make_order(shop_a)
    waybill = services.waybill_allocate(
        actor=main_actor(shop_a), order=order, subscription=sub
    ).parent
    assert waybill_cancellable(waybill)
    services.waybill_ship(actor=main_actor(shop_a), order=order, waybill_no=waybill.waybill_no)
    waybill.refresh_from_db()
    assert not waybill_cancellable(waybill)
    with pytest.raises(WaybillNotCancellable) as refused:
        services.waybill_cancel(actor=main_actor(shop_a), waybill=waybill)
    assert refused.value.detail == {"reason": "shipped"}
    waybill.refresh_from_db()
    assert waybill.status == "allocated"
    assert Subscription.objects.get(pk=sub.pk).cancelled_total == 0


def test_order_list_batch_ships_with_the_orders_own_numbers(client, shop_a):
    from django.urls import reverse

    sub = open_service(shop_a, balance=5)
    orders = [make_order(shop_a) for _ in range(3)]
    for o in orders[:2]:
        services.waybill_allocate(actor=main_actor(shop_a), order=o, subscription=sub)
    client.force_login(shop_a.memberships.get().user)
    controls = client.get(reverse("console:waybill_batch_controls")).content.decode()
    assert 'data-testid="batch-ship-waybill"' in controls
    response = client.post(
        reverse("console:waybill_batch_ship"),
        {"ids": [o.pk for o in orders], "return_address": sub.address_id, "confirm": "1"},
        follow=True,
    )
    text = response.content.decode()
    assert "2" in text and orders[2].order_no in text  # the one without a number is listed
    for o in orders:
        o.refresh_from_db()
    assert [o.status for o in orders] == ["shipped", "shipped", "paid"]
    assert orders[0].return_address_id == sub.address_id and not orders[0].shipped_by_hand
