"""Every event type is written where its change happens, in the change's transaction, with
the object as the REST API shows it to the shop it goes to and a link to its page: orders,
waybill numbers, tracking, violations, the low-balance notice, deadlines and jobs (dropship:
``test_emitters_dropship.py``).

Types that only endpoints take are written only for a shop with an enabled endpoint that
wants them; a change that rolls back leaves no event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from carriers.gateways import gateway_for
from carriers.models import Reservation, Subscription
from events import signing
from events.models import Endpoint, Event
from shops import services as shop_services
from shops.models import Order
from shops.services import exports
from tests.conftest import main_actor, make_order, token_client
from tests.waybills.conftest import branch_actor, open_service
from waybill_console.jobs import MAX_ATTEMPTS, job_run
from waybill_console.models import Job
from waybills import services
from waybills.models import Waybill
from waybills.services import draw
from waybills.services.receiver import receiver_of
from waybills.services.rows import sender_of

pytestmark = pytest.mark.django_db

T0 = timezone.make_aware(timezone.datetime(2026, 11, 1, 9, 0))


class Boom(Exception):
    """A failure after the change was made: its transaction rolls back."""


def listen(shop, *types: str) -> Endpoint:
    """An enabled endpoint of the shop (every type unless ``types``)."""
    return Endpoint.objects.create(
        shop=shop,
        url="https://example.com/h",
        secret=signing.new_secret(),
        event_types=list(types),
    )


def events(type_name: str, shop=None) -> list[Event]:
    qs = Event.objects.filter(type=type_name)
    if shop is not None:
        qs = qs.filter(shop=shop)
    return list(qs.order_by("id"))


def api_get(shop, path: str) -> dict:
    response = token_client(shop).get(path)
    assert response.status_code == 200, response.content
    return response.json()


# --- orders -----------------------------------------------------------------------------------


def test_an_order_created_through_the_api_is_told_as_the_api_shows_it(shop_a):
    listen(shop_a)
    response = token_client(shop_a).post(
        "/api/v1/orders/",
        {
            "order_no": "EV-1",
            "items": [{"sku": "A", "product_name": "保温杯", "quantity": 1, "unit_price": "9.90"}],
            "receiver": {
                "name": "张三",
                "phone": "13812345678",
                "province": "浙江省",
                "city": "杭州市",
                "district": "西湖区",
                "detail": "文三路 90 号",
            },
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    order_id = response.json()["id"]

    [event] = events("order.created")
    assert event.shop_id == shop_a.pk
    assert event.data == api_get(shop_a, f"/api/v1/orders/{order_id}/")
    assert event.data["receiver"]["name"] != "张三"  # masked, as the API shows it
    assert event.link == f"/console/orders/{order_id}/"
    assert event.dispatched_at is None


def test_an_import_tells_each_order_created(shop_a):
    listen(shop_a, "order.created")
    header = "order_no,sku,product_name,quantity,unit_price,receiver_name,receiver_phone,"
    header += "province,city,district,detail\n"
    lines = "".join(
        f"IMP-{i},S{i},杯子,1,9.90,李四,13900001111,浙江省,杭州市,西湖区,文二路 {i} 号\n"
        for i in range(3)
    )
    result = shop_services.imports.order_import(
        actor=main_actor(shop_a), file_name="orders.csv", raw=(header + lines).encode()
    )
    assert result["orders"] == 3

    got = events("order.created", shop_a)
    orders = Order.objects.filter(shop=shop_a).order_by("pk")
    assert [e.data["order_no"] for e in got] == ["IMP-0", "IMP-1", "IMP-2"]
    assert [e.link for e in got] == [f"/console/orders/{o.pk}/" for o in orders]
    assert got[0].data == api_get(shop_a, f"/api/v1/orders/{orders[0].pk}/")


def test_no_endpoint_no_event_for_a_type_only_endpoints_take(shop_a, shop_b):
    listen(shop_b)  # another shop's endpoint does not make shop_a's events
    make_order(shop_a)
    Endpoint.objects.create(
        shop=shop_a, url="https://example.com/x", secret=signing.new_secret(), is_enabled=False
    )
    make_order(shop_a)
    listen(shop_a, "waybill.allocated")  # wants another type
    make_order(shop_a)

    assert Event.objects.count() == 0


def test_an_order_created_then_rolled_back_leaves_no_event(shop_a):
    listen(shop_a)
    with pytest.raises(Boom), transaction.atomic():
        make_order(shop_a, "ROLLED-1")
        assert len(events("order.created")) == 1  # written with the order…
        raise Boom

    assert not Order.objects.filter(order_no="ROLLED-1").exists()
    assert Event.objects.count() == 0  # …and gone with it


def test_a_cancellation_request_and_an_after_sale_tell_people(shop_a):
    order = make_order(shop_a)  # no endpoint: these types tell people (the bell)
    shop_services.order_request_cancel(actor=main_actor(shop_a), order=order, reason="拍错了")
    other = make_order(shop_a)
    shop_services.order_start_after_sale(actor=main_actor(shop_a), order=other, reason="破损")

    [asked] = events("order.cancel_requested", shop_a)
    assert asked.data == api_get(shop_a, f"/api/v1/orders/{order.pk}/")
    assert asked.data["cancel_request_status"] == "pending"
    assert asked.link == f"/console/orders/{order.pk}/"
    [after_sale] = events("order.after_sale", shop_a)
    assert after_sale.data == api_get(shop_a, f"/api/v1/orders/{other.pk}/")
    assert after_sale.data["after_sale_status"] == "in_progress"


# --- waybill numbers ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_number_drawn_through_the_api_is_told_as_the_api_shows_it(shop_a):
    sub = open_service(shop_a, balance=5000)  # far above the warning line
    listen(shop_a)
    order = make_order(shop_a)

    response = token_client(shop_a).post(
        "/api/v1/waybills/", {"order": order.pk, "subscription": sub.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    number = response.json()["waybill_no"]

    # drawn by the one-round-trip path: nothing is kept to settle
    assert not Reservation.objects.filter(order_id=order.pk).exists()
    [event] = events("waybill.allocated")
    assert event.shop_id == shop_a.pk
    assert event.data == api_get(shop_a, f"/api/v1/waybills/{number}/")
    assert event.link == f"/console/orders/{order.pk}/"
    assert "quota.low" not in {e.type for e in Event.objects.all()}


def test_a_draw_knows_who_listens_from_its_own_read_not_from_a_stale_cache(shop_a):
    """The engine reads the shop's endpoints with its subscription (one statement) and the
    emitter trusts that read: an endpoint the cache has not heard of yet is still told."""
    from events.services import outbox

    sub = open_service(shop_a, balance=5000)
    assert outbox.subscriptions(shop_a.pk) == frozenset()  # cached: nobody listens
    # an endpoint saved without its signal (the cache is not told): the cache is stale
    Endpoint.objects.bulk_create(
        [Endpoint(shop=shop_a, url="https://example.com/h", secret=signing.new_secret())]
    )
    outbox._seen.clear()  # no earlier statement's read in this process
    assert outbox.subscriptions(shop_a.pk) == frozenset()  # still stale
    order, other = make_order(shop_a), make_order(shop_a)

    response = token_client(shop_a).post(
        "/api/v1/waybills/", {"order": order.pk, "subscription": sub.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    services.waybill_allocate(actor=main_actor(shop_a), order=other.pk, subscription=sub.pk)

    got = events("waybill.allocated")
    assert {e.data["order"] for e in got} == {order.pk, other.pk}


def test_a_cached_value_it_cannot_read_is_read_past_to_the_endpoints(shop_a):
    """A value under the key in another format (a release that pickled it, a hand edit)
    is not trusted and breaks nothing: the endpoints are read again."""
    from django.core.cache import cache

    from events.services import outbox

    listen(shop_a, "order.created")
    outbox._seen.clear()
    key = cache.make_key(outbox._SUBS_KEY.format(shop_a.pk))
    outbox._store().set(key, b"\x80\x04\x95pickled")

    assert outbox.subscriptions(shop_a.pk) == frozenset({"order.created"})
    make_order(shop_a)
    assert len(events("order.created", shop_a)) == 1


def test_a_parent_and_sub_numbers_are_told_one_event_per_number(shop_a):
    sub = open_service(shop_a, balance=5000)
    listen(shop_a, "waybill.allocated")
    order = make_order(shop_a)

    drawn = services.waybill_allocate(
        actor=main_actor(shop_a), order=order, subscription=sub, package_count=3
    )
    appended = services.waybill_append_packages(actor=main_actor(shop_a), order=order, count=1)

    numbers = [w.waybill_no for w in drawn.waybills] + [w.waybill_no for w in appended]
    got = events("waybill.allocated")
    assert [e.data["waybill_no"] for e in got] == numbers
    for event in got:
        assert event.data == api_get(shop_a, f"/api/v1/waybills/{event.data['waybill_no']}/")
    assert [e.data["parent_waybill_no"] for e in got] == [None] + [numbers[0]] * 3


def test_a_batch_of_fifty_orders_tells_fifty_numbers(shop_a):
    sub = open_service(shop_a, balance=5000)
    listen(shop_a, "waybill.allocated")
    orders = [make_order(shop_a) for _ in range(50)]

    results = services.waybill_allocate_many(
        actor=main_actor(shop_a), orders=orders, subscription=sub.pk
    )

    assert all(r["ok"] for r in results)
    got = events("waybill.allocated", shop_a)
    assert len(got) == 50
    assert sorted(e.data["waybill_no"] for e in got) == sorted(r["waybill_no"] for r in results)
    assert {e.link for e in got} == {f"/console/orders/{o.pk}/" for o in orders}


def test_no_endpoint_no_event_when_numbers_are_drawn(shop_a):
    sub = open_service(shop_a, balance=5000)
    orders = [make_order(shop_a) for _ in range(3)]
    services.waybill_allocate(actor=main_actor(shop_a), order=orders[0], subscription=sub)
    services.waybill_allocate_many(actor=main_actor(shop_a), orders=orders[1:], subscription=sub)

    assert Waybill.objects.filter(shop=shop_a).count() == 3
    assert Event.objects.count() == 0


def test_a_draw_rolled_back_leaves_no_event_and_no_number(shop_a):
    sub = open_service(shop_a, balance=5000)
    listen(shop_a)
    order = make_order(shop_a)
    Event.objects.all().delete()  # order.created

    with pytest.raises(Boom), transaction.atomic():
        services.waybill_allocate(actor=main_actor(shop_a), order=order, subscription=sub)
        assert len(events("waybill.allocated")) == 1
        raise Boom

    assert not Waybill.objects.filter(order=order).exists()
    assert Event.objects.count() == 0


def test_a_cancel_tells_the_number_cancelled(shop_a):
    sub = open_service(shop_a, balance=5000)
    listen(shop_a, "waybill.cancelled")
    order = make_order(shop_a)
    waybill = services.waybill_allocate(
        actor=main_actor(shop_a), order=order, subscription=sub
    ).parent

    services.waybill_cancel(actor=main_actor(shop_a), waybill=waybill)

    [event] = events("waybill.cancelled")
    assert event.data == api_get(shop_a, f"/api/v1/waybills/{waybill.waybill_no}/")
    assert event.data["status"] == "cancelled"
    assert event.link == f"/console/orders/{order.pk}/"


def test_recycling_tells_each_number_recycled_to_the_shops_that_listen(shop_a, shop_b):
    mine = open_service(shop_a, balance=5000)
    theirs = open_service(shop_b, balance=5000)
    listen(shop_a, "waybill.recycled")
    drawn = [
        services.waybill_allocate(
            actor=main_actor(shop), order=make_order(shop), subscription=sub, now=T0
        ).parent
        for shop, sub in ((shop_a, mine), (shop_a, mine), (shop_b, theirs))
    ]

    counts = services.waybills_recycle(as_of=T0 + timedelta(days=31))

    assert counts["idle"] == 3
    got = events("waybill.recycled")
    assert [e.data["waybill_no"] for e in got] == [w.waybill_no for w in drawn[:2]]
    assert {e.shop_id for e in got} == {shop_a.pk}
    assert got[0].data == api_get(shop_a, f"/api/v1/waybills/{drawn[0].waybill_no}/")
    assert got[0].data["status"] == "recycled"


def test_tracking_tells_the_number_as_it_now_reads(shop_a):
    sub = open_service(shop_a, balance=5000)
    listen(shop_a, "tracking.updated")
    waybill = services.waybill_allocate(
        actor=main_actor(shop_a), order=make_order(shop_a), subscription=sub
    ).parent

    services.tracking_record(
        actor=branch_actor(sub),
        waybill_no=waybill.waybill_no,
        occurred_at=timezone.now(),
        status="picked_up",
        description="已揽收",
    )

    [event] = events("tracking.updated")
    assert event.shop_id == shop_a.pk
    assert event.data == api_get(shop_a, f"/api/v1/waybills/{waybill.waybill_no}/")
    assert event.data["status"] == "picked_up"
    assert event.data["has_tracking"] is True


def test_tracking_on_a_recycled_number_tells_the_violation(shop_a):
    sub = open_service(shop_a, balance=5000)  # nobody listens: the bell is told anyway
    waybill = services.waybill_allocate(
        actor=main_actor(shop_a), order=make_order(shop_a), subscription=sub, now=T0
    ).parent
    services.waybill_cancel(actor=main_actor(shop_a), waybill=waybill, now=T0)
    services.waybills_recycle(as_of=T0 + timedelta(days=16))
    at = T0 + timedelta(days=17)
    services.tracking_record(
        actor=branch_actor(sub),
        waybill_no=waybill.waybill_no,
        occurred_at=at,
        now=at,
        status="in_transit",
    )

    [event] = events("violation.recorded")
    [listed] = api_get(shop_a, "/api/v1/violations/")["results"]
    assert event.shop_id == shop_a.pk
    assert event.data == listed
    assert event.data["waybill_no"] == waybill.waybill_no
    assert event.link == "/console/waybills/violations/"
    assert events("tracking.updated") == []  # nobody listens to that one


# --- the low-balance notice -----------------------------------------------------------------


def test_the_low_balance_notice_is_told_once_when_the_balance_crosses_the_line(shop_a):
    sub = open_service(shop_a, balance=101)
    actor = main_actor(shop_a)

    services.waybill_allocate(actor=actor, order=make_order(shop_a), subscription=sub)
    assert events("quota.low") == []  # 100 left: not under the line
    services.waybill_allocate(actor=actor, order=make_order(shop_a), subscription=sub)
    services.waybill_allocate(actor=actor, order=make_order(shop_a), subscription=sub)

    [event] = events("quota.low")
    assert event.shop_id == shop_a.pk
    assert event.link == "/console/waybill-service/"
    # the service as the API shows it, as the draw that crossed left it (not the next one)
    shown = api_get(shop_a, f"/api/v1/subscriptions/{sub.pk}/")
    moved = {"balance": 99, "allocated_total": 2, "cancellable_now": 2}
    assert {k: shown[k] for k in moved} == {
        "balance": 98,
        "allocated_total": 3,
        "cancellable_now": 3,
    }
    assert event.data == {**shown, **moved}


@pytest.mark.django_db(transaction=True)
def test_a_crossing_the_read_balance_did_not_foresee_is_still_told_once(shop_a):
    """Others drew between the read and this draw: the one-round-trip path is taken, and
    the balance its commit read (the quota row still locked) shows the crossing."""
    sub = open_service(shop_a, balance=100)
    stale = Subscription.objects.select_related("carrier", "branch", "address").get(pk=sub.pk)
    stale.balance = 5000  # as read long before

    order = make_order(shop_a)
    screen = gateway_for("ZTO").screen(subscription=stale, receiver=receiver_of(order))
    package = draw.Package(order=order, shop_id=shop_a.pk, screen=screen, sender=sender_of(stale))
    [drawn] = draw.obtain(
        actor_name="test", sub=stale, packages=[package], at=timezone.now(), reference="t"
    )

    assert drawn.committed  # by the one-round-trip path itself
    assert not Reservation.objects.filter(order_id=order.pk).exists()
    assert stale.balance == 99  # the balance the draw left, kept on the service
    [event] = events("quota.low")
    assert event.data["balance"] == 99


def test_a_batch_that_crosses_the_line_tells_it_once(shop_a):
    sub = open_service(shop_a, balance=130)
    orders = [make_order(shop_a) for _ in range(60)]

    results = services.waybill_allocate_many(
        actor=main_actor(shop_a), orders=orders, subscription=sub.pk
    )

    assert all(r["ok"] for r in results)
    [event] = events("quota.low")
    assert event.data["balance"] == 80  # left by the chunk of 50 that crossed (130 → 80)


def test_a_draw_that_crossed_and_rolled_back_leaves_no_notice(shop_a):
    sub = open_service(shop_a, balance=100)
    with pytest.raises(Boom), transaction.atomic():
        services.waybill_allocate(
            actor=main_actor(shop_a), order=make_order(shop_a), subscription=sub
        )
        assert len(events("quota.low")) == 1
        raise Boom

    assert Event.objects.count() == 0
    sub.refresh_from_db()
    assert sub.balance == 100


# --- deadlines ------------------------------------------------------------------------------------


def test_a_deadline_near_then_missed_is_told_once_each(shop_a):
    order = make_order(shop_a, created_at=T0, paid_at=T0)  # ship within 48 h: T0 + 48 h
    sweep = shop_services.orders_apply_time_rules

    assert sweep(as_of=T0 + timedelta(hours=35))["sla_at_risk"] == 0  # 13 h left
    assert sweep(as_of=T0 + timedelta(hours=37))["sla_at_risk"] == 1  # 11 h left: 即将超时
    assert sweep(as_of=T0 + timedelta(hours=40))["sla_at_risk"] == 0
    [near] = events("sla.at_risk", shop_a)
    assert near.data == api_get(shop_a, f"/api/v1/orders/{order.pk}/")
    assert near.link == f"/console/orders/{order.pk}/"
    assert events("sla.missed") == []

    assert sweep(as_of=T0 + timedelta(hours=48, minutes=1))["sla_breaches"] == 1
    sweep(as_of=T0 + timedelta(hours=50))
    [missed] = events("sla.missed", shop_a)
    assert missed.data["order_no"] == order.order_no
    assert missed.data["sla_due_at"] == near.data["sla_due_at"]
    assert len(events("sla.at_risk")) == 1


def test_the_next_deadline_of_the_same_order_is_warned_of_again(shop_a):
    sub = open_service(shop_a, balance=5000)
    order = make_order(shop_a, created_at=T0, paid_at=T0)
    shop_services.orders_apply_time_rules(as_of=T0 + timedelta(hours=40))  # ready to ship
    services.waybill_allocate(actor=main_actor(shop_a), order=order, subscription=sub, now=T0)
    shop_services.order_mark_ready(
        actor=main_actor(shop_a), order=order, now=T0 + timedelta(hours=41)
    )
    # picked up within 72 h of being ready: due T0 + 113 h
    shop_services.orders_apply_time_rules(as_of=T0 + timedelta(hours=102))

    got = events("sla.at_risk", shop_a)
    assert len(got) == 2
    assert got[0].data["sla_due_at"] != got[1].data["sla_due_at"]


# --- jobs ---------------------------------------------------------------------------------------


def test_a_finished_job_is_told_with_its_summary_and_page(shop_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    make_order(shop_a)
    job = exports.order_export_start(actor=main_actor(shop_a), params={})

    assert job_run(job_id=job.pk) == "succeeded"

    [event] = events("job.finished", shop_a)
    assert event.link == f"/console/jobs/{job.pk}/"
    shown = api_get(shop_a, f"/api/v1/jobs/{job.pk}/")
    assert event.data == shown
    assert event.data["status"] == "succeeded"
    assert event.data["kind"] == job.kind


def test_a_finished_batch_job_is_told_without_its_line_per_order(shop_a):
    sub = open_service(shop_a, balance=5000)
    orders = [make_order(shop_a) for _ in range(3)]
    job = services.waybill_batch_start(
        actor=main_actor(shop_a), order_ids=[o.pk for o in orders], subscription=sub.pk
    )

    assert job_run(job_id=job.pk) == "succeeded"

    [event] = events("job.finished", shop_a)
    shown = api_get(shop_a, f"/api/v1/jobs/{job.pk}/")
    assert "results" in shown["result"]
    assert event.data["result"] == {k: v for k, v in shown["result"].items() if k != "results"}
    assert event.data["result"]["ok"] == 3
    assert {k: v for k, v in event.data.items() if k != "result"} == {
        k: v for k, v in shown.items() if k != "result"
    }


def test_a_job_redelivered_too_often_is_told_failed_with_its_error(shop_a):
    sub = open_service(shop_a, balance=5000)
    job = services.waybill_batch_start(
        actor=main_actor(shop_a), order_ids=[make_order(shop_a).pk], subscription=sub.pk
    )
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, attempts=MAX_ATTEMPTS)

    assert job_run(job_id=job.pk) == Job.Status.FAILED

    [event] = events("job.finished", shop_a)
    assert event.data == api_get(shop_a, f"/api/v1/jobs/{job.pk}/")
    assert event.data["status"] == "failed"
    assert event.data["error"]["code"] == "JOB_FAILED"
