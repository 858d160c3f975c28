"""A factory's number for a merchant's order obeys the dropship rules on every door.

The number belongs to the factory's shop, so the generic waybill doors (detail, change,
cancel, packages, the label in every format, print jobs and their retries, the print
agent, the order list's batch print) would serve it like any other of its numbers. Once
the merchant withdrew the allocation, the binding ended, or an after-sale / cancellation
request took the allocation back, the factory gets the 404 of a missing number on every
one of them, and nothing is decrypted or changed. Routes are walked from the URL
configuration: a new route naming a waybill number is covered without editing this file.
Where the design blocks printing instead (an address change after the draw, an
after-sale after the return), the label doors answer ORDER_BLOCKED.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.test import Client

from carriers.models import Subscription
from dropship.models import Allocation, Binding
from dropship.services import allocation as alloc
from dropship.services import factory as fs
from dropship.services import identity
from printing import agents, print_jobs, printers
from printing.models import PrintJob
from shops import services as shop_services
from shops.models import Order
from tests.conftest import main_actor, make_order, token_client
from tests.dropship.conftest import RECEIVER, SECRETS, allocated
from tests.routes import all_routes
from waybill_console.models import DecryptionAudit
from waybills.models import Waybill

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")
NEW_RECEIVER = {**RECEIVER, "name": "司马相如", "phone": "13700001111", "detail": "天目山路 1 号"}


def waybill_routes() -> list[str]:
    """Every route of the URL configuration that names a waybill number."""
    return [r for r in all_routes() if "<str:waybill_no>" in r]


def fill(route: str, waybill_no: str) -> str:
    return "/" + route.replace("<str:waybill_no>", waybill_no)


def body_for(route: str, method: str) -> dict:
    """What an attacker would send: a new receiver on a change, one more package …"""
    if method in ("patch", "put"):
        return {"receiver": NEW_RECEIVER, "weight_grams": 999, "items": [{"name": "x"}]}
    if route.endswith("packages/"):
        return {"count": 1}
    return {}


def session(shop) -> Client:
    client = Client()
    client.force_login(shop.memberships.get(role="main").user)
    return client


def fingerprint(waybill: Waybill) -> str:
    """The number, its order, its subscription's counters and every decryption, as one
    digest: a refused door changes none of them."""
    rows = [
        list(Waybill.objects.filter(pk=waybill.pk).values()),
        list(Order.objects.filter(pk=waybill.order_id).values()),
        list(Subscription.objects.filter(pk=waybill.subscription_id).values()),
        list(DecryptionAudit.objects.order_by("pk").values("pk", "model", "object_pk")),
    ]
    for row in rows[1]:
        row.pop("updated_at", None)
    blob = json.dumps(rows, cls=DjangoJSONEncoder, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def withdraw_allocation(merchant, factory, fo):
    for allocation in Allocation.objects.filter(factory_order=fo):
        alloc.allocation_cancel(actor=main_actor(merchant), allocation_id=allocation.pk)


def merchant_unbinds_after_return(merchant, factory, fo):
    fs.factory_order_return(actor=main_actor(factory), factory_order_id=fo.pk)
    binding = Binding.objects.get(merchant=merchant, factory=factory, status="active")
    identity.binding_unbind(actor=main_actor(merchant), binding_id=binding.pk)


def factory_unbinds(merchant, factory, fo):
    binding = Binding.objects.get(merchant=merchant, factory=factory, status="active")
    identity.binding_unbind(actor=main_actor(factory), binding_id=binding.pk)


def after_sale_opens(merchant, factory, fo):
    shop_services.order_start_after_sale(actor=main_actor(merchant), order=fo.order)


def cancellation_requested(merchant, factory, fo):
    shop_services.order_request_cancel(actor=main_actor(merchant), order=fo.order)


ENDINGS = {
    "allocation withdrawn": withdraw_allocation,
    "merchant unbound after the return": merchant_unbinds_after_return,
    "factory unbound": factory_unbinds,
    "after-sale opened": after_sale_opens,
    "cancellation requested": cancellation_requested,
}


@pytest.fixture
def drawn(merchant, factory, factory_sub, order):
    """The whole order handed to the factory, which drew its number; an agent printer of
    the factory's packing PC with a print job of that number, queued."""
    fo = allocated(merchant, factory, order)
    fo = fs.factory_order_draw(
        actor=main_actor(factory), factory_order_id=fo.pk, subscription=factory_sub.pk
    )
    agent, key = agents.agent_create(actor=main_actor(factory), name="工厂打包台")
    printer = printers.printer_create(
        actor=main_actor(factory),
        data={"name": "工厂打印机", "kind": "escpos", "connection": "agent", "agent": agent.pk,
              "agent_target": "win://Packing"},
    )  # fmt: skip
    job = print_jobs.print_job_create(
        actor=main_actor(factory), printer=printer, waybill_ids=[fo.waybill_id]
    )
    return fo, printer, job, key


