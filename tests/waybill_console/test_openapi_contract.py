"""The OpenAPI contract as outside systems consume it (generated clients, issue 14).

- The served schema is valid OpenAPI 3 (openapi-spec-validator).
- Its operation ids are the committed ones (``openapi_operation_ids.txt``): a generated
  client names its functions after them, so a rename breaks every integration.
- Request bodies are JSON only (a generated client sends the one body the schema
  offers); multipart only where a file is uploaded. Anything else is a 415 error object
  and nothing is done.
- Every JSON answer is a named component, typed all the way down: no inline objects, no
  untyped values (a generated client gets a model per answer). The answers that were
  built by hand are called on their success paths and checked against their components.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_spec

from dropship.models import FactoryOrder
from printing import agents, print_jobs, printers
from shops.models import Order
from tests.conftest import main_actor, make_order, make_shop, make_user, token_client
from tests.dropship.conftest import bind, make_factory, make_merchant, new_order, returned
from tests.waybills.conftest import open_service
from waybill_console.jobs import job_run
from waybills.models import AllocationException, Waybill
from waybills.services import waybill_allocate

IDS_FILE = Path(__file__).with_name("openapi_operation_ids.txt")
#: callbacks whose body a carrier's published protocol dictates (a form), posted by the
#: carrier, not by generated clients: the one exception to JSON-only
CARRIER_FORM_CALLBACKS = {"/api/v1/carrier/push/kuaidi100/"}
METHODS = ("get", "put", "post", "patch", "delete", "head")

#: free-form maps, each documented as such: an error's or a refusal's parameters, and the
#: items a shop stored on a waybill as it sent them
FREE_FORM = {
    ("Error", "detail"),
    ("Exception", "detail"),
    ("Waybill", "items[]"),
    ("WaybillAllocation", "items[]"),
}


def served_schema() -> dict:
    response = Client(HTTP_HOST="localhost").get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return response.json()


SERVED = served_schema()


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def committed_operation_ids() -> set[str]:
    lines = IDS_FILE.read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


# --- the schema itself -------------------------------------------------------------------------


def test_the_served_schema_is_valid_openapi():
    assert SERVED["openapi"].startswith("3.")
    validate_spec(SERVED)


def test_operation_ids_are_the_committed_ones():
    served = {f"{op['operationId']} {m.upper()} {p}" for p, m, op in operations(SERVED)}
    committed = committed_operation_ids()
    renamed_or_gone = sorted(committed - served)
    unlisted = sorted(served - committed)
    assert not renamed_or_gone, f"operation ids renamed or removed: {renamed_or_gone}"
    assert not unlisted, f"new operations: append them to {IDS_FILE.name}: {unlisted}"
    ids = [op["operationId"] for _, _, op in operations(SERVED)]
    assert len(ids) == len(set(ids))


def test_request_bodies_are_json_except_file_uploads():
    offenders = []
    for path, method, operation in operations(SERVED):
        body = operation.get("requestBody")
        if body is None:
            continue
        media = set(body["content"])
        if media == {"application/json"}:
            continue
        if path in CARRIER_FORM_CALLBACKS and media == {"application/x-www-form-urlencoded"}:
            continue
        schema = resolve(body["content"].get("multipart/form-data", {}).get("schema", {}))
        uploads = any(
            resolve(p).get("format") == "binary" for p in schema.get("properties", {}).values()
        )
        if not (media == {"multipart/form-data"} and uploads):
            offenders.append(f"{method.upper()} {path}: {sorted(media)}")
    assert not offenders, "\n".join(offenders)


def resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SERVED["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def untyped(component: str, schema: dict, where: str = "") -> list[str]:
    """Every value of ``schema`` without a type (``{}``, any JSON), and every object
    without properties (a bare ``additionalProperties`` map) that is not documented as a
    free-form map."""
    if "$ref" in schema:
        return []
    found = []
    kinds = ("type", "allOf", "oneOf", "anyOf", "enum")
    if not any(k in schema for k in kinds):
        found.append(f"{component}{where}: untyped {schema}")
    if (
        schema.get("type") == "object"
        and not schema.get("properties")
        and (component, where.lstrip(".")) not in FREE_FORM
    ):
        found.append(f"{component}{where}: an object without properties")
    for name, sub in schema.get("properties", {}).items():
        found += untyped(component, sub, f"{where}.{name}")
    if isinstance(schema.get("items"), dict):
        found += untyped(component, schema["items"], f"{where}[]")
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in schema.get(key, []):
            found += untyped(component, sub, where)
    return found


def referenced(schema: dict, seen: set[str]) -> None:
    """The names of the components ``schema`` reaches, into ``seen``."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                referenced(SERVED["components"]["schemas"][name], seen)
        for value in schema.values():
            referenced(value, seen)
    elif isinstance(schema, list):
        for value in schema:
            referenced(value, seen)


