"""取号: one order package, one number; the quota, the ledger and the snapshots."""

import pytest

from carriers.models import LedgerEntry, Subscription
from carriers.services import ledger_check
from shops.models import Order
from tests.conftest import main_actor, make_order
from tests.waybills.conftest import open_service
from waybill_console.errors import AppError
from waybills import services
from waybills.models import AllocationException, Waybill

pytestmark = pytest.mark.django_db


def test_allocation_draws_one_number_with_what_the_label_needs(shop_a):
    sub = open_service(shop_a, balance=10)
    order = make_order(shop_a)
    allocation = services.waybill_allocate(actor=main_actor(shop_a), order=order, carrier="ZTO")
    waybill = allocation.parent
    assert allocation.created
    assert waybill.waybill_no.startswith("73") and len(waybill.waybill_no) == 14
    assert waybill.sort_code and waybill.package_center_name == "浙江转运中心"
    assert waybill.short_address_name == "杭州 西湖区"
    assert waybill.receiver_name_masked == "张*" and waybill.receiver_phone_masked == "138****5678"
    assert waybill.sender["province"] == "浙江省"
    sub.refresh_from_db()
    assert (sub.balance, sub.allocated_total) == (9, 1)
    entry = LedgerEntry.objects.filter(subscription=sub, kind="allocation").get()
    assert (entry.amount, entry.balance_after) == (-1, 9)
    order.refresh_from_db()
    assert order.has_waybill and order.tracking_no == waybill.waybill_no
    assert ledger_check() == []


def test_asking_again_for_the_same_order_returns_the_same_number(shop_a):
    sub = open_service(shop_a, balance=10)
    order = make_order(shop_a)
    first = services.waybill_allocate(actor=main_actor(shop_a), order=order, subscription=sub)
    again = services.waybill_allocate(actor=main_actor(shop_a), order=order, subscription=sub)
    assert not again.created and again.parent.waybill_no == first.parent.waybill_no
    sub.refresh_from_db()
    assert (sub.balance, sub.allocated_total) == (9, 1)


def test_no_balance_refused_and_recorded_as_exception(shop_a):
    sub = open_service(shop_a, balance=0)
    order = make_order(shop_a)
    with pytest.raises(AppError) as refused:
        services.waybill_allocate(actor=main_actor(shop_a), order=order, subscription=sub)
    assert refused.value.code == "QUOTA_INSUFFICIENT"
    assert refused.value.render_message() == "单号余额不足，请尽快联系网点申购"
    assert not Waybill.objects.exists()
    sub.refresh_from_db()
    assert (sub.balance, sub.allocated_total) == (0, 0)
    exception = AllocationException.objects.get()
    assert exception.code == "QUOTA_INSUFFICIENT" and exception.resolved_at is None
    assert not Order.objects.get(pk=order.pk).has_waybill


def test_multi_package_parent_and_sub_numbers_then_append(shop_a):
    sub = open_service(shop_a, balance=10)
    order = make_order(shop_a)
    allocation = services.waybill_allocate(
        actor=main_actor(shop_a), order=order, subscription=sub, package_count=3
    )
    parent, *children = allocation.waybills
    assert [w.package_no for w in allocation.waybills] == [1, 2, 3]
    assert all(c.parent_id == parent.pk for c in children)
    more = services.waybill_append_packages(actor=main_actor(shop_a), order=order, count=2)
    assert [w.package_no for w in more] == [4, 5] and all(w.parent_id == parent.pk for w in more)
    sub.refresh_from_db()
    assert (sub.balance, sub.allocated_total) == (5, 5)
    assert ledger_check() == []


def test_multi_package_refused_where_the_carrier_has_none(shop_a):
    sub = open_service(shop_a, "STO", balance=10)
    with pytest.raises(AppError) as refused:
        services.waybill_allocate(
            actor=main_actor(shop_a), order=make_order(shop_a), subscription=sub, package_count=2
        )
    assert refused.value.code == "MULTI_PACKAGE_NOT_SUPPORTED"
    assert Subscription.objects.get(pk=sub.pk).balance == 10


def test_direct_carrier_draws_on_the_monthly_account(shop_a):
    sub = open_service(shop_a, "SF", monthly_account="0571888")
    services.waybill_allocate(actor=main_actor(shop_a), order=make_order(shop_a), carrier="SF")
    sub.refresh_from_db()
    assert (sub.balance, sub.allocated_total) == (0, 1)
    assert not LedgerEntry.objects.filter(subscription=sub, kind="allocation").exists()
    assert ledger_check() == []


def test_batch_allocation_of_many_orders_in_chunks(shop_a):
    sub = open_service(shop_a, balance=60)
    orders = [make_order(shop_a) for _ in range(70)]
    results = services.waybill_allocate_many(
        actor=main_actor(shop_a), orders=orders, subscription=sub
    )
    ok = [r for r in results if r["ok"]]
    refused = [r for r in results if not r["ok"]]
    assert len(ok) == 60 and len(refused) == 10
    assert {r["error"]["code"] for r in refused} == {"QUOTA_INSUFFICIENT"}
    assert [r["order"] for r in results] == [o.pk for o in orders]
    sub.refresh_from_db()
    assert (sub.balance, sub.allocated_total) == (0, 60)
    assert Waybill.objects.count() == 60
    assert AllocationException.objects.filter(resolved_at=None).count() == 10
    assert ledger_check() == []


def test_seed_demo_with_waybills_is_idempotent():
    from django.core.management import call_command

    call_command("seed_demo", "--quiet", "--orders", "60", "--waybills")
    call_command("seed_demo", "--quiet", "--waybills")
    sub = Subscription.objects.get(shop__shop_no="100001", carrier__code="ZTO")
    assert sub.status == "active" and sub.is_default
    drawn = Waybill.objects.filter(shop__shop_no="100001")
    assert drawn.count() == sub.allocated_total > 0
    assert drawn.filter(status="cancelled").count() == sub.cancelled_total == 2
    assert Subscription.objects.get(shop__shop_no="200001").balance == 5000
    assert ledger_check() == []
