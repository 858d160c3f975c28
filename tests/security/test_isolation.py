"""The tenant-isolation matrix, generated from the URL configuration.

Every route that names an object (``<int:order_id>``, ``<str:waybill_no>``, …) is called
with every method by other tenants (another merchant, another factory, another carrier
branch, another shop's print agent) for a victim's objects. The answer must be 403, 404
or 405, never a success and never a 5xx, and nothing of the victim's may change. A
positive control proves each id really names a live object (its owner can GET it), so a
404 means "not yours", not "no such thing". A new route whose parameter this test does
not know fails the test until it is added here.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.test import Client
from rest_framework.test import APIClient

from carriers.models import Branch
from dropship.models import Allocation, Binding, FactoryOrder, Statement
from dropship.services import allocation_create, binding_confirm, binding_request, profile_update
from dropship.services.statements import statement_start
from events.models import Delivery, Endpoint
from events.services.endpoints import endpoint_create, endpoint_send_test
from printing import agents, print_jobs, printers
from printing.models import LabelTemplate, PrintAgent, Printer, PrintJob
from printing.services import template_create
from shops import services as shop_services
from shops.models import Address, Membership, Order
from tests.conftest import main_actor, make_order, make_shop, make_user, token_client
from tests.routes import all_routes
from tests.waybills.conftest import open_service
from waybill_console import permissions as perms
from waybill_console.models import Job
from waybills.models import AllocationException, Waybill
from waybills.services import waybill_allocate

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")
REFUSED = {403, 404, 405}
#: routes that name no tenant's object
NOT_TENANT_SCOPED = {"accounts/reset/<uidb64>/<token>/"}


def routes():
    found = [r for r in all_routes() if "<" in r]
    return [r for r in found if not r.startswith("admin/") and r not in NOT_TENANT_SCOPED]


@pytest.fixture
def world():
    """A victim merchant with one of everything, its factory, and the attackers."""
    victim = make_shop("120001", user=make_user("victim"), name="受害商家")
    factory = make_shop("220001", user=make_user("victim-factory"), name="受害工厂")
    attacker = make_shop("120002", user=make_user("attacker"), name="攻击商家")
    rogue_factory = make_shop("220002", user=make_user("rogue-factory"), name="别家工厂")
    for shop in (factory, rogue_factory):
        profile_update(actor=main_actor(shop), data={"identity": "factory"})
    owner = main_actor(victim)
    sub = open_service(victim, balance=20)
    open_service(factory, balance=20)
    order = make_order(victim, "VICTIM-ORDER-1")
    waybill = waybill_allocate(actor=owner, order=order, subscription=sub).parent
    exception = AllocationException.objects.create(
        shop=victim, order=make_order(victim, "VICTIM-ORDER-2"), code="OUT_OF_RANGE", message="x"
    )
    sub_account = shop_services.sub_account_create(
        actor=owner, username="victim-packer", password="pass-12345", permissions=[perms.PRINT]
    )
    template = template_create(actor=owner, data={"carrier": "ZTO", "size": "100x150", "name": "T"})
    printer = printers.printer_create(
        actor=owner,
        data={"name": "VictimPrinter", "kind": "escpos", "connection": "network",
              "host": "127.0.0.1", "port": 9100},
    )  # fmt: skip
    agent, _key = agents.agent_create(actor=owner, name="受害打包台")
    print_job = print_jobs.print_job_create(actor=owner, printer=printer, waybill_ids=[waybill.pk])
    jobs = {
        kind: Job.objects.create(shop=victim, kind=kind, params={})
        for kind in ("order_export", "reconciliation", "waybill_batch", "allocate_print")
    }
    binding = binding_request(actor=owner, factory_shop_no="220001")
    binding_confirm(actor=main_actor(factory), binding_id=binding.pk)
    dropship_order = make_order(victim, "VICTIM-ORDER-3")
    allocation_create(actor=owner, factory="220001", orders=[dropship_order.pk])
    statement = statement_start(
        actor=owner, counterpart="220001", date_from="2026-11-01", date_to="2026-11-02"
    )
    # a webhook endpoint with a delivery in its log
    endpoint, _secret = endpoint_create(
        actor=owner, url="https://93.184.216.34/victim", event_types=[], description="v"
    )
    endpoint_send_test(actor=owner, endpoint_id=endpoint.pk)
    # the attackers' own credentials
    other_branch = Branch.objects.filter(carrier=sub.carrier).exclude(pk=sub.branch_id).first()
    _rogue_agent, rogue_agent_key = agents.agent_create(
        actor=main_actor(attacker), name="攻击打包台"
    )
    return {
        "victim": victim,
        "factory": factory,
        "attacker": attacker,
        "rogue_factory": rogue_factory,
        "sub": sub,
        "other_branch": other_branch,
        "rogue_agent_key": rogue_agent_key,
        "ids": {
            "order_id": order.pk,
            "address_id": sub.address_id,
            "membership_id": sub_account.pk
            if isinstance(sub_account, Membership)
            else Membership.objects.get(shop=victim, role="sub").pk,
            "subscription_id": sub.pk,
            "exception_id": exception.pk,
            "waybill_no": waybill.waybill_no,
            "template_id": template.pk,
            "printer_id": printer.pk,
            "agent_id": agent.pk,
            "binding_id": binding.pk,
            "allocation_id": Allocation.objects.filter(order=dropship_order).first().pk,
            "factory_order_id": FactoryOrder.objects.get(order=dropship_order).pk,
            "statement_id": statement.pk,
            "print_job_id": print_job.pk,
            "endpoint_id": endpoint.pk,
            "delivery_id": Delivery.objects.get(endpoint=endpoint).pk,
            "jobs": {k: j.pk for k, j in jobs.items()},
            "action": "cancel",
        },
    }


def fill(route: str, ids: dict) -> str:
    """The route with the victim's object in each parameter."""
    import re

    def value(match):
        name = match.group(2)
        if name == "job_id":
            if "print-jobs" in route or "agent/jobs" in route:
                return str(ids["print_job_id"])
            if "reconciliations" in route:
                return str(ids["jobs"]["reconciliation"])
            if "waybills/batch" in route:
                return str(ids["jobs"]["waybill_batch"])
            if "print/batch" in route:
                return str(ids["jobs"]["allocate_print"])
            return str(ids["jobs"]["order_export"])
        if name == "action":
            return "cancel"
        if name not in ids:
            pytest.fail(f"{route}: unknown parameter <{name}>; add a victim object for it")
        return str(ids[name])

    return "/" + re.sub(r"<(\w+:)?(\w+)>", value, route)


