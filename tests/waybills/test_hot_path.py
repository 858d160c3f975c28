"""The allocation API's hot path gives the answers of the general path: the input taken
as it is, the order read with the subscription in one statement, numbers from a
per-process block of the carrier's sequence (never the same number twice, across forked
processes too)."""

import os
from datetime import datetime

import pytest
from rest_framework import serializers as drf_serializers

from carriers.gateways import builtin, gateway_for
from carriers.gateways.builtin import number_is_valid
from carriers.models import Subscription
from carriers.services import ledger_check, subscription_share
from shops.models import Order
from tests.conftest import main_actor, make_order, make_shop, make_user, token_client
from tests.waybills.conftest import open_service
from tests.waybills.parallel import run_in_processes
from waybill_console.errors import AppError
from waybills import services
from waybills.api.serializers import AllocateSerializer, WaybillSerializer, allocate_input
from waybills.models import AllocationException, Waybill

# --- the input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {"order": 7, "subscription": 3},
        {"order": 7},
        {"order": 7, "subscription": None},
        {"order": 7, "subscription": 3, "package_count": 2, "weight_grams": 900},
        {"order": 7, "weight_grams": None},
        {"order": 7, "package_count": 0},
        {"order": -1, "subscription": 0},
        {"order": 2**70, "subscription": 3},
    ],
)
def test_plain_input_is_what_the_serializer_validates(data):
    ser = AllocateSerializer(data=data)
    assert ser.is_valid()
    assert allocate_input(data) == dict(ser.validated_data)


@pytest.mark.parametrize(
    "data",
    [
        {"order": "7", "subscription": "3"},
        {"order": 7.0},
        {"order": 7, "carrier": " zto "},
        {"order": 7, "services": ["insured"]},
        {"order": 7, "unknown": 1},
    ],
)
def test_other_input_goes_through_the_serializer(data):
    ser = AllocateSerializer(data=data)
    assert ser.is_valid()
    assert allocate_input(data) == dict(ser.validated_data)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"subscription": 3},
        {"order": None},
        {"order": True},
        {"order": "x"},
        {"order": 7, "package_count": None},
        {"order": 7, "subscription": False},
        ["order", 7],
    ],
)
def test_bad_input_gets_the_serializer_errors(data):
    ser = AllocateSerializer(data=data)
    assert not ser.is_valid()
    with pytest.raises(drf_serializers.ValidationError) as refused:
        allocate_input(data)
    assert refused.value.detail == ser.errors


# --- the order read with the subscription -----------------------------------------------------


