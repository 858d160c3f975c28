"""Cancelling numbers: the cap and every refusal, with nothing changed on a refusal."""

from datetime import timedelta

import pytest
from django.utils import timezone

from carriers.models import Subscription
from carriers.selectors import cancellable_now
from shops.models import Order
from tests.conftest import main_actor, make_order, make_shop, make_user, token_client
from tests.waybills.conftest import branch_actor, open_service
from waybill_console.errors import AppError
from waybills import services
from waybills.models import Waybill

pytestmark = pytest.mark.django_db


def _allocate(shop, sub, count):
    orders = [make_order(shop) for _ in range(count)]
    services.waybill_allocate_many(actor=main_actor(shop), orders=orders, subscription=sub)
    return list(Waybill.objects.filter(subscription=sub).order_by("pk"))


def _counters(sub):
    sub = Subscription.objects.get(pk=sub.pk)
    return sub.balance, sub.allocated_total, sub.cancelled_total


def test_up_to_50_allocated_every_number_may_be_cancelled_and_allocation_goes_on(shop_a):
    sub = open_service(shop_a, balance=100)
    waybills = _allocate(shop_a, sub, 50)
    for waybill in waybills:
        services.waybill_cancel(actor=main_actor(shop_a), waybill=waybill)
    assert _counters(sub) == (50, 50, 50)
    # the cap never blocks drawing: the 51st number is allocated
    extra = services.waybill_allocate(
        actor=main_actor(shop_a), order=make_order(shop_a), subscription=sub
    ).parent
    assert _counters(sub) == (49, 51, 50)
    sub.refresh_from_db()
    assert cancellable_now(sub) == 0
    with pytest.raises(AppError) as refused:
        services.waybill_cancel(actor=main_actor(shop_a), waybill=extra)
    assert refused.value.code == "CANCEL_LIMIT_REACHED"
    assert refused.value.render_message() == "您的账号取消电子面单数量已达上限"
    assert Waybill.objects.get(pk=extra.pk).status == "allocated"
    assert _counters(sub) == (49, 51, 50)


def test_cancel_refused_past_twenty_percent(shop_a):
    sub = open_service(shop_a, balance=100)
    waybills = _allocate(shop_a, sub, 60)
    sub.refresh_from_db()
    assert cancellable_now(sub) == 12
    for waybill in waybills[:12]:
        services.waybill_cancel(actor=main_actor(shop_a), waybill=waybill)
    before = _counters(sub)
    with pytest.raises(AppError) as refused:
        services.waybill_cancel(actor=main_actor(shop_a), waybill=waybills[12])
    assert refused.value.code == "CANCEL_LIMIT_REACHED" and refused.value.status == 409
    assert _counters(sub) == before == (40, 60, 12)
    assert Waybill.objects.get(pk=waybills[12].pk).status == "allocated"
    # five more numbers drawn: one more cancel allowed (13 * 5 <= 65)
    _allocate(shop_a, sub, 5)
    sub.refresh_from_db()
    assert cancellable_now(sub) == 1
    services.waybill_cancel(actor=main_actor(shop_a), waybill=waybills[12])


def test_cancel_refusals_each_with_its_reason(shop_a):
    sub = open_service(shop_a, balance=10)
    a, b, c, d = _allocate(shop_a, sub, 4)
    actor = main_actor(shop_a)
    services.waybill_cancel(actor=actor, waybill=a)
    now = timezone.now()
    services.tracking_record(
        actor=branch_actor(sub), waybill_no=b.waybill_no, occurred_at=now, status="picked_up"
    )
    Waybill.objects.filter(pk=c.pk).update(status="recycled", recycled_at=now)
    Waybill.objects.filter(pk=d.pk).update(has_tracking=True)
    cases = {a.pk: "already_cancelled", b.pk: "picked_up", c.pk: "recycled", d.pk: "has_tracking"}
    before = _counters(sub)
    for pk, reason in cases.items():
        with pytest.raises(AppError) as refused:
            services.waybill_cancel(actor=actor, waybill=Waybill.objects.get(pk=pk))
        assert refused.value.code == "WAYBILL_NOT_CANCELLABLE"
        assert refused.value.detail == {"reason": reason}
    assert _counters(sub) == before


def test_cancel_frees_the_order_package_for_a_new_number(shop_a):
    sub = open_service(shop_a, balance=10)
    order = make_order(shop_a)
    first = services.waybill_allocate(actor=main_actor(shop_a), order=order, subscription=sub)
    services.waybill_cancel(actor=main_actor(shop_a), waybill=first.parent)
    order.refresh_from_db()
    assert not order.has_waybill and order.tracking_no == ""
    second = services.waybill_allocate(actor=main_actor(shop_a), order=order, subscription=sub)
    assert second.created and second.parent.waybill_no != first.parent.waybill_no
    assert Order.objects.get(pk=order.pk).tracking_no == second.parent.waybill_no


