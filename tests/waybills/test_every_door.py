"""Every door that draws numbers refuses the same way, and charges nothing (issue 15).

The doors:

* ``console page``: the order page's 取号 form (htmx POST, logged in);
* ``api single``: ``POST /api/v1/waybills/``;
* ``api batch job``: ``POST /api/v1/waybills/batch/``, the job then run the way the worker
  runs it (``job_run``), its result read through ``GET /api/v1/jobs/{id}/``;
* ``api bulk``: ``POST /api/v1/waybills/bulk/``;
* ``api append packages``: ``POST /api/v1/waybills/{no}/packages/`` (子母件, later);
* ``factory on behalf``: ``POST /api/v1/dropship/factory-orders/{id}/waybill/`` (代发: the
  factory draws from its own service for the merchant's order).

Each door first loads what it draws for (the page's form, the job, the parent number, the
factory order); then something happens; then it draws. The refusals:

* the e-waybill service suspended (cancelled by its shop) before the draw, and while the
  draw waits for the quota row (the service's row is held locked by the test until the
  door queues behind it, then cancelled and committed);
* after-sale in progress (ORDER_BLOCKED);
* the buyer's cancellation request waiting for its answer, 审核中 (ORDER_BLOCKED).

Every door answers each one with the same code and the same message, and nothing is
charged: the services' balances and counters, the ledger and the waybills are as before.
A positive control per door shows that it draws, and charges exactly one number, when
nothing happened.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from html import unescape

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from carriers import services as carrier_services
from carriers.errors import SubscriptionNotActive
from carriers.models import LedgerEntry, Subscription, SubscriptionStatus
from shops import services as shop_services
from shops.errors import OrderBlocked
from shops.models import AfterSaleStatus, Order, Shop
from tests.conftest import main_actor, token_client
from tests.dropship.conftest import allocated, bind, make_factory, make_merchant, new_order
from tests.waybills.conftest import open_service
from waybill_console.jobs import job_run
from waybills.models import Waybill


@dataclass
class World:
    """A dropship merchant with its own ZTO service and a paid order (after the binding),
    and its bound factory with its own ZTO service."""

    merchant: Shop
    factory: Shop
    merchant_sub: Subscription
    factory_sub: Subscription
    order: Order


def make_world() -> World:
    merchant, factory = make_merchant(), make_factory()
    bind(merchant, factory)
    return World(
        merchant=merchant,
        factory=factory,
        merchant_sub=open_service(merchant, "ZTO", balance=10, detail="文二路 2 号"),
        factory_sub=open_service(factory, "ZTO", balance=10),
        order=new_order(merchant),
    )


@dataclass
class Answer:
    ok: bool
    code: str = ""
    message: str = ""

    @classmethod
    def of_json(cls, body: dict) -> Answer:
        return cls(ok=False, code=body["code"], message=body["message"])


# --- the doors ---------------------------------------------------------------------------------


@dataclass
class Door:
    #: whose service the door draws from (and whose service is suspended)
    drawer: str
    #: load what the door draws for; returns what the draw needs
    load: Callable[[World], dict]
    draw: Callable[[World, dict], Answer]


def _page_load(w: World) -> dict:
    client = Client()
    client.force_login(w.merchant.memberships.get(role="main").user)
    block = client.get(reverse("console:order_waybills", args=[w.order.pk]))
    assert 'data-testid="allocate-form"' in block.content.decode()
    return {"client": client}


def _page_draw(w: World, loaded: dict) -> Answer:
    response = loaded["client"].post(
        reverse("console:order_waybill_allocate", args=[w.order.pk]),
        {"subscription": str(w.merchant_sub.pk), "package_count": "1"},
        HTTP_HX_REQUEST="true",
    )
    if response.status_code == 204:
        return Answer(ok=True)
    html = response.content.decode()
    code = re.search(r'data-error-code="([A-Z_]+)"', html)
    message = re.search(r"<strong>(.*?)</strong>", html, re.S)
    assert code and message, (response.status_code, html[:500])
    return Answer(ok=False, code=code.group(1), message=unescape(message.group(1)).strip())


def _single_draw(w: World, loaded: dict) -> Answer:
    response = token_client(w.merchant).post(
        "/api/v1/waybills/", {"order": w.order.pk, "subscription": w.merchant_sub.pk}, format="json"
    )
    if response.status_code in (200, 201):
        return Answer(ok=True)
    return Answer.of_json(response.json())


def _batch_load(w: World) -> dict:
    api = token_client(w.merchant)
    started = api.post(
        "/api/v1/waybills/batch/",
        {"orders": [w.order.pk], "subscription": w.merchant_sub.pk},
        format="json",
    )
    assert started.status_code == 202, started.content
    return {"api": api, "job": started.json()["id"]}


def _batch_draw(w: World, loaded: dict) -> Answer:
    job_run(job_id=loaded["job"])  # what the worker's task does
    body = loaded["api"].get(f"/api/v1/jobs/{loaded['job']}/").json()
    if body["status"] != "succeeded":
        return Answer.of_json(body["error"])
    [result] = body["result"]["results"]
    return Answer(ok=True) if result["ok"] else Answer.of_json(result["error"])


def _bulk_draw(w: World, loaded: dict) -> Answer:
    response = token_client(w.merchant).post(
        "/api/v1/waybills/bulk/",
        {"orders": [w.order.pk], "subscription": w.merchant_sub.pk},
        format="json",
    )
    if response.status_code != 200:
        return Answer.of_json(response.json())
    [result] = response.json()["results"]
    return Answer(ok=True) if result["ok"] else Answer.of_json(result["error"])


def _append_load(w: World) -> dict:
    api = token_client(w.merchant)
    parent = api.post(
        "/api/v1/waybills/", {"order": w.order.pk, "subscription": w.merchant_sub.pk}, format="json"
    )
    assert parent.status_code == 201, parent.content
    return {"api": api, "parent": parent.json()["waybill_no"]}


def _append_draw(w: World, loaded: dict) -> Answer:
    response = loaded["api"].post(
        f"/api/v1/waybills/{loaded['parent']}/packages/", {"count": 1}, format="json"
    )
    if response.status_code == 201:
        return Answer(ok=True)
    return Answer.of_json(response.json())


def _factory_load(w: World) -> dict:
    return {"factory_order": allocated(w.merchant, w.factory, w.order).pk}


def _factory_draw(w: World, loaded: dict) -> Answer:
    response = token_client(w.factory).post(
        f"/api/v1/dropship/factory-orders/{loaded['factory_order']}/waybill/",
        {"subscription": w.factory_sub.pk},
        format="json",
    )
    if response.status_code in (200, 201):
        return Answer(ok=True)
    return Answer.of_json(response.json())


def _nothing(w: World) -> dict:
    return {}


DOORS = {
    "console page": Door("merchant", _page_load, _page_draw),
    "api single": Door("merchant", _nothing, _single_draw),
    "api batch job": Door("merchant", _batch_load, _batch_draw),
    "api bulk": Door("merchant", _nothing, _bulk_draw),
    "api append packages": Door("merchant", _append_load, _append_draw),
    "factory on behalf": Door("factory", _factory_load, _factory_draw),
}


# --- what happens between loading and drawing --------------------------------------------------


def _drawer(w: World, door: Door) -> tuple[Shop, Subscription]:
    if door.drawer == "factory":
        return w.factory, w.factory_sub
    return w.merchant, w.merchant_sub


def _suspend(w: World, door: Door) -> None:
    shop, sub = _drawer(w, door)
    carrier_services.subscription_cancel(actor=main_actor(shop), subscription=sub)


def _after_sale(w: World, door: Door) -> None:
    shop_services.order_start_after_sale(actor=main_actor(w.merchant), order=w.order)


def _cancel_request(w: World, door: Door) -> None:
    shop_services.order_request_cancel(actor=main_actor(w.merchant), order=w.order)


def _suspended_message() -> str:
    return SubscriptionNotActive(status=SubscriptionStatus.CANCELLED.label).render_message()


#: name -> (what happens, the code and message every door answers)
EVENTS = {
    "service suspended": (_suspend, "SUBSCRIPTION_NOT_ACTIVE", _suspended_message),
    "after-sale in progress": (
        _after_sale,
        "ORDER_BLOCKED",
        lambda: OrderBlocked(reason=AfterSaleStatus.IN_PROGRESS.label).render_message(),
    ),
    "cancellation requested": (
        _cancel_request,
        "ORDER_BLOCKED",
        lambda: OrderBlocked(reason=_("under review (cancellation requested)")).render_message(),
    ),
}


def charges(w: World) -> dict:
    """What a draw moves: both services' quota counters, the ledger, the waybills."""
    return {
        "subscriptions": list(
            Subscription.objects.filter(pk__in=[w.merchant_sub.pk, w.factory_sub.pk])
            .order_by("pk")
            .values_list("pk", "balance", "allocated_total")
        ),
        "ledger": list(
            LedgerEntry.objects.order_by("pk").values_list("pk", "subscription_id", "amount")
        ),
        "waybills": list(Waybill.objects.order_by("pk").values_list("pk", "status")),
    }