def test_every_json_answer_is_a_named_and_typed_component():
    inline, answered = [], set()
    for path, method, operation in operations(SERVED):
        for status, response in operation["responses"].items():
            for media, content in response.get("content", {}).items():
                schema = content.get("schema", {})
                if media != "application/json":
                    assert schema == {"type": "string", "format": "binary"}, (path, media)
                    continue
                body = schema.get("items", {}) if schema.get("type") == "array" else schema
                if "$ref" not in body:
                    inline.append(f"{method.upper()} {path} {status}: {schema}")
                referenced(schema, answered)
    assert not inline, "answers without a component:\n" + "\n".join(inline)
    loose = []
    for name in sorted(answered):
        loose += untyped(name, SERVED["components"]["schemas"][name])
    assert not loose, "\n".join(loose)
    # the answers that were untyped objects now have their own components
    named = {
        ("/api/v1/waybills/", "post", "201"): "WaybillAllocation",
        ("/api/v1/waybills/", "post", "200"): "WaybillAllocation",
        ("/api/v1/waybills/screen/", "post", "200"): "ScreenResult",
        ("/api/v1/waybills/usage/daily/", "get", "200"): "UsageDaily",
        ("/api/v1/waybills/{waybill_no}/packages/", "post", "201"): "WaybillPackages",
        ("/api/v1/orders/batch-ship/", "post", "200"): "OrderBatchShipResponse",
        ("/api/v1/waybill-exceptions/{exception_id}/retry/", "post", "200"): (
            "ExceptionRetryResult"
        ),
        ("/api/v1/waybill-exceptions/retry-all/", "post", "200"): "ExceptionRetryResults",
        ("/api/v1/carrier/tracking-events/", "post", "201"): "TrackingEventRecorded",
        ("/api/v1/agent/jobs/{job_id}/result/", "post", "200"): "AgentResultAnswer",
        ("/api/v1/dropship/allocations/", "post", "200"): "AllocationResults",
        ("/api/v1/dropship/factory-orders/{factory_order_id}/ship/", "post", "200"): (
            "DropshipShipment"
        ),
    }
    for (path, method, status), component in named.items():
        content = SERVED["paths"][path][method]["responses"][status]["content"]
        assert content["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{component}"
        }, (path, method, status)


# --- JSON only -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("media", "language", "message"),
    [
        (
            "multipart",
            "en",
            "This request body format is not accepted. Send JSON (application/json); "
            "file uploads use multipart/form-data.",
        ),
        ("form", "zh-hans", "不接受此请求体格式。请发送 JSON（application/json）；上传文件用 "
         "multipart/form-data。"),
    ],
)  # fmt: skip
def test_a_form_body_is_refused_with_415_and_nothing_is_done(media, language, message):
    shop = make_shop("140001", user=make_user("json-only"))
    api = token_client(shop, language=language)
    body = {"order_no": "FORM-1", "items": "[]", "receiver": "{}"}
    if media == "multipart":
        response = api.post("/api/v1/orders/", body, format="multipart")
    else:
        response = api.post(
            "/api/v1/orders/",
            "order_no=FORM-1&items=%5B%5D",
            content_type="application/x-www-form-urlencoded",
        )
    assert response.status_code == 415
    assert response.json() == {"code": "UNSUPPORTED_MEDIA_TYPE", "message": message, "detail": {}}
    assert not Order.objects.filter(shop=shop).exists()
    # the same order as JSON is created: it was the body's format, nothing else
    created = api.post(
        "/api/v1/orders/",
        {
            "order_no": "FORM-1",
            "items": [{"sku": "S", "product_name": "杯", "spec": "", "quantity": 1,
                       "unit_price": "1.00"}],
            "receiver": {"name": "张三", "phone": "13812345678", "province": "浙江省",
                         "city": "杭州市", "district": "西湖区", "detail": "文三路 1 号"},
        },
    )  # fmt: skip
    assert created.status_code == 201, created.content
    assert list(Order.objects.filter(shop=shop).values_list("order_no", flat=True)) == ["FORM-1"]