def agent(key: str):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Agent {key}")
    return client


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_every_waybill_door_refuses_the_factory_once_the_dropship_order_ended(
    merchant, factory, drawn, ending
):
    fo, printer, job, agent_key = drawn
    waybill = Waybill.objects.get(pk=fo.waybill_id)
    api = token_client(factory)
    page = session(factory)
    routes = waybill_routes()
    assert len(routes) >= 5, routes  # detail, cancel, packages, label; the cancel page

    # positive control: while the order is the factory's to work on, the doors answer
    assert api.get(f"/api/v1/waybills/{waybill.waybill_no}/").status_code == 200
    label = api.get(f"/api/v1/waybills/{waybill.waybill_no}/label/?format=png")
    assert label.status_code == 200 and label["Content-Type"] == "image/png"

    ENDINGS[ending](merchant, factory, fo)
    before = fingerprint(waybill)
    audits = DecryptionAudit.objects.count()

    failures = []
    for route in routes:
        url = fill(route, waybill.waybill_no)
        reached = False
        for method in METHODS:
            if route.startswith("api/"):
                call = getattr(api, method)
                response = (
                    call(url + "?format=pdf")
                    if method == "get"
                    else call(url, body_for(route, method), format="json")
                )
            else:
                call = getattr(page, method)
                response = call(url) if method == "get" else call(url, body_for(route, method))
            reached |= response.status_code == 404
            if response.status_code not in (404, 405):
                failures.append(f"{method.upper()} {url}: {response.status_code}")
            text = response.content.decode(errors="replace")
            failures += [f"{method.upper()} {url}: {s} in the answer" for s in SECRETS if s in text]
        if not reached:
            failures.append(f"{url}: no method reached the number (no 404)")
    assert not failures, "\n".join(failures)

    # print jobs name numbers in their body: the number is as unknown as a missing one
    jobs_before = PrintJob.objects.count()
    response = api.post(
        "/api/v1/print-jobs/",
        {"printer": printer.pk, "waybills": [waybill.waybill_no]},
        format="json",
    )
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"
    assert PrintJob.objects.count() == jobs_before
    # the order list's batch print (order ids in the form): no PDF, no job
    response = page.post(
        "/console/print-jobs/batch/", {"ids": [str(fo.order_id)], "print_target": "pdf"}
    )
    assert response.status_code == 302 and response["Content-Type"].startswith("text/html")
    assert PrintJob.objects.count() == jobs_before

    # the job queued before the end: the agent's claim renders nothing, the job fails
    # (an order in after-sale or under review is refused by the order rule first:
    # ORDER_BLOCKED)
    blocked = ending in ("after-sale opened", "cancellation requested")
    expected = "ORDER_BLOCKED" if blocked else "NOT_FOUND"
    assert agent(agent_key).get("/api/v1/agent/jobs/next/").status_code == 204
    job.refresh_from_db()
    assert (job.status, job.error["code"]) == ("failed", expected)
    # and a reprint (retry) fails the same way
    assert api.post(f"/api/v1/print-jobs/{job.pk}/retry/", {}, format="json").status_code == 200
    assert agent(agent_key).get("/api/v1/agent/jobs/next/").status_code == 204
    job.refresh_from_db()
    assert (job.status, job.error["code"]) == ("failed", expected)

    assert DecryptionAudit.objects.count() == audits
    assert fingerprint(waybill) == before


def test_the_merchant_keeps_every_door_to_its_own_numbers(merchant, merchant_sub, order):
    """The rule is about numbers drawn for another shop's order: a shop's own numbers are
    untouched by it (positive control for the selector)."""
    from waybills.services import waybill_allocate

    own = waybill_allocate(actor=main_actor(merchant), order=order, subscription=merchant_sub)
    api = token_client(merchant)
    detail = api.get(f"/api/v1/waybills/{own.parent.waybill_no}/")
    assert detail.status_code == 200
    assert detail.json()["waybill_no"] == own.parent.waybill_no
    assert detail.json()["order"] == order.pk
    label = api.get(f"/api/v1/waybills/{own.parent.waybill_no}/label/?format=png")
    assert label.status_code == 200 and label.content.startswith(b"\x89PNG")


