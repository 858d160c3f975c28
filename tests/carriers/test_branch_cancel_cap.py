"""The cancel cap counted per merchant per carrier branch, cumulatively (seed 000:
累计总取号数以单个快递公司下单个网点为单位计算): every subscription of the shop on the branch
(another shipping address, a service cancelled and applied for again) shares one window."""

import importlib
import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from carriers import services as carrier_services
from carriers.demo import demo_branches_create
from carriers.models import Branch, BranchAccount, Subscription
from carriers.selectors import cancellable_now
from shops import services as shop_services
from tests.conftest import (
    ensure_carrier_catalog,
    main_actor,
    make_order,
    make_shop,
    make_user,
    token_client,
)
from tests.waybills.conftest import SENDER
from waybill_console.errors import AppError
from waybill_console.tenancy import Actor
from waybills import services
from waybills.models import Waybill

pytestmark = pytest.mark.django_db

ZHEJIANG, JIANGSU = "33", "32"


def _open(shop, *, detail: str = "", address=None, province: str = ZHEJIANG) -> Subscription:
    """A ZTO service on the branch of ``province`` for ``address`` (or a new shipping address
    at ``detail``), approved and recharged with 200 numbers."""
    ensure_carrier_catalog()
    if not Branch.objects.exists():
        demo_branches_create()
    branch = Branch.objects.get(carrier__code="ZTO", region_code__startswith=province)
    if address is None:
        address = shop_services.address_create(
            actor=main_actor(shop), data={**SENDER, "detail": detail}
        )
    sub = carrier_services.subscription_apply(
        actor=main_actor(shop),
        carrier="ZTO",
        branch=branch.code,
        address=address.pk,
        contact_name="王经理",
        contact_phone="13800001111",
        agree=True,
    )
    by_branch = Actor(shop=None, branch=branch)
    carrier_services.subscription_approve(actor=by_branch, subscription=sub)
    carrier_services.subscription_recharge(actor=by_branch, subscription=sub, count=200)
    sub.refresh_from_db()
    return sub


def _draw(shop, sub, count: int) -> list[Waybill]:
    """``count`` new numbers on ``sub`` (through the allocation service)."""
    before = set(Waybill.objects.filter(subscription=sub).values_list("pk", flat=True))
    orders = [make_order(shop) for _ in range(count)]
    services.waybill_allocate_many(actor=main_actor(shop), orders=orders, subscription=sub)
    drawn = Waybill.objects.filter(subscription=sub).exclude(pk__in=before).order_by("pk")
    assert drawn.count() == count
    return list(drawn)


def _cancel(shop, waybill: Waybill) -> str:
    try:
        services.waybill_cancel(actor=main_actor(shop), waybill=Waybill.objects.get(pk=waybill.pk))
    except AppError as err:
        return err.code
    return "cancelled"


def _account(sub) -> tuple[int, int]:
    account = BranchAccount.objects.get(shop_id=sub.shop_id, branch_id=sub.branch_id)
    return account.cancelled_total, account.cancel_basis


def _cancelled(*subs) -> list[int]:
    return [Subscription.objects.get(pk=s.pk).cancelled_total for s in subs]


def test_two_addresses_on_one_branch_share_one_window(shop_a):
    first = _open(shop_a, detail="文一西路 1 号")
    second = _open(shop_a, detail="文一西路 2 号")
    assert first.branch_id == second.branch_id
    a = _draw(shop_a, first, 30)
    b = _draw(shop_a, second, 30)
    # 60 drawn on the branch: 60 // 5 = 12 cancels in all, not 30 + 30 free ones
    assert cancellable_now(first) == cancellable_now(second) == 12
    for waybill in a[:6] + b[:6]:
        assert _cancel(shop_a, waybill) == "cancelled"
    assert _cancelled(first, second) == [6, 6]
    assert _account(first) == (12, 60)
    assert cancellable_now(first) == cancellable_now(second) == 0
    for waybill in (a[6], b[6]):
        with pytest.raises(AppError) as refused:
            services.waybill_cancel(actor=main_actor(shop_a), waybill=waybill)
        assert refused.value.code == "CANCEL_LIMIT_REACHED"
        assert refused.value.detail == {"cancellable_now": 0}
        assert Waybill.objects.get(pk=waybill.pk).status == "allocated"
    assert _cancelled(first, second) == [6, 6]
    assert _account(first) == (12, 60)