# --- the matrix ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("door_name", list(DOORS))
def test_every_door_draws_and_charges_one_number_when_nothing_happened(door_name):
    """Positive control: the refusals below are the doors' answers, not broken doors."""
    w = make_world()
    door = DOORS[door_name]
    loaded = door.load(w)
    shop, sub = _drawer(w, door)
    balance = Subscription.objects.get(pk=sub.pk).balance
    waybills = Waybill.objects.count()

    answer = door.draw(w, loaded)

    assert answer == Answer(ok=True)
    assert Subscription.objects.get(pk=sub.pk).balance == balance - 1
    assert Waybill.objects.count() == waybills + 1


@pytest.mark.django_db
@pytest.mark.parametrize("event", list(EVENTS))
@pytest.mark.parametrize("door_name", list(DOORS))
def test_every_door_refuses_the_same_way_and_charges_nothing(door_name, event):
    w = make_world()
    door = DOORS[door_name]
    happen, code, message = EVENTS[event]
    loaded = door.load(w)
    happen(w, door)
    before = charges(w)

    answer = door.draw(w, loaded)

    assert answer == Answer(ok=False, code=code, message=message())
    assert charges(w) == before


# --- suspended while the draw waits for the quota row --------------------------------------------

#: how many backends wait for a lock this connection holds
_QUEUED_BEHIND_ME = """
SELECT count(*) FROM pg_locks
 WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))
"""