def test_cancel_needs_the_permission_and_another_shops_number_is_404(shop_a, shop_b):
    sub = open_service(shop_a, balance=10)
    (waybill,) = _allocate(shop_a, sub, 1)
    with pytest.raises(AppError) as refused:
        services.waybill_cancel(actor=main_actor(shop_b), waybill=waybill)
    assert refused.value.code == "NOT_FOUND"
    response = token_client(shop_b).post(f"/api/v1/waybills/{waybill.waybill_no}/cancel/")
    assert response.status_code == 404
    limited = token_client(shop_a, scopes=["waybill.allocate"])
    response = limited.post(f"/api/v1/waybills/{waybill.waybill_no}/cancel/")
    assert response.status_code == 403
    assert Waybill.objects.get(pk=waybill.pk).status == "allocated"


def test_cancel_through_the_api_and_cancellable_now_on_the_subscription(shop_a):
    sub = open_service(shop_a, balance=10)
    (waybill,) = _allocate(shop_a, sub, 1)
    api = token_client(shop_a)
    response = api.post(f"/api/v1/waybills/{waybill.waybill_no}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = api.post(f"/api/v1/waybills/{waybill.waybill_no}/cancel/")
    assert again.status_code == 409 and again.json()["code"] == "WAYBILL_NOT_CANCELLABLE"
    detail = api.get(f"/api/v1/subscriptions/{sub.pk}/").json()
    assert detail["cancelled_total"] == 1 and detail["cancellable_now"] == 0


def test_update_until_pickup_then_refused(shop_a):
    sub = open_service(shop_a, balance=10)
    (waybill,) = _allocate(shop_a, sub, 1)
    actor = main_actor(shop_a)
    receiver = {
        "name": "李四",
        "phone": "13900001111",
        "province": "浙江省",
        "city": "宁波市",
        "district": "鄞州区",
        "detail": "天童南路 1 号",
    }
    updated = services.waybill_update(
        actor=actor, waybill=waybill, receiver=receiver, weight_grams=1200
    )
    assert updated.receiver_name_masked == "李*" and updated.short_address_name == "宁波 鄞州区"
    assert updated.weight_grams == 1200
    services.tracking_record(
        actor=branch_actor(sub),
        waybill_no=waybill.waybill_no,
        occurred_at=timezone.now() - timedelta(minutes=1),
        status="picked_up",
    )
    with pytest.raises(AppError) as refused:
        services.waybill_update(
            actor=actor, waybill=Waybill.objects.get(pk=waybill.pk), weight_grams=900
        )
    assert refused.value.code == "WAYBILL_NOT_UPDATABLE"
    assert Waybill.objects.get(pk=waybill.pk).weight_grams == 1200


def test_update_refuses_a_bad_receiver_naming_the_field(shop_a):
    sub = open_service(shop_a, balance=10)
    (waybill,) = _allocate(shop_a, sub, 1)
    with pytest.raises(AppError) as refused:
        services.waybill_update(
            actor=main_actor(shop_a),
            waybill=waybill,
            receiver={"name": "李四", "phone": "123", "province": "浙江省", "city": "宁波市"},
        )
    assert refused.value.code == "VALIDATION_ERROR"
    assert set(refused.value.detail) == {"receiver.phone", "receiver.detail"}
    assert Waybill.objects.get(pk=waybill.pk).receiver_name_masked == "张*"


def test_another_shop_cannot_use_a_subscription_it_does_not_share(shop_a):
    sub = open_service(shop_a, balance=10)
    other = make_shop(user=make_user())
    with pytest.raises(AppError) as refused:
        services.waybill_allocate(
            actor=main_actor(other), order=make_order(other), subscription=sub.pk
        )
    assert refused.value.code == "VALIDATION_ERROR" and "subscription" in refused.value.detail
    assert _counters(sub) == (10, 0, 0)


def test_a_cancel_the_carrier_refuses_is_undone(shop_a):
    from carriers.models import Branch

    sub = open_service(shop_a, balance=10)
    (waybill,) = _allocate(shop_a, sub, 1)
    Branch.objects.filter(pk=sub.branch_id).update(fault="timeout")
    with pytest.raises(AppError) as refused:
        services.waybill_cancel(
            actor=main_actor(shop_a), waybill=Waybill.objects.get(pk=waybill.pk)
        )
    assert refused.value.code == "ALLOCATION_TIMEOUT"
    assert Waybill.objects.get(pk=waybill.pk).status == "allocated"
    assert _counters(sub) == (9, 1, 0)
    assert Order.objects.get(pk=waybill.order_id).tracking_no == waybill.waybill_no


def test_a_sub_number_is_cancelled_alone_where_the_carrier_cancels_per_number(shop_a):
    """The built-in gateway (like Kuaidi100) cancels the number named: one package of a
    子母件 may go alone, and ``whole_order`` changes nothing (SF: tests/carriers/test_sf.py)."""
    sub = open_service(shop_a, balance=10)
    allocation = services.waybill_allocate(
        actor=main_actor(shop_a), order=make_order(shop_a), subscription=sub, package_count=3
    )
    parent, child, third = allocation.waybills
    services.waybill_cancel(actor=main_actor(shop_a), waybill=child)
    services.waybill_cancel(actor=main_actor(shop_a), waybill=third, whole_order=True)
    statuses = dict(
        Waybill.objects.filter(order_id=parent.order_id).values_list("waybill_no", "status")
    )
    assert statuses == {
        parent.waybill_no: "allocated",
        child.waybill_no: "cancelled",
        third.waybill_no: "cancelled",
    }
    assert _counters(sub) == (7, 3, 2)