def test_a_service_cancelled_and_applied_for_again_keeps_counting(shop_a):
    old = _open(shop_a, detail="文一西路 1 号")
    drawn = _draw(shop_a, old, 50)
    for waybill in drawn[:10]:  # at most 50 drawn: free
        assert _cancel(shop_a, waybill) == "cancelled"
    carrier_services.subscription_cancel(actor=main_actor(shop_a), subscription=old)
    new = _open(shop_a, address=old.address)  # the same address, the same branch
    assert new.pk != old.pk and new.branch_id == old.branch_id
    fresh = _draw(shop_a, new, 10)
    # 60 drawn on the branch (50 + 10), 10 cancelled: 2 more, not 10 free ones on the new one
    assert cancellable_now(new) == 2
    assert [_cancel(shop_a, w) for w in fresh[:3]] == [
        "cancelled",
        "cancelled",
        "CANCEL_LIMIT_REACHED",
    ]
    assert _cancelled(old, new) == [10, 2]
    assert _account(new) == (12, 60)
    assert Waybill.objects.get(pk=fresh[2].pk).status == "allocated"


def test_another_branch_of_the_same_carrier_has_its_own_window(shop_a):
    first = _open(shop_a, detail="文一西路 1 号")
    second = _open(shop_a, detail="文一西路 2 号")
    elsewhere = _open(shop_a, detail="文一西路 3 号", province=JIANGSU)
    assert elsewhere.branch_id != first.branch_id
    a, b = _draw(shop_a, first, 30), _draw(shop_a, second, 30)
    for waybill in a[:12]:
        assert _cancel(shop_a, waybill) == "cancelled"
    assert _cancel(shop_a, b[0]) == "CANCEL_LIMIT_REACHED"  # the Zhejiang branch is spent
    other = _draw(shop_a, elsewhere, 5)
    assert cancellable_now(elsewhere) == 5
    assert [_cancel(shop_a, w) for w in other] == ["cancelled"] * 5  # at most 50 drawn there
    assert _account(first) == (12, 60) and _account(elsewhere) == (5, 5)
    assert cancellable_now(first) == cancellable_now(second) == 0


def test_a_number_drawn_by_a_shop_the_service_is_shared_with_counts_on_the_owner(shop_a):
    """The merchant is the service's shop: a shared shop's cancels count in its window."""
    owner_sub = _open(shop_a, detail="文一西路 1 号")
    second = _open(shop_a, detail="文一西路 2 号")
    _draw(shop_a, owner_sub, 30)
    _draw(shop_a, second, 30)
    sister = make_shop(user=shop_a.memberships.get(role="main").user)
    carrier_services.subscription_share(
        actor=main_actor(shop_a), subscription=owner_sub, shop_nos=[sister.shop_no]
    )
    theirs = _draw(sister, owner_sub, 5)  # 65 drawn on the branch: 13 cancels
    for waybill in theirs[:3]:
        assert _cancel(sister, waybill) == "cancelled"
    assert _account(owner_sub) == (3, 65)
    assert cancellable_now(second) == 10
    assert not BranchAccount.objects.filter(shop=sister).exists()


def test_the_carrier_refusing_a_cancel_gives_the_count_back_on_the_branch(shop_a):
    sub = _open(shop_a, detail="文一西路 1 号")
    (waybill,) = _draw(shop_a, sub, 1)
    assert _cancel(shop_a, waybill) == "cancelled"
    (again,) = _draw(shop_a, sub, 1)
    Branch.objects.filter(pk=sub.branch_id).update(fault="timeout")
    assert _cancel(shop_a, again) == "ALLOCATION_TIMEOUT"
    assert Waybill.objects.get(pk=again.pk).status == "allocated"
    assert _cancelled(sub) == [1]
    assert _account(sub) == (1, 2)  # the basis of the cancel that was taken back stays


def test_recycling_moves_neither_count_of_the_cap(shop_a):
    from datetime import timedelta

    first = _open(shop_a, detail="文一西路 1 号")
    second = _open(shop_a, detail="文一西路 2 号")
    a = _draw(shop_a, first, 30)
    _draw(shop_a, second, 30)
    at = timezone.now()
    for waybill in a[:4]:
        services.waybill_cancel(actor=main_actor(shop_a), waybill=waybill, now=at)
    before = (cancellable_now(first), _account(first))
    assert before == (8, (4, 60))
    counts = services.waybills_recycle(as_of=at + timedelta(days=15))
    assert counts["cancelled"] == 4
    assert (cancellable_now(first), _account(first)) == before
    assert _cancelled(first, second) == [4, 0]
    sub = Subscription.objects.get(pk=first.pk)
    assert (sub.allocated_total, sub.recycled_total, sub.balance) == (30, 4, 174)


