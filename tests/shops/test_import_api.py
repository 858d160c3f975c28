"""``POST /api/v1/orders/import/``: the import page's service through the API, multipart only,
with the order scope; a small file answers with the counts, a large one with a job that a
real Celery worker runs (progress, the same per-line report), on the page too."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker

from shops.models import Order, OrderItem
from shops.services import imports
from tests.conftest import token_client
from tests.shops.test_import_bounds import book
from waybill_console.celery import app
from waybill_console.models import Job


def _line(no, sku="S1", phone="13812345678"):
    return [no, "已付款", "", sku, "保温杯", "500ml", "2", "39.90", "张三", phone,
            "重庆市", "重庆市", "城口县", "人民路 1 号", "放门口"]  # fmt: skip


def _csv(rows) -> io.BytesIO:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(imports.TEMPLATE_HEADER)
    writer.writerows(rows)
    upload = io.BytesIO(out.getvalue().encode("utf-8"))
    upload.name = "orders.csv"
    return upload


def _large(bad_line: int | None = None) -> io.BytesIO:
    """A CSV over the synchronous size (about 700 lines)."""
    rows = [_line(f"BIG-{i:04d}") for i in range(700)]
    if bad_line is not None:
        rows[bad_line - 2][9] = "12345"
    upload = _csv(rows)
    assert len(upload.getvalue()) > imports.SYNC_MAX_BYTES
    return upload


@pytest.mark.django_db
def test_a_small_file_is_imported_at_once(shop_a):
    upload = _csv([_line("A-1"), _line("A-1", sku="S2"), _line("A-2")])
    answer = token_client(shop_a).post(
        "/api/v1/orders/import/", {"file": upload}, format="multipart"
    )
    assert answer.status_code == 200
    assert answer.json() == {"orders": 2, "items": 3}
    assert Order.objects.get(order_no="A-1").items.count() == 2
    assert Order.objects.get(order_no="A-2").receiver_district == "城口县"


@pytest.mark.django_db
def test_a_bad_line_imports_nothing_and_is_reported(shop_a):
    upload = _csv([_line("A-1"), _line("A-2", phone="999")])
    answer = token_client(shop_a, language="en").post(
        "/api/v1/orders/import/", {"file": upload}, format="multipart"
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "code": "IMPORT_INVALID",
        "message": "The file has 1 bad line(s); nothing was imported.",
        "detail": {
            "lines": [
                {
                    "line": 3,
                    "field": "receiver.phone",
                    "label": "手机号",
                    "message": "Not a valid mobile or landline number.",
                }
            ]
        },
    }
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_the_import_needs_the_order_scope(shop_a):
    answer = token_client(shop_a, scopes=["export"]).post(
        "/api/v1/orders/import/", {"file": _csv([_line("A-1")])}, format="multipart"
    )
    assert answer.status_code == 403
    assert answer.json()["code"] == "PERMISSION_DENIED"
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_the_import_reads_multipart_only(shop_a):
    api = token_client(shop_a)
    as_json = api.post("/api/v1/orders/import/", {"file": "A-1,..."}, format="json")
    assert as_json.status_code == 415
    missing = api.post("/api/v1/orders/import/", {}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()["detail"]
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_an_attack_xlsx_is_refused_naming_the_limit(shop_a):
    upload = io.BytesIO(book((40_000, 2_000, "x")))
    upload.name = "attack.xlsx"
    answer = token_client(shop_a).post(
        "/api/v1/orders/import/", {"file": upload}, format="multipart"
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["message"] == (
        "该工作表声明了 40000 行；每个文件最多 10001 行（含表头）。"
        "请删除数据下方的空行，或拆分文件。"
    )
    assert Order.objects.count() == 0 and Job.objects.count() == 0


def _wait(api, job_id: int) -> dict:
    for _ in range(300):
        body = api.get(f"/api/v1/jobs/{job_id}/").json()
        if body["status"] in ("succeeded", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError(body)


@pytest.mark.django_db(transaction=True)
def test_a_large_file_is_imported_by_a_job_on_a_worker(shop_a, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    api = token_client(shop_a)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        started = api.post("/api/v1/orders/import/", {"file": _large()}, format="multipart")
        assert started.status_code == 202
        assert started.json()["kind"] == "order_import"
        body = _wait(api, started.json()["id"])
    assert body["status"] == "succeeded", body
    assert body["result"] == {"orders": 700, "items": 700}
    assert (body["progress"], body["done"], body["total"]) == (100, 700, 700)
    assert Order.objects.filter(shop=shop_a).count() == 700
    assert OrderItem.objects.filter(order__shop=shop_a).count() == 700
    # the upload (consumer data in clear) is gone once read
    assert not Path(Job.objects.get().params["upload"]).exists()


@pytest.mark.django_db(transaction=True)
def test_a_large_file_with_a_bad_line_fails_its_job_with_the_report(
    client, shop_a, tmp_path, settings
):
    settings.MEDIA_ROOT = str(tmp_path)
    client.force_login(shop_a.memberships.get().user)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        page = client.post("/console/orders/import/", {"file": _large(bad_line=500)})
        job = Job.objects.get()
        assert page.status_code == 302 and page["Location"] == f"/console/jobs/{job.pk}/"
        body = _wait(token_client(shop_a), job.pk)
    assert body["status"] == "failed"
    assert body["error"]["code"] == "IMPORT_INVALID"
    assert body["error"]["detail"]["lines"] == [
        {
            "line": 500,
            "field": "receiver.phone",
            "label": "手机号",
            "message": "不是有效的手机号或固定电话号码。",
        }
    ]
    assert Order.objects.count() == 0
    assert not Path(job.params["upload"]).exists()
    html = client.get(f"/console/jobs/{job.pk}/").content.decode()
    assert '<td>500</td><td data-field="receiver.phone">手机号</td>' in html