@pytest.mark.django_db
def test_every_api_view_reads_json_only_unless_it_takes_a_file():
    """The parsers each API view really runs with (not only what the schema says)."""
    from django.urls import get_resolver
    from rest_framework.parsers import JSONParser
    from rest_framework.views import APIView

    uploads = {
        path
        for path, method, operation in operations(SERVED)
        if "multipart/form-data" in operation.get("requestBody", {}).get("content", {})
    }
    checked, offenders = 0, []

    def walk(patterns, prefix=""):
        nonlocal checked
        for p in patterns:
            route = prefix + str(p.pattern)
            if hasattr(p, "url_patterns"):
                walk(p.url_patterns, route)
                continue
            view = getattr(p.callback, "cls", None)
            if not (route.startswith("api/") and view and issubclass(view, APIView)):
                continue
            checked += 1
            parsers = view().get_parsers()
            path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
            if path in uploads or path in CARRIER_FORM_CALLBACKS:
                continue
            if not parsers or not all(isinstance(x, JSONParser) for x in parsers):
                offenders.append(f"{path}: {[type(x).__name__ for x in parsers]}")

    walk(get_resolver().url_patterns)
    assert checked > 60
    assert not offenders, "\n".join(offenders)


# --- the hand-built answers, on their success paths, against their components ---------------


def conforms(response, path: str, method: str) -> dict:
    """The JSON answer, after checking it against the documented schema of its status."""
    documented = SERVED["paths"][path][method]["responses"][str(response.status_code)]
    schema = documented["content"]["application/json"]["schema"]
    body = response.json()
    OAS30Validator(
        {**schema, "components": SERVED["components"]}, format_checker=OAS30Validator.FORMAT_CHECKER
    ).validate(body)
    return body


@pytest.mark.django_db
def test_waybill_answers_match_their_components():
    shop = make_shop("140002", user=make_user("contract-merchant"))
    sub = open_service(shop, balance=20)
    api = token_client(shop)
    orders = [make_order(shop, f"CT-{i}") for i in range(1, 4)]

    first = api.post("/api/v1/waybills/", {"order": orders[0].pk, "subscription": sub.pk})
    assert first.status_code == 201
    allocation = conforms(first, "/api/v1/waybills/", "post")
    waybill = Waybill.objects.get(order=orders[0], package_no=1)
    assert (allocation["waybill_no"], allocation["created"]) == (waybill.waybill_no, True)
    assert allocation["print_data"]["sender"]["province"] == "浙江省"
    assert allocation["packages"] == [{"package_no": 1, "waybill_no": waybill.waybill_no}]
    again = api.post("/api/v1/waybills/", {"order": orders[0].pk, "subscription": sub.pk})
    assert again.status_code == 200
    assert conforms(again, "/api/v1/waybills/", "post")["created"] is False

    receiver = {"name": "李四", "phone": "13912345678", "province": "浙江省", "city": "杭州市",
                "district": "西湖区", "detail": "文三路 2 号"}  # fmt: skip
    screened = api.post("/api/v1/waybills/screen/", {"subscription": sub.pk, "receiver": receiver})
    assert conforms(screened, "/api/v1/waybills/screen/", "post")["ok"] is True

    daily = api.get(f"/api/v1/waybills/usage/daily/?subscription={sub.pk}&days=3")
    usage = conforms(daily, "/api/v1/waybills/usage/daily/", "get")
    assert usage["subscription"] == sub.pk and len(usage["days"]) == 3
    assert sum(d["allocated"] for d in usage["days"]) == 1

    packages = api.post(f"/api/v1/waybills/{waybill.waybill_no}/packages/", {"count": 1})
    assert packages.status_code == 201
    added = conforms(packages, "/api/v1/waybills/{waybill_no}/packages/", "post")
    assert [p["package_no"] for p in added["packages"]] == [2]

    shipped = api.post(
        "/api/v1/orders/batch-ship/",
        {"orders": [{"order": orders[0].pk, "waybill_no": waybill.waybill_no},
                    {"order": orders[1].pk, "waybill_no": "NOPE"}]},
    )  # fmt: skip
    results = conforms(shipped, "/api/v1/orders/batch-ship/", "post")["results"]
    assert [r["ok"] for r in results] == [True, False]
    assert results[1]["error"]["code"]

    failed = AllocationException.objects.create(
        shop=shop, order=orders[2], subscription=sub, code="OUT_OF_RANGE", message="超区"
    )
    retried = api.post(f"/api/v1/waybill-exceptions/{failed.pk}/retry/")
    one = conforms(retried, "/api/v1/waybill-exceptions/{exception_id}/retry/", "post")
    assert (one["exception"], one["ok"]) == (failed.pk, True)
    all_retried = api.post("/api/v1/waybill-exceptions/retry-all/")
    assert conforms(all_retried, "/api/v1/waybill-exceptions/retry-all/", "post") == {"results": []}

    batch = api.post("/api/v1/waybills/batch/", {"orders": [orders[1].pk], "subscription": sub.pk})
    assert batch.status_code == 202
    job_run(job_id=batch.json()["id"])  # what the worker does
    job = conforms(api.get(f"/api/v1/jobs/{batch.json()['id']}/"), "/api/v1/jobs/{job_id}/", "get")
    assert job["status"] == "succeeded" and job["error"] is None
    assert [r["order"] for r in job["result"]["results"]] == [orders[1].pk]

    branch = token_client(branch=sub.branch)
    event = branch.post(
        "/api/v1/carrier/tracking-events/",
        {"waybill_no": waybill.waybill_no, "occurred_at": timezone.now().isoformat(),
         "status": "picked_up", "description": "揽收"},
    )  # fmt: skip
    assert event.status_code == 201, event.content
    recorded = conforms(event, "/api/v1/carrier/tracking-events/", "post")
    assert (recorded["waybill_no"], recorded["status"]) == (waybill.waybill_no, "picked_up")


