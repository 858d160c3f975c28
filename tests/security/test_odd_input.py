"""Odd input never makes a 500, nor an HTML page on the API (issue 14, hardening).

Each family of odd input is sent to every route of the URL configuration where it
applies (walked like ``test_isolation``), or, for values of one kind, to every field of
that kind (numbers, dates); the fields come from a table that the served schema is
checked against, so a new field of the kind fails the test until it is added here:

- a NUL character in a path parameter: 404, the error object on the API, the 404 page
  elsewhere;
- JSON nested 1,000 and 100,000 deep: 400 VALIDATION_ERROR naming the body;
- ``NaN``, ``sNaN``, ``±Infinity``, ``1e999999`` in every number field: 400 naming it;
- days outside 2000-01-01 … 2099-12-31 (``9999-12-31``, ``0001-01-01``, year 10000) and
  malformed dates in every date filter and time field: 400 naming the parameter;
- a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, too many fields: 413 REQUEST_TOO_LARGE,
  the error object on the API, a page with the message elsewhere.

Every answer on ``/api/`` must be ``< 500`` and, when not a success, the error object.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.test import Client, override_settings
from django.urls import resolve
from rest_framework.test import APIClient

from dropship.models import SettlementPrice
from printing.models import LabelTemplate, Printer
from shops.models import Order
from shops.services import imports
from tests.conftest import token_client
from tests.routes import all_routes
from tests.security import test_isolation as isolation
from tests.waybill_console.test_errors import VALID
from waybill_console import inputs
from waybill_console.api import TokenRateThrottle
from waybill_console.parsers import MAX_DEPTH

pytestmark = pytest.mark.django_db
fill, fingerprint = isolation.fill, isolation.fingerprint
#: the isolation matrix's world: a merchant with one of everything, its factory, others
world = isolation.world

METHODS = ("get", "post", "put", "patch", "delete")
BODY_METHODS = ("post", "put", "patch")
PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
#: the schema and its docs page take no input of ours
NOT_INPUT = {"api/v1/schema/", "api/v1/docs/"}


@pytest.fixture(autouse=True)
def _no_rate_limit(monkeypatch):
    """Each family sends hundreds of requests per token: the limit is not the subject."""
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "1000000/min"})


def routes() -> list[str]:
    return all_routes()


def api_routes() -> list[str]:
    found = [r for r in routes() if r.startswith("api/v1/") and r not in NOT_INPUT]
    assert len(found) > 60, "the URL configuration was not walked"
    return found


def page_routes() -> list[str]:
    found = [r for r in routes() if not r.startswith(("api/", "admin/"))]
    assert len(found) > 60, "the URL configuration was not walked"
    return found


def api_client(world, route: str) -> APIClient:
    """The route's own party: a branch token for the carrier side, an agent key for the
    agent's routes, the factory for factory orders and prices, the merchant otherwise."""
    if route.startswith("api/v1/carrier/"):
        client = token_client(branch=world["sub"].branch)
    elif route.startswith("api/v1/agent/"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Agent {world['rogue_agent_key']}")
    elif "factory-orders" in route or "prices" in route:
        client = token_client(world["factory"])
    else:
        client = token_client(world["victim"])
    client.raise_request_exception = False  # a 500 is an answer to report, not a crash
    return client


def allows(url: str, method: str) -> bool:
    """Whether the API view at ``url`` answers ``method`` at all (a 405 reads no input)."""
    view = resolve(url.split("?", 1)[0]).func
    cls = getattr(view, "cls", None) or getattr(view, "view_class", None)
    return cls is None or hasattr(cls, method)


def page_client(world, shop: str = "victim") -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(world[shop].memberships.get(role="main").user)
    return client


def send(client, method: str, url: str, body: str | None = None, **extra):
    fn = getattr(client, method)
    if body is None:
        return fn(url, **extra)
    return fn(url, body, content_type="application/json", **extra)


def error_object(response) -> dict | None:
    """The error object, or None when the answer is not one."""
    if not response.get("Content-Type", "").startswith("application/json"):
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    if not isinstance(body, dict) or set(body) != {"code", "message", "detail"}:
        return None
    return body if isinstance(body["detail"], dict) else None


def api_problem(response, where: str) -> str | None:
    """What is wrong with an API answer to odd input: a 5xx, or a refusal that is not the
    error object."""
    if response.status_code >= 500:
        return f"{where}: {response.status_code} {response.content[:200]!r}"
    if response.status_code >= 400 and error_object(response) is None:
        return f"{where}: {response.status_code} is not the error object"
    return None


def keys(detail) -> list[str]:
    """Every key path of a ``detail`` (``items.0.unit_price``, ``prices[0].price``)."""
    out = []
    stack = [("", detail)]
    while stack:
        prefix, value = stack.pop()
        if isinstance(value, dict):
            for k, v in value.items():
                path = f"{prefix}.{k}" if prefix else str(k)
                out.append(path)
                stack.append((path, v))
    return out


def names(response, field: str) -> bool:
    body = error_object(response)
    return body is not None and any(field in k for k in keys(body["detail"]))


def refused_naming(response, field: str, where: str) -> str | None:
    if response.status_code != 400 or (error_object(response) or {}).get("code") != (
        "VALIDATION_ERROR"
    ):
        return f"{where}: {response.status_code} {response.content[:200]!r}"
    if not names(response, field):
        return f"{where}: detail does not name {field}: {response.json()['detail']}"
    return None


# --- 1. a NUL character in a path parameter ---------------------------------------------------

NUL_VALUES = ("AB%00CD", "%00")


def test_nul_in_any_path_parameter_is_a_404_never_a_500(world):
    before = fingerprint(world)
    failures = []
    api = [r for r in api_routes() if "<" in r]
    pages = [r for r in page_routes() if "<" in r]
    assert any("waybill_no" in r for r in api) and any("waybill_no" in r for r in pages)
    for route in api:
        client = api_client(world, route)
        for value in NUL_VALUES:
            url = "/" + PARAM.sub(value, route)
            for method in METHODS:
                if not allows(fill(route, world["ids"]), method):
                    continue
                response = send(client, method, url)
                body = error_object(response) or {}
                if response.status_code != 404 or body.get("code") != "NOT_FOUND":
                    failures.append(f"{method.upper()} {url}: {response.status_code}")
    client = page_client(world)
    for route in pages:
        for value in NUL_VALUES:
            url = "/" + PARAM.sub(value, route)
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                if response.status_code != 404 or b"<html" not in response.content.lower():
                    failures.append(f"{method.upper()} {url}: {response.status_code} (page)")
    # a NUL outside any parameter, and in a path that would otherwise be a real object
    waybill = world["ids"]["waybill_no"]
    for url in ("/api/v1/orders%00/", f"/api/v1/waybills/{waybill}%00/", "/console/%00"):
        response = page_client(world).get(url)
        if response.status_code != 404:
            failures.append(f"GET {url}: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert fingerprint(world) == before


def test_nul_in_a_stored_header_is_a_400_naming_it(world):
    """Gunicorn refuses a NUL in a header; another server in front might not."""
    client = api_client(world, "api/v1/orders/")
    body = json.dumps({**VALID, "order_no": "NUL-KEY"})
    response = send(client, "post", "/api/v1/orders/", body, HTTP_IDEMPOTENCY_KEY="k\x001")
    assert refused_naming(response, "Idempotency-Key", "NUL in Idempotency-Key") is None
    assert not Order.objects.filter(order_no="NUL-KEY").exists()


def test_the_owner_still_reads_the_waybill_the_nul_variants_name(world):
    """Control: the refusal is the NUL's, not a route that never answers."""
    waybill = world["ids"]["waybill_no"]
    client = api_client(world, "api/v1/waybills/")
    assert client.get(f"/api/v1/waybills/{waybill}/").status_code == 200
    response = client.get(f"/api/v1/waybills/{waybill}%00/")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


# --- 2. JSON nested 1,000 and 100,000 deep -------------------------------------------------

DEEP_BODIES = {
    "1,000 lists": "[" * 1000 + "]" * 1000,
    "1,000 objects in a field": '{"order_no": ' + '{"a":' * 1000 + "1" + "}" * 1001,
    f"{MAX_DEPTH + 1} levels": "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
}
#: sent where a body is read (the parser fails on these before any view code runs)
DEEPEST_BODIES = {
    "100,000 lists": "[" * 100_000 + "]" * 100_000,
    "100,000 objects in a field": '{"order_no": ' + '{"a":' * 100_000 + "1" + "}" * 100_001,
}
#: routes that read a JSON body (a deep one must be refused there, naming the body)
READ_A_BODY = {
    ("post", "api/v1/orders/"),
    ("post", "api/v1/waybills/"),
    ("post", "api/v1/waybills/batch/"),
    ("post", "api/v1/waybills/screen/"),
    ("post", "api/v1/printers/"),
    ("post", "api/v1/templates/"),
    ("put", "api/v1/dropship/prices/"),
    ("post", "api/v1/dropship/allocations/"),
    ("post", "api/v1/dropship/statements/"),
    ("post", "api/v1/carrier/tracking-events/"),
    ("post", "api/v1/reconciliations/"),
    ("post", "api/v1/addresses/"),
}


def test_json_nested_too_deep_is_a_400_naming_the_body_on_every_route(world):
    failures, refused = [], set()
    orders_before = Order.objects.count()
    for route in api_routes():
        url = fill(route, world["ids"]) if "<" in route else "/" + route
        client = api_client(world, route)
        for method in BODY_METHODS:
            if not allows(url, method):
                continue
            bodies = dict(DEEP_BODIES)
            if (method, route) in READ_A_BODY:
                bodies |= DEEPEST_BODIES
            for label, body in bodies.items():
                response = send(client, method, url, body)
                where = f"{method.upper()} {url} ({label})"
                problem = api_problem(response, where)
                if problem:
                    failures.append(problem)
                elif response.status_code == 400:
                    problem = refused_naming(response, "body", where)
                    if problem:
                        failures.append(problem)
                    refused.add((method, route))
    assert not failures, "\n".join(failures)
    assert READ_A_BODY <= refused, READ_A_BODY - refused
    assert Order.objects.count() == orders_before


def test_json_at_the_depth_limit_is_read():
    from waybill_console.parsers import loads

    ok = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert loads(ok) is not None
    with pytest.raises(ValueError):
        loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))