def fingerprint(world) -> str:
    """Everything the victims own, as one digest."""
    victim, factory = world["victim"], world["factory"]
    rows = []
    for model, scope in (
        (Order, {"shop": victim}),
        (Waybill, {"shop": victim}),
        (Address, {"shop": victim}),
        (Membership, {"shop": victim}),
        (AllocationException, {"shop": victim}),
        (LabelTemplate, {"shop": victim}),
        (Printer, {"shop": victim}),
        (PrintAgent, {"shop": victim}),
        (PrintJob, {"shop": victim}),
        (Job, {"shop": victim}),
        (Binding, {"merchant": victim}),
        (FactoryOrder, {"merchant": victim}),
        (Allocation, {"merchant": victim}),
        (Statement, {"merchant": victim}),
        (Waybill, {"shop": factory}),
        (Endpoint, {"shop": victim}),
        (Delivery, {"endpoint__shop": victim}),
    ):
        values = list(model.objects.filter(**scope).order_by("pk").values())
        for v in values:
            v.pop("updated_at", None)
            v.pop("last_used_at", None)
        rows.append((model.__name__, values))
    rows.append(("sub", list(type(world["sub"]).objects.filter(pk=world["sub"].pk).values())))
    blob = json.dumps(rows, cls=DjangoJSONEncoder, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def attackers(world, route: str):
    """(label, client, is_api) for every party that must be refused on this route."""
    api = route.startswith("api/")
    if route.startswith("api/v1/carrier/"):
        yield "other branch", token_client(branch=world["other_branch"]), True
        yield "merchant token", token_client(world["attacker"]), True
        return
    if route.startswith("api/v1/agent/"):
        agent = APIClient()
        agent.credentials(HTTP_AUTHORIZATION=f"Agent {world['rogue_agent_key']}")
        yield "other shop's agent", agent, True
        return
    for label, shop in (("merchant", world["attacker"]), ("factory", world["rogue_factory"])):
        if api:
            yield f"{label} token", token_client(shop), True
        else:
            client = Client()
            client.force_login(shop.memberships.get(role="main").user)
            yield f"{label} session", client, False


def owner_client(world, route: str):
    if route.startswith("api/v1/carrier/"):
        return token_client(branch=world["sub"].branch)
    shop = world["factory"] if "factory-orders" in route else world["victim"]
    if route.startswith("api/"):
        return token_client(shop)
    client = Client()
    client.force_login(shop.memberships.get(role="main").user)
    return client


def call(client, method: str, url: str, is_api: bool):
    fn = getattr(client, method)
    if is_api:
        return fn(url, {}, format="json") if method != "get" else fn(url)
    return fn(url) if method == "get" else fn(url, {})


def test_every_object_route_refuses_other_tenants(world):
    table = routes()
    assert len(table) > 60, "the URL configuration was not walked"
    before = fingerprint(world)
    failures = []
    for route in table:
        url = fill(route, world["ids"])
        for label, client, is_api in attackers(world, route):
            for method in METHODS:
                response = call(client, method, url, is_api)
                page_redirect = (not is_api) and response.status_code == 302
                if response.status_code not in REFUSED and not page_redirect:
                    failures.append(f"{method.upper()} {url} as {label}: {response.status_code}")
                if page_redirect and url in response.get("Location", ""):
                    failures.append(f"{method.upper()} {url} as {label}: redirects to itself")
    assert not failures, "\n".join(failures)
    assert fingerprint(world) == before, "another tenant changed the victim's data"


def test_the_ids_name_real_objects(world):
    """Positive control: the owner reads each GET-able object route (so the matrix's 404s
    are refusals, not missing objects)."""
    missing = []
    for route in routes():
        if route.startswith(("api/v1/agent/", "accounts/")) or "download" in route:
            continue
        url = fill(route, world["ids"])
        response = call(owner_client(world, route), "get", url, route.startswith("api/"))
        if response.status_code == 404:
            missing.append(f"GET {url}: 404 for its owner")
    assert not missing, "\n".join(missing)


def test_lists_never_show_another_tenants_rows(world):
    """Every parameterless API list, read by the other merchant and the other factory,
    carries none of the victim's order numbers, waybill number or printer."""
    secrets = ["VICTIM-ORDER", world["ids"]["waybill_no"], "VictimPrinter", "受害打包台"]

    lists = [
        r
        for r in all_routes()
        if r.startswith("api/v1/") and "<" not in r and not r.startswith("api/v1/agent/")
    ]
    leaks = []
    for shop in (world["attacker"], world["rogue_factory"]):
        client = token_client(shop)
        for route in lists:
            response = client.get("/" + route)
            assert response.status_code < 500, route
            body = response.content.decode(errors="replace")
            leaks += [f"{route} as {shop.shop_no}: {s}" for s in secrets if s in body]
    assert not leaks, "\n".join(leaks)


def test_matrix_would_catch_an_unscoped_lookup(world, monkeypatch):
    """The matrix is not vacuous: a selector that forgets the shop is reported."""
    from shops import selectors

    def unscoped(*, actor, order_id, **kw):
        return Order.objects.get(pk=order_id)

    monkeypatch.setattr(selectors, "order_get", unscoped)
    client = token_client(world["attacker"])
    response = client.get(f"/api/v1/orders/{world['ids']['order_id']}/")
    assert response.status_code == 200  # the leak the matrix exists to catch