@pytest.mark.django_db
def test_dropship_answers_match_their_components():
    """Both were documented with another shape than the one answered (a list for an
    object, the factory's view for the merchant's)."""
    merchant, factory = make_merchant("140101", "ct-merchant"), make_factory("240101", "ct-fac")
    bind(merchant, factory)
    sub = open_service(factory, "ZTO", balance=5)
    order = new_order(merchant)
    api = token_client(merchant)

    handed = api.post(
        "/api/v1/dropship/allocations/", {"factory": factory.shop_no, "orders": [order.pk]}
    )
    assert handed.status_code == 200
    results = conforms(handed, "/api/v1/dropship/allocations/", "post")["results"]
    assert [r["ok"] for r in results] == [True, True]

    fo = returned(merchant, factory, sub, order=new_order(merchant))
    shipped = api.post(f"/api/v1/dropship/factory-orders/{fo.pk}/ship/", {})
    assert shipped.status_code == 200, shipped.content
    body = conforms(shipped, "/api/v1/dropship/factory-orders/{factory_order_id}/ship/", "post")
    fo = FactoryOrder.objects.get(pk=fo.pk)
    assert (body["id"], body["tracking_no"], body["shipped_by"]) == (
        fo.pk,
        fo.tracking_no,
        "merchant",
    )


@pytest.mark.django_db
def test_print_agent_answer_matches_its_component():
    shop = make_shop("140003", user=make_user("contract-agent"))
    sub = open_service(shop, balance=5)
    owner = main_actor(shop)
    waybill = waybill_allocate(actor=owner, order=make_order(shop), subscription=sub).parent
    agent, key = agents.agent_create(actor=owner, name="契约打包台")
    printer = printers.printer_create(
        actor=owner,
        data={"name": "契约打印机", "kind": "escpos", "connection": "agent", "agent": agent.pk,
              "agent_target": "tcp://127.0.0.1:9100"},
    )  # fmt: skip
    job = print_jobs.print_job_create(actor=owner, printer=printer, waybill_ids=[waybill.pk])
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Agent {key}")
    claimed = conforms(client.get("/api/v1/agent/jobs/next/"), "/api/v1/agent/jobs/next/", "get")
    document = claimed["documents"][0]
    reported = client.post(
        f"/api/v1/agent/jobs/{job.pk}/result/",
        {"attempt": claimed["attempt"],
         "documents": [{"sequence": document["sequence"], "ok": True,
                        "bytes_sent": document["size"]}]},
    )  # fmt: skip
    assert conforms(reported, "/api/v1/agent/jobs/{job_id}/result/", "post") == {
        "job": job.pk,
        "status": "printed",
    }
    detail = token_client(shop).get(f"/api/v1/print-jobs/{job.pk}/")
    printed = conforms(detail, "/api/v1/print-jobs/{job_id}/", "get")
    assert printed["printed"] == {"confirmed": 1, "total": 1}
    assert printed["printer"] == {"id": printer.pk, "name": "契约打印机", "kind": "escpos"}