def _draw_while_suspending(w: World, door: Door, loaded: dict) -> tuple[Answer, bool]:
    """Hold the drawing service's row locked, let the door run in another thread (its own
    connection) until it queues behind that lock, then cancel the service and commit: the
    door reads an active service and finds it suspended when it comes to draw."""
    shop, sub = _drawer(w, door)
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["answer"] = door.draw(w, loaded)
        except Exception as exc:  # re-raised in the test's thread
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    queued = False
    with transaction.atomic():
        Subscription.objects.select_for_update().get(pk=sub.pk)
        thread.start()
        deadline = time.monotonic() + 30
        with connection.cursor() as cur:
            while thread.is_alive() and not queued and time.monotonic() < deadline:
                cur.execute(_QUEUED_BEHIND_ME)
                queued = cur.fetchone()[0] > 0
                time.sleep(0.02)
        carrier_services.subscription_cancel(actor=main_actor(shop), subscription=sub)
    thread.join(60)
    assert not thread.is_alive(), "the door never finished"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["answer"], queued


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("door_name", list(DOORS))
def test_every_door_refuses_a_service_suspended_while_its_draw_waits(door_name):
    w = make_world()
    door = DOORS[door_name]
    loaded = door.load(w)
    before = charges(w)

    answer, queued = _draw_while_suspending(w, door, loaded)

    assert queued, f"the door answered {answer} without waiting for the service's row"
    assert answer == Answer(ok=False, code="SUBSCRIPTION_NOT_ACTIVE", message=_suspended_message())
    after = charges(w)
    # the cancel itself moves nothing a draw moves
    assert after == before