def test_the_database_refuses_an_update_past_the_cap():
    """Even a writer that skips the service cannot pass: the CHECK holds on the row."""
    shop = make_shop(user=make_user())
    sub = _open(shop, detail="文一西路 1 号")
    (waybill,) = _draw(shop, sub, 1)
    assert _cancel(shop, waybill) == "cancelled"
    account = BranchAccount.objects.get(shop=shop, branch_id=sub.branch_id)
    sql = "UPDATE carriers_branchaccount SET cancelled_total = %s, cancel_basis = %s WHERE id = %s"
    with connection.cursor() as cur:
        cur.execute(sql, [12, 60, account.pk])  # 20 % of 60: allowed
        cur.execute(sql, [50, 50, account.pk])  # at most 50 drawn: every cancel allowed
        with pytest.raises(IntegrityError), transaction.atomic():
            cur.execute(sql, [13, 60, account.pk])
        with pytest.raises(IntegrityError), transaction.atomic():
            cur.execute(sql, [11, 51, account.pk])
    assert _account(sub) == (50, 50)


def test_cancellable_now_through_the_api_is_the_branch_window(shop_a):
    first = _open(shop_a, detail="文一西路 1 号")
    second = _open(shop_a, detail="文一西路 2 号")
    a = _draw(shop_a, first, 30)
    _draw(shop_a, second, 30)
    api = token_client(shop_a)
    for waybill in a[:5]:
        response = api.post(f"/api/v1/waybills/{waybill.waybill_no}/cancel/")
        assert response.status_code == 200
    one = api.get(f"/api/v1/subscriptions/{first.pk}/").json()
    two = api.get(f"/api/v1/subscriptions/{second.pk}/").json()
    assert (one["allocated_total"], one["cancelled_total"], one["cancellable_now"]) == (30, 5, 7)
    assert (two["allocated_total"], two["cancelled_total"], two["cancellable_now"]) == (30, 0, 7)


def test_the_backfill_migration_makes_one_account_per_shop_and_branch(shop_a):
    first = _open(shop_a, detail="文一西路 1 号")
    second = _open(shop_a, detail="文一西路 2 号")
    elsewhere = _open(shop_a, detail="文一西路 3 号", province=JIANGSU)
    BranchAccount.objects.all().delete()
    Subscription.objects.filter(pk=first.pk).update(cancelled_total=7, allocated_total=70)
    Subscription.objects.filter(pk=second.pk).update(cancelled_total=4)
    backfill = importlib.import_module("carriers.migrations.0008_branch_accounts_backfill")
    with connection.cursor() as cur:
        cur.execute(backfill.BACKFILL)
        cur.execute(backfill.BACKFILL)  # a second run adds nothing
    rows = BranchAccount.objects.filter(shop=shop_a).values_list(
        "branch_id", "cancelled_total", "cancel_basis"
    )
    assert sorted(rows) == sorted([(first.branch_id, 11, 0), (elsewhere.branch_id, 0, 0)])
    # grandfathered: the next cancel recomputes the basis (70 drawn: 14 allowed, 11 taken)
    assert cancellable_now(second) == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_concurrent_cancels_on_two_addresses_at_the_boundary_pass_exactly_the_allowed():
    shop = make_shop(user=make_user())
    first = _open(shop, detail="文一西路 1 号")
    second = _open(shop, detail="文一西路 2 号")
    a, b = _draw(shop, first, 30), _draw(shop, second, 30)  # 60 on the branch: 12 cancels
    for waybill in a[:5] + b[:5]:
        assert _cancel(shop, waybill) == "cancelled"
    racers = a[5:9] + b[5:9]  # 8 at once for the last 2
    barrier = threading.Barrier(len(racers))
    outcomes: list[str] = []

    def cancel(waybill):
        try:
            barrier.wait(timeout=60)
            outcomes.append(_cancel(shop, waybill))
        finally:
            connection.close()

    threads = [threading.Thread(target=cancel, args=(w,)) for w in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["CANCEL_LIMIT_REACHED"] * 6 + ["cancelled"] * 2
    assert _account(first) == (12, 60)
    assert sum(_cancelled(first, second)) == 12
    cancelled = Waybill.objects.filter(subscription__in=[first, second], status="cancelled")
    assert cancelled.count() == 12