def test_deep_order_is_refused_with_the_message_and_nothing_is_stored(world):
    client = api_client(world, "api/v1/orders/")
    body = json.dumps({**VALID, "order_no": "DEEP-1"})[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000
    response = send(client, "post", "/api/v1/orders/", body + "}", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.json() == {
        "code": "VALIDATION_ERROR",
        "message": "Malformed request body.",
        "detail": {"body": [f"Lists and objects nested more than {MAX_DEPTH} levels deep."]},
    }
    assert not Order.objects.filter(order_no="DEEP-1").exists()


def test_unpaired_surrogate_in_a_json_body_is_a_400_naming_the_body(world):
    client = api_client(world, "api/v1/orders/")
    body = json.dumps({**VALID, "order_no": "SUR-1"}).replace('"SUR-1"', '"SUR-\\ud800"')
    response = send(client, "post", "/api/v1/orders/", body)
    assert refused_naming(response, "body", "surrogate") is None
    paired = json.dumps({**VALID, "order_no": "SUR-2 \U0001f600"})  # escaped as a pair
    assert send(client, "post", "/api/v1/orders/", paired).status_code == 201
    assert list(Order.objects.filter(order_no__startswith="SUR").values_list("order_no")) == [
        ("SUR-2 \U0001f600",)
    ]


def test_deep_json_in_the_designers_form_and_preview_is_a_400(world):
    client = page_client(world)
    template_id = world["ids"]["template_id"]
    before = list(LabelTemplate.objects.filter(pk=template_id).values())
    deep = "[" * 5000 + "]" * 5000
    saved = client.post(
        f"/console/label-templates/{template_id}/save/",
        {"custom_fields": deep},
        HTTP_ACCEPT="application/json",
    )
    assert saved.status_code == 400
    assert "custom_fields" in saved.json()["detail"]
    preview = client.get(f"/console/label-templates/{template_id}/preview.png", {"fields": deep})
    assert preview.status_code == 400
    assert "custom_fields" in preview.json()["detail"]
    assert list(LabelTemplate.objects.filter(pk=template_id).values()) == before


# --- 3. NaN, Infinity and 1e999999 in every number field ------------------------------------

ODD_NUMBERS = ("NaN", "sNaN", "Infinity", "-Infinity", "1e999999", "-1e999999", "nan", "inf")
#: the pages render a whole page per answer: the five the issue names
ODD_NUMBERS_ON_PAGES = ("NaN", "sNaN", "Infinity", "-Infinity", "1e999999")
#: raw JSON literals: 1e999999 parses as an infinite float; NaN and Infinity are not JSON
ODD_LITERALS = ("1e999999", "-1e999999", "NaN", "Infinity")
CUSTOM_FIELD = {"key": "remark", "x": 1, "y": 1, "w": 10, "h": 4, "font_size": 7}


def number_fields(world):
    """(schema path, method, field, url, role, body with ``__ODD__`` where the value goes,
    what ``detail`` must name)."""
    ids = world["ids"]
    item = {**VALID["items"][0]}

    def order(field):
        return {**VALID, "order_no": "ODD-1", "items": [{**item, field: "__ODD__"}]}

    def custom(field):
        return [{**CUSTOM_FIELD, field: "__ODD__"}]

    rows = [
        ("/api/v1/orders/", "post", "items[].unit_price", order("unit_price"), "unit_price"),
        ("/api/v1/orders/", "post", "items[].quantity", order("quantity"), "quantity"),
        (
            "/api/v1/dropship/prices/",
            "put",
            "prices[].price",
            {"prices": [{"merchant": "120001", "sku": "SKU-1", "price": "__ODD__"}]},
            "price",
        ),
    ]
    for field in ("offset_x_mm", "offset_y_mm", "port", "dpi"):
        rows.append(
            (
                "/api/v1/printers/",
                "post",
                field,
                {"name": "P", "kind": "escpos", "connection": "network", "host": "127.0.0.1",
                 field: "__ODD__"},
                field,
            )
        )  # fmt: skip
        rows.append(("/api/v1/printers/{printer_id}/", "patch", field, {field: "__ODD__"}, field))
    for field in ("x", "y", "w", "h", "font_size"):
        rows.append(
            (
                "/api/v1/templates/",
                "post",
                f"custom_fields[].{field}",
                {"carrier": "ZTO", "size": "100x180", "name": "N", "custom_fields": custom(field)},
                "custom_fields",
            )
        )
        rows.append(
            (
                "/api/v1/templates/{template_id}/",
                "patch",
                f"custom_fields[].{field}",
                {"custom_fields": custom(field)},
                "custom_fields",
            )
        )
    rows.append(
        (
            "/api/v1/carrier/subscriptions/{subscription_id}/recharge/",
            "post",
            "count",
            {"count": "__ODD__"},
            "count",
        )
    )
    out = []
    for path, method, field, body, named in rows:
        url = path.format(**ids)
        out.append((path, method, field, url, body, named))
    return out


def schema_fields(client, want) -> set[tuple[str, str, str]]:
    """(path, method, field path) of every JSON request-body property that ``want(schema)``
    picks in the served OpenAPI document."""
    doc = client.get("/api/v1/schema/?format=json").json()
    components = doc["components"]["schemas"]

    def resolve(node):
        while "$ref" in node:
            node = components[node["$ref"].rsplit("/", 1)[1]]
        return node

    found = set()

    def walk(node, path, into):
        node = resolve(node)
        for key in ("allOf", "oneOf", "anyOf"):
            for sub in node.get(key, []):
                walk(sub, path, into)
        if want(node) and path:
            into.add(path)
        if "items" in node:
            walk(node["items"], path + "[]", into)
        for name, sub in node.get("properties", {}).items():
            walk(sub, f"{path}.{name}" if path else name, into)

    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and want(parameter.get("schema", {})):
                    found.add((path, method, parameter["name"]))
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                fields: set[str] = set()
                walk(content["application/json"].get("schema", {}), "", fields)
                found |= {(path, method, f) for f in fields}
    return found


def _is_number(schema) -> bool:
    return schema.get("type") == "number" or schema.get("format") in ("decimal", "double", "float")


def _with(body, value, literal: bool) -> str:
    text = json.dumps(body)
    return text.replace('"__ODD__"', value if literal else json.dumps(value))


def _number_state():
    return (
        Order.objects.count(),
        list(Printer.objects.order_by("pk").values()),
        list(LabelTemplate.objects.order_by("pk").values()),
        list(SettlementPrice.objects.order_by("pk").values()),
    )


def test_every_number_field_is_in_the_table(world):
    client = api_client(world, "api/v1/orders/")
    table = {(path, method, field) for path, method, field, *_ in number_fields(world)}
    missing = schema_fields(client, _is_number) - table
    assert not missing, f"number fields without an odd-input case: {sorted(missing)}"


def test_non_finite_numbers_in_every_number_field_are_a_400_naming_it(world):
    before = _number_state()
    failures = []
    for _path, method, field, url, body, named in number_fields(world):
        route = url.lstrip("/")
        client = api_client(world, route)
        for value in ODD_NUMBERS:
            response = send(client, method, url, _with(body, value, literal=False))
            problem = refused_naming(response, named, f"{method.upper()} {url} {field}={value}")
            if problem:
                failures.append(problem)
        for value in ODD_LITERALS:
            response = send(client, method, url, _with(body, value, literal=True))
            # 1e999999 reaches the field; NaN and Infinity are not JSON (the body is named)
            expect = named if value.endswith("999999") else "body"
            problem = refused_naming(response, expect, f"{method.upper()} {url} {field}: {value}")
            if problem:
                failures.append(problem)
    assert not failures, "\n".join(failures)
    assert _number_state() == before


def _import_csv(unit_price: str) -> io.BytesIO:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(imports.TEMPLATE_HEADER)
    writer.writerow(
        ["ODD-IM-1", "已付款", "", "S1", "保温杯", "500ml", "2", unit_price, "张三",
         "13812345678", "浙江省", "杭州市", "西湖区", "文三路 1 号", ""]
    )  # fmt: skip
    upload = io.BytesIO(out.getvalue().encode("utf-8"))
    upload.name = "orders.csv"
    return upload


def test_non_finite_numbers_on_the_pages_are_refused_naming_the_field(world):
    """The pages reach the same services: printers, the label designer (save and
    preview), the factory's price sheet, the order import."""
    before = _number_state()
    merchant, factory = page_client(world), page_client(world, "factory")
    printer_id, template_id = world["ids"]["printer_id"], world["ids"]["template_id"]
    printer_form = {"name": "P2", "kind": "escpos", "connection": "network",
                    "host": "127.0.0.1", "port": "9100", "dpi": "203",
                    "offset_x_mm": "0", "offset_y_mm": "0"}  # fmt: skip
    failures = []
    for value in ODD_NUMBERS_ON_PAGES:
        answers = []
        for field in ("offset_x_mm", "offset_y_mm", "port", "dpi"):
            data = {**printer_form, field: value}
            answers.append((field, merchant.post("/console/printers/new/", data)))
            answers.append((field, merchant.post(f"/console/printers/{printer_id}/edit/", data)))
        for field in ("x", "y", "w", "h", "font_size"):
            fields = json.dumps([{**CUSTOM_FIELD, field: value}])
            answers.append(
                (
                    "custom_fields",
                    merchant.post(
                        f"/console/label-templates/{template_id}/save/",
                        {"custom_fields": fields},
                    ),
                )
            )
            answers.append(
                (
                    "custom_fields",
                    merchant.get(
                        f"/console/label-templates/{template_id}/preview.png", {"fields": fields}
                    ),
                )
            )
        binding = world["ids"]["binding_id"]
        answers.append(
            (
                "price",
                factory.post(
                    "/factory/prices/",
                    {"rows": "0", "new-ref": binding, "new-sku": "SKU-1", "new-price": value},
                ),
            )
        )
        answers.append(
            (
                "单价",  # the import names the column by its title, never by its key
                merchant.post("/console/orders/import/", {"file": _import_csv(value)}),
            )
        )
        for field, response in answers:
            where = f"{response.request['REQUEST_METHOD']} {response.request['PATH_INFO']} "
            where += f"{field}={value}"
            if response.status_code != 400:
                failures.append(f"{where}: {response.status_code}")
            elif field not in response.content.decode():
                failures.append(f"{where}: the answer does not name {field}")
    assert not failures, "\n".join(failures)
    assert _number_state() == before


# --- 4. dates out of range and malformed in every date filter and time field ----------------

ODD_DAYS = (
    "9999-12-31",
    "0001-01-01",
    "10000-01-01",
    "1999-12-31",
    "2100-01-01",
    "2026-13-45",
    "2026-02-30",
    "99999",
    "2026-11-0",
)
ODD_MOMENTS = (
    "9999-12-31",
    "0001-01-01",
    "9999-12-31T23:59:59",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00",
    "10000-01-01T00:00:00",
    "2026-02-30T10:00:00",
)


def date_fields(world):
    """(schema path, method, field, how the value is sent, what ``detail`` names)."""
    rows = []
    for name in ("date_from", "date_to"):
        rows.append(("/api/v1/orders/", "get", name, "query", name))
        rows.append(("/api/v1/orders/export/", "post", f"filters.{name}", "filters", name))
        rows.append(("/api/v1/dropship/statements/", "post", name, "statement", name))
    for name in ("from", "to"):
        rows.append(("/api/v1/waybills/", "get", name, "query", name))
        rows.append(("/api/v1/violations/", "get", name, "query", name))
        rows.append(("/api/v1/reconciliations/", "post", f"conditions.{name}", "conditions", name))
    rows.append(("/api/v1/orders/", "post", "paid_at", "order", "paid_at"))
    rows.append(("/api/v1/orders/{order_id}/pay/", "post", "paid_at", "pay", "paid_at"))
    rows.append(("/api/v1/orders/", "post", "promised_ship_at", "order", "promised_ship_at"))
    rows.append(
        ("/api/v1/carrier/tracking-events/", "post", "occurred_at", "tracking", "occurred_at")
    )
    return rows


def _date_request(world, how: str, field: str, value: str) -> tuple[str, dict | None]:
    """(query string, JSON body) carrying ``value`` as ``field``."""
    name = field.rsplit(".", 1)[-1]
    if how == "query":
        return f"?{name}={value}", None
    if how == "filters":
        return "", {"format": "csv", "filters": {name: value}}
    if how == "conditions":
        return "", {"format": "csv", "conditions": {name: value}}
    if how == "statement":
        body = {"factory": "220001", "date_from": "2026-11-01", "date_to": "2026-11-02"}
        return "", {**body, name: value}
    if how == "order":
        return "", {**VALID, "order_no": "ODD-DAY", name: value}
    if how == "pay":
        return "", {name: value}
    if how == "tracking":
        return "", {
            "waybill_no": world["ids"]["waybill_no"],
            "occurred_at": value,
            "status": "collected",
            "description": "揽收",
            "location": "杭州",
        }
    raise AssertionError(how)


def _is_date(schema) -> bool:
    return schema.get("format") in ("date", "date-time")


def test_every_date_field_is_in_the_table(world):
    """Every date or time the schema documents as input, and every query parameter named
    like a date filter (``from``, ``to``, ``date_…``), has an odd-date case."""
    client = api_client(world, "api/v1/orders/")
    table = {(path, method, field) for path, method, field, *_ in date_fields(world)}
    documented = schema_fields(client, _is_date)
    documented |= {
        (path, method, name)
        for path, method, name in schema_fields(client, lambda schema: True)
        if name in ("from", "to") or name.startswith("date_")
    }
    missing = documented - table
    assert not missing, f"date fields without an odd-date case: {sorted(missing)}"


def test_odd_dates_in_every_filter_and_time_field_are_a_400_naming_it(world):
    from waybill_console.models import Job

    before = (Order.objects.count(), Job.objects.count(), fingerprint(world))
    failures = []
    for path, method, field, how, named in date_fields(world):
        route = path.lstrip("/")
        client = api_client(world, route)
        values = ODD_MOMENTS if how in ("order", "pay", "tracking") else ODD_DAYS
        for value in values:
            query, body = _date_request(world, how, field, value)
            url = path.replace("{order_id}", str(world["ids"]["order_id"])) + query
            response = send(client, method, url, None if body is None else json.dumps(body))
            problem = refused_naming(response, named, f"{method.upper()} {url} {field}={value}")
            if problem:
                failures.append(problem)
    assert not failures, "\n".join(failures)
    assert (Order.objects.count(), Job.objects.count(), fingerprint(world)) == before


def test_the_supported_days_are_accepted_at_both_ends(world):
    client = api_client(world, "api/v1/orders/")
    first, last = inputs.EARLIEST_DAY.isoformat(), inputs.LATEST_DAY.isoformat()
    response = client.get(f"/api/v1/orders/?date_from={first}&date_to={last}")
    assert response.status_code == 200
    assert response.json()["count"] == Order.objects.filter(shop=world["victim"]).count()
    response = client.get(f"/api/v1/waybills/?from={last}&to={last}")
    assert response.status_code == 200 and response.json()["count"] == 0


def test_odd_dates_on_the_pages_are_refused_naming_the_parameter(world):
    merchant, factory = page_client(world), page_client(world, "factory")
    failures = []
    from waybill_console.models import Job

    jobs_before = Job.objects.count()
    binding = world["ids"]["binding_id"]  # the factory's page names the merchant by binding
    for value in ODD_DAYS:
        answers = [
            ("date_from", merchant.get("/console/orders/", {"date_from": value})),
            ("date_to", merchant.get("/console/orders/", {"date_to": value})),
            ("from", merchant.get("/console/waybills/", {"from": value})),
            ("to", merchant.get("/console/waybills/", {"to": value})),
            (
                "to",
                merchant.post("/console/waybills/reconciliation/", {"to": value}, follow=True),
            ),
            (
                "date_to",
                merchant.post(
                    "/console/dropship/statements/",
                    {"factory": "220001", "date_from": "2026-11-01", "date_to": value},
                ),
            ),
            (
                "date_from",
                factory.post(
                    "/factory/statements/",
                    {"merchant": binding, "date_from": value, "date_to": "2026-11-02"},
                ),
            ),
        ]
        for field, response in answers:
            where = f"{response.request['REQUEST_METHOD']} {response.request['PATH_INFO']} "
            where += f"{field}={value}"
            text = response.content.decode()
            if response.status_code >= 500:
                failures.append(f"{where}: {response.status_code}")
            elif inputs.day_message() not in text and "2000-01-01" not in text:
                failures.append(f"{where}: {response.status_code} does not say which dates")
    assert not failures, "\n".join(failures)
    assert Job.objects.count() == jobs_before


# --- 5. bodies over the size limit and too many fields ---------------------------------------

LIMIT = 4096


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=LIMIT, DATA_UPLOAD_MAX_NUMBER_FIELDS=20)
def test_a_body_over_the_limit_is_413_request_too_large_on_every_route(world):
    before = fingerprint(world)
    big = json.dumps({"order_no": "BIG", "padding": "x" * (LIMIT + 1)})
    many = "&".join(f"f{i}=1" for i in range(30))
    failures = []
    for route in api_routes():
        url = fill(route, world["ids"]) if "<" in route else "/" + route
        client = api_client(world, route)
        for method in BODY_METHODS:
            if not allows(url, method):
                continue
            response = send(client, method, url, big, HTTP_ACCEPT_LANGUAGE="en")
            body = error_object(response) or {}
            if response.status_code != 413 or body.get("code") != "REQUEST_TOO_LARGE":
                failures.append(f"{method.upper()} {url}: {response.status_code}")
            elif body["detail"] != {"max_bytes": LIMIT}:
                failures.append(f"{method.upper()} {url}: detail {body['detail']}")
        response = client.get(f"{url}?{many}")
        problem = api_problem(response, f"GET {url}?<30 fields>")
        if problem:
            failures.append(problem)
        elif response.status_code >= 400 and response.json()["code"] != "REQUEST_TOO_LARGE":
            body = response.json()
            if response.status_code not in (403, 404, 405):
                failures.append(f"GET {url}?<30 fields>: {response.status_code} {body['code']}")
    pages = page_client(world)
    for route in page_routes():
        if route.startswith("accounts/reset/<"):
            url = "/accounts/reset/MQ/set-password/"
        else:
            url = fill(route, world["ids"]) if "<" in route else "/" + route
        response = pages.post(url, many, content_type="application/x-www-form-urlencoded")
        if response.status_code == 413:
            if "text/html" not in response["Content-Type"]:
                failures.append(f"POST {url} (30 fields): 413 not a page")
        elif response.status_code >= 500:
            failures.append(f"POST {url} (30 fields): {response.status_code}")
        big_form = "f=" + "x" * (LIMIT + 1)
        response = pages.post(url, big_form, content_type="application/x-www-form-urlencoded")
        if response.status_code != 413 or "text/html" not in response["Content-Type"]:
            failures.append(f"POST {url} (big form): {response.status_code}")
    assert not failures, "\n".join(failures)
    assert fingerprint(world) == before


def test_too_large_answers_say_the_limit(world, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 20
    client = api_client(world, "api/v1/orders/")
    huge = json.dumps({**VALID, "order_no": "HUGE", "buyer_note": "x" * (2_621_440 + 1)})
    response = send(client, "post", "/api/v1/orders/", huge, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 413
    assert response.json() == {
        "code": "REQUEST_TOO_LARGE",
        "message": "The request is too large: send at most 2.5 MB at a time.",
        "detail": {"max_bytes": 2_621_440},
    }
    chinese = send(client, "post", "/api/v1/orders/", huge)
    assert chinese.json()["message"] == "请求过大：每次最多发送 2.5 MB。"
    # a multipart upload with too many fields: the same error object
    fields = {f"f{i}": "1" for i in range(30)}
    response = client.post(
        "/api/v1/orders/import/",
        {**fields, "file": _import_csv("9.90")},
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 413
    assert response.json() == {
        "code": "REQUEST_TOO_LARGE",
        "message": "The request is too large: send at most 20 fields at a time.",
        "detail": {"max_fields": 20},
    }
    page = page_client(world).post(
        "/console/orders/import/", {**fields, "file": _import_csv("9.90")}
    )
    assert page.status_code == 413
    assert "请求过大：每次最多发送 20 个字段。" in page.content.decode()
    assert not Order.objects.filter(order_no__in=["HUGE", "ODD-IM-1"]).exists()