@pytest.mark.django_db
def test_api_answer_is_the_waybill_as_the_detail_serializer_shows_it(shop_a):
    sub = open_service(shop_a, balance=5)
    order = make_order(shop_a)
    api = token_client(shop_a)
    response = api.post(
        "/api/v1/waybills/", {"order": order.pk, "subscription": sub.pk}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    waybill = Waybill.objects.select_related("carrier", "branch", "order").get(order=order)
    detail = api.get(f"/api/v1/waybills/{waybill.waybill_no}/").json()
    when = datetime.fromisoformat  # the same instant (the answer gives it in UTC)
    assert when(body.pop("allocated_at")) == when(detail.pop("allocated_at"))
    assert {k: body[k] for k in detail} == detail
    assert body["created"] is True
    assert body["packages"] == [{"package_no": 1, "waybill_no": waybill.waybill_no}]
    assert body["print_data"]["sender"]["province"] == "浙江省"
    assert dict(WaybillSerializer(waybill).data)["waybill_no"] == body["waybill_no"]
    assert number_is_valid("ZTO", body["waybill_no"])
    again = api.post(
        "/api/v1/waybills/", {"order": order.pk, "subscription": sub.pk}, format="json"
    )
    assert again.status_code == 200
    assert {**again.json(), "created": True} == {
        **body,
        "allocated_at": again.json()["allocated_at"],
    }
    assert Subscription.objects.get(pk=sub.pk).balance == 4
    assert ledger_check() == []


@pytest.mark.django_db
@pytest.mark.parametrize("order_id", ["other shop", "missing", "huge", "negative"])
def test_an_order_that_is_not_the_shops_is_404_and_draws_nothing(shop_a, shop_b, order_id):
    sub = open_service(shop_a, balance=5)
    other = make_order(shop_b)
    order_id = {
        "other shop": other.pk,
        "missing": other.pk + 1000,
        "huge": 2**63,
        "negative": -other.pk,
    }[order_id]
    response = token_client(shop_a).post(
        "/api/v1/waybills/", {"order": order_id, "subscription": sub.pk}, format="json"
    )
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
    assert not Waybill.objects.exists() and not AllocationException.objects.exists()
    assert Subscription.objects.get(pk=sub.pk).balance == 5


@pytest.mark.django_db
@pytest.mark.parametrize("sub_id", ["other shop", "missing", "huge", "zero"])
def test_a_subscription_that_is_not_the_shops_is_a_validation_error(shop_a, shop_b, sub_id):
    own = open_service(shop_a, balance=5)
    foreign = open_service(shop_b, balance=5)
    order = make_order(shop_a)
    sub_id = {"other shop": foreign.pk, "missing": own.pk + 1000, "huge": 2**63, "zero": 0}[sub_id]
    body = {"order": order.pk, "subscription": sub_id}
    response = token_client(shop_a).post("/api/v1/waybills/", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"
    assert "subscription" in response.json()["detail"]
    assert not Waybill.objects.exists()
    assert [s.balance for s in Subscription.objects.order_by("pk")] == [5, 5]


@pytest.mark.django_db
def test_a_subscription_shared_with_the_shop_draws_for_its_order():
    owner = make_user()
    shop_a, shop_b = make_shop(user=owner), make_shop(user=owner)
    sub = open_service(shop_a, balance=5)
    subscription_share(actor=main_actor(shop_a), subscription=sub, shop_nos=[shop_b.shop_no])
    order = make_order(shop_b)
    response = token_client(shop_b).post(
        "/api/v1/waybills/", {"order": order.pk, "subscription": sub.pk}, format="json"
    )
    assert response.status_code == 201 and response.json()["subscription"] == sub.pk
    assert Order.objects.get(pk=order.pk).tracking_no == response.json()["waybill_no"]


@pytest.mark.django_db
def test_a_token_without_the_scope_is_refused_after_the_order_lookup(shop_a, shop_b):
    sub = open_service(shop_a, balance=5)
    api = token_client(shop_a, scopes=["order.manage"])
    missing = api.post(
        "/api/v1/waybills/", {"order": make_order(shop_b).pk, "subscription": sub.pk}, format="json"
    )
    assert missing.status_code == 404
    refused = api.post(
        "/api/v1/waybills/", {"order": make_order(shop_a).pk, "subscription": sub.pk}, format="json"
    )
    assert refused.status_code == 403 and refused.json()["code"] == "PERMISSION_DENIED"
    assert not Waybill.objects.exists()


@pytest.mark.django_db
def test_the_service_takes_an_order_id_as_the_api_does(shop_a):
    sub = open_service(shop_a, balance=5)
    order = make_order(shop_a)
    allocation = services.waybill_allocate(
        actor=main_actor(shop_a), order=order.pk, subscription=sub.pk
    )
    assert allocation.created and allocation.parent.order.pk == order.pk
    assert allocation.parent.order.shop == shop_a
    again = services.waybill_allocate(actor=main_actor(shop_a), order=order, subscription=sub)
    assert not again.created and again.parent.waybill_no == allocation.parent.waybill_no
    suspended = Subscription.objects.filter(pk=sub.pk)
    suspended.update(status="cancelled")
    with pytest.raises(AppError) as refused:
        services.waybill_allocate(
            actor=main_actor(shop_a), order=make_order(shop_a).pk, subscription=sub.pk
        )
    assert refused.value.code == "SUBSCRIPTION_NOT_ACTIVE"
    assert AllocationException.objects.get().code == "SUBSCRIPTION_NOT_ACTIVE"


# --- numbers from a per-process block -------------------------------------------------------


def _issue(sub: Subscription, calls: int) -> dict:
    gateway = gateway_for(sub.carrier.code)
    numbers = []
    for i in range(calls):
        numbers += gateway.numbers(carrier_code=sub.carrier.code, count=3 if i % 7 == 6 else 1)
    return {"pid": os.getpid(), "numbers": numbers}


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_number_blocks_never_give_the_same_number_twice_across_processes():
    shop = make_shop(user=make_user())
    sub = Subscription.objects.select_related("carrier", "branch").get(
        pk=open_service(shop, balance=0).pk
    )
    builtin.blocks_forget()
    parent_first = _issue(sub, 1)["numbers"]  # the parent holds a block when it forks
    results = run_in_processes(_issue, [(sub, 45)] * 6)
    parent_rest = _issue(sub, 45)["numbers"]
    pids = {r["pid"] for r in results}
    assert len(pids) == 6 and os.getpid() not in pids
    everything = parent_first + parent_rest + [n for r in results for n in r["numbers"]]
    per_process = 45 + 2 * 6  # six of the 45 calls take three numbers
    assert len(everything) == 7 * per_process + 1
    assert len(set(everything)) == len(everything)
    assert all(number_is_valid("ZTO", n) for n in everything)
    builtin.blocks_forget()


@pytest.mark.django_db
def test_a_block_is_refilled_in_one_statement_and_large_draws_take_their_own(
    shop_a, django_assert_num_queries
):
    open_service(shop_a, balance=0)
    gateway = gateway_for("ZTO")
    builtin.blocks_forget()
    with django_assert_num_queries(1):
        numbers = [
            gateway.numbers(carrier_code="ZTO", count=1)[0] for _ in range(builtin.NUMBER_BLOCK)
        ]
    with django_assert_num_queries(1):
        numbers += gateway.numbers(carrier_code="ZTO", count=builtin.NUMBER_BLOCK)
    with django_assert_num_queries(1):
        numbers += gateway.numbers(carrier_code="ZTO", count=2)
    assert len(set(numbers)) == len(numbers) == 2 * builtin.NUMBER_BLOCK + 2
    builtin.blocks_forget()


# --- the draw's values ------------------------------------------------------------------------


@pytest.mark.django_db
def test_draw_values_are_what_the_fields_would_send(shop_a):
    from datetime import UTC

    from django.db import connection

    from waybill_console import rawsql
    from waybill_console.crypto import Sealed
    from waybills.services import rows

    sub = open_service(shop_a, balance=5)
    order = make_order(shop_a)
    built = services.waybill_allocate(actor=main_actor(shop_a), order=order.pk, subscription=sub)
    loaded = Waybill.objects.get(pk=built.parent.pk)
    loaded.weight_grams = 1200
    loaded.cancelled_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert isinstance(loaded.receiver_name, Sealed)

    for waybill in (built.parent, loaded):
        waybill.save()  # the row as the ORM writes these fields
        values = {name: getattr(waybill, name) for name in rows.ATTNAMES}
        with connection.cursor() as cur:
            # the engine's text columns, cast back by PostgreSQL as its commit does
            cur.execute(
                f"SELECT {rows.select_sql()} FROM {rows.unnest_sql()}",  # nosec B608
                rows.column_arrays([values], ["key"]),
            )
            sent = cur.fetchone()
            cur.execute(
                f"SELECT {rows.COLUMNS} FROM waybills_waybill WHERE id = %s",  # nosec B608
                [waybill.pk],
            )
            stored = cur.fetchone()
        assert sent == stored
    values = {name: getattr(loaded, name) for name in rows.ATTNAMES}
    values["receiver_name"] = "李四"  # a plain str for a sealed column: encrypted, as on save
    sent = rows.column_arrays([values], ["key"])[rows.ATTNAMES.index("receiver_name")][0]
    assert isinstance(sent, str) and "李四" not in sent and len(sent) > 40
    assert rawsql.db_values(loaded, rows.ATTNAMES)  # the kernel's helper agrees on the names


# --- instances without Model.__init__ -----------------------------------------------------------


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


@pytest.mark.django_db
def test_raw_rows_build_the_instances_the_orm_loads(shop_a):
    from django.db import connection

    from carriers.models import Branch, Carrier
    from shops.models import Address
    from waybill_console import rawsql

    sub = open_service(shop_a, balance=5)
    parts = [Subscription, Carrier, Branch, Address]
    columns = ", ".join(rawsql.columns(m, a) for m, a in zip(parts, "scba", strict=True))
    sql = (
        f"SELECT {columns} FROM carriers_subscription s "
        "JOIN carriers_carrier c ON c.id = s.carrier_id "
        "JOIN carriers_branch b ON b.id = s.branch_id "
        "JOIN shops_address a ON a.id = s.address_id WHERE s.id = %s"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [sub.pk])
        row = cur.fetchone()
    built, at = rawsql.split(row, parts)
    assert at == len(row)
    for obj, model in zip(built, parts, strict=True):
        loaded = model.objects.get(pk=obj.pk)
        assert type(obj) is model and _fields(obj) == _fields(loaded)
        assert not obj._state.adding and obj._state.db == "default"
    assert rawsql.build(Subscription, [None] * rawsql.width(Subscription)) is None
    built[0].status = "expiring"
    built[0].save(update_fields=["status"])  # a saved instance like any other
    assert Subscription.objects.get(pk=sub.pk).status == "expiring"


@pytest.mark.django_db
def test_a_new_waybill_is_what_the_model_constructor_makes(shop_a):
    from waybill_console import rawsql

    sub = Subscription.objects.select_related("carrier", "branch").get(
        pk=open_service(shop_a, balance=5).pk
    )
    order = make_order(shop_a)
    values = {"shop_id": shop_a.pk, "waybill_no": "73000000000017", "sort_code": "3301-06-12"}
    related = {"subscription": sub, "carrier": sub.carrier, "branch": sub.branch, "order": order}
    made, expected = rawsql.new(Waybill, values, related), Waybill(**values, **related)
    assert _fields(made) == _fields(expected)
    assert made.services == [] and made.services is not Waybill(**values).services
    assert made._state.adding and made._state.db is None
    assert made.carrier is sub.carrier and made.order is order  # cached: no query
    made.allocated_at = made.last_changed_at = order.created_at
    made.save(force_insert=True)
    assert Waybill.objects.get(pk=made.pk).order_id == order.pk


@pytest.mark.django_db
def test_with_an_instance_signal_receiver_the_model_constructor_is_used(shop_a):
    from django.db import connection
    from django.db.models.signals import post_init

    from waybill_console import rawsql

    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(sender)

    sub = open_service(shop_a, balance=5)
    post_init.connect(receiver, sender=Waybill)
    try:
        made = rawsql.new(Waybill, {"waybill_no": "73000000000017"}, {"subscription": sub})
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT {rawsql.columns(Subscription, 's')} FROM carriers_subscription s "
                "WHERE s.id = %s",
                [sub.pk],
            )
            loaded = rawsql.build(Subscription, cur.fetchone())
    finally:
        post_init.disconnect(receiver, sender=Waybill)
    assert seen == [Waybill] and made.subscription_id == sub.pk
    assert loaded.pk == sub.pk and not loaded._state.adding