def test_a_live_dropship_order_still_prints_through_the_generic_doors(merchant, factory, drawn):
    fo, printer, job, agent_key = drawn
    waybill = Waybill.objects.get(pk=fo.waybill_id)
    claimed = agent(agent_key).get("/api/v1/agent/jobs/next/")
    assert claimed.status_code == 200 and claimed.json()["job"] == job.pk
    api = token_client(factory)
    response = api.patch(
        f"/api/v1/waybills/{waybill.waybill_no}/", {"weight_grams": 1500}, format="json"
    )
    assert response.status_code == 200 and response.json()["weight_grams"] == 1500


def test_the_factory_cannot_redirect_the_merchants_parcel(merchant, factory, drawn):
    """Even while the order is its to work on: the order, and its receiver, are the
    merchant's (403, nothing changed)."""
    fo, *_ = drawn
    waybill = Waybill.objects.get(pk=fo.waybill_id)
    before = fingerprint(waybill)
    response = token_client(factory, language="en").patch(
        f"/api/v1/waybills/{waybill.waybill_no}/", {"receiver": NEW_RECEIVER}, format="json"
    )
    assert response.status_code == 403
    assert response.json() == {
        "code": "WAYBILL_RECEIVER_NOT_EDITABLE",
        "message": "Only the shop that owns the order can change its receiver.",
        "detail": {},
    }
    assert fingerprint(waybill) == before


def test_an_address_change_after_the_draw_blocks_the_generic_label_doors(merchant, factory, drawn):
    fo, printer, job, agent_key = drawn
    waybill = Waybill.objects.get(pk=fo.waybill_id)
    shop_services.order_change_address(
        actor=main_actor(merchant), order=fo.order, receiver=NEW_RECEIVER
    )
    before, audits = fingerprint(waybill), DecryptionAudit.objects.count()
    api = token_client(factory)
    for fmt in ("pdf", "png", "escpos", "tspl", "zpl"):
        response = api.get(f"/api/v1/waybills/{waybill.waybill_no}/label/?format={fmt}")
        assert response.status_code == 409 and response.json()["code"] == "ORDER_BLOCKED", fmt
    response = api.post(
        "/api/v1/print-jobs/",
        {"printer": printer.pk, "waybills": [waybill.waybill_no]},
        format="json",
    )
    assert response.status_code == 409 and response.json()["code"] == "ORDER_BLOCKED"
    assert DecryptionAudit.objects.count() == audits
    assert fingerprint(waybill) == before


def test_an_after_sale_after_the_return_blocks_the_generic_label_doors(merchant, factory, drawn):
    fo, *_ = drawn
    fs.factory_order_return(actor=main_actor(factory), factory_order_id=fo.pk)
    shop_services.order_start_after_sale(actor=main_actor(merchant), order=fo.order)
    waybill = Waybill.objects.get(pk=fo.waybill_id)
    before = fingerprint(waybill)
    response = token_client(factory).get(f"/api/v1/waybills/{waybill.waybill_no}/label/")
    assert response.status_code == 409 and response.json()["code"] == "ORDER_BLOCKED"
    assert fingerprint(waybill) == before


def test_the_usage_list_keeps_an_ended_number_without_its_cancel_button(merchant, factory, drawn):
    """The factory's account was charged for the number: usage details still list it
    (masked), but offer no action the doors would refuse."""
    fo, *_ = drawn
    waybill = Waybill.objects.get(pk=fo.waybill_id)
    cancel = f'action="/console/waybills/{waybill.waybill_no}/cancel/"'
    page = session(factory)
    assert cancel in page.get("/console/waybills/").content.decode()

    withdraw_allocation(merchant, factory, fo)

    body = page.get("/console/waybills/").content.decode()
    assert waybill.waybill_no in body and cancel not in body
    assert not any(s in body for s in SECRETS)


def test_the_factory_reads_its_number_without_the_merchants_order_ids(
    merchant, factory, merchant_sub, order, drawn
):
    """The factory's answer for a number it drew for the merchant names no merchant order:
    no internal id and the order number masked; the merchant's own numbers keep both."""
    from waybills.services import waybill_allocate

    fo = drawn[0]
    waybill = Waybill.objects.get(pk=fo.waybill_id)
    body = token_client(factory).get(f"/api/v1/waybills/{waybill.waybill_no}/").json()
    assert body["order"] is None
    assert body["order_no"] != order.order_no and "*" in body["order_no"]
    assert str(order.pk) not in {str(v) for v in body.values() if not isinstance(v, dict)}

    other = make_order(merchant)
    own = waybill_allocate(actor=main_actor(merchant), order=other, subscription=merchant_sub)
    mine = token_client(merchant).get(f"/api/v1/waybills/{own.parent.waybill_no}/").json()
    assert mine["order"] == other.pk and mine["order_no"] == other.order_no
