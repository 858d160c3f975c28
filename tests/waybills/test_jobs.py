"""Batch allocation and reconciliation statements as jobs on a real Celery worker."""

import csv
import io
import time

import pytest
from celery.contrib.testing.worker import start_worker
from openpyxl import load_workbook

from carriers.models import Subscription
from carriers.services import ledger_check
from tests.conftest import main_actor, make_order, token_client
from tests.waybills.conftest import open_service
from waybill_console.celery import app
from waybill_console.exports import excel_text_value
from waybill_console.jobs import job_run
from waybills import services
from waybills.models import Waybill

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _wait(api, url, done=("succeeded", "failed", "generated")):
    for _ in range(300):
        body = api.get(url).json()
        if body["status"] in done:
            return body
        time.sleep(0.1)
    raise AssertionError(f"still running: {body}")


def test_batch_allocation_job_with_per_order_results(shop_a, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    sub = open_service(shop_a, balance=120)
    orders = [make_order(shop_a) for _ in range(130)]
    api = token_client(shop_a)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        started = api.post(
            "/api/v1/waybills/batch/",
            {"orders": [o.pk for o in orders], "subscription": sub.pk},
            format="json",
        )
        assert started.status_code == 202 and started.json()["total"] == 130
        body = _wait(api, f"/api/v1/jobs/{started.json()['id']}/")
    assert body["status"] == "succeeded" and body["progress"] == 100
    results = body["result"]["results"]
    assert [r["order"] for r in results] == [o.pk for o in orders]
    assert body["result"]["ok"] == 120 and body["result"]["failed"] == 10
    assert {r["error"]["code"] for r in results if not r["ok"]} == {"QUOTA_INSUFFICIENT"}
    assert Waybill.objects.count() == 120
    assert Subscription.objects.get(pk=sub.pk).balance == 0
    assert ledger_check() == []


def test_a_batch_run_twice_gives_no_order_a_second_number(shop_a):
    """A redelivered job (worker died mid-way) resumes: no order gets two numbers."""
    sub = open_service(shop_a, balance=100)
    orders = [make_order(shop_a) for _ in range(60)]
    job = services.waybill_batch_start(
        actor=main_actor(shop_a), order_ids=[o.pk for o in orders], subscription=sub.pk
    )
    # the first attempt got through one chunk and died: its results were recorded
    services.waybill_allocate_many(actor=main_actor(shop_a), orders=orders[:50], subscription=sub)
    job.result = {"results": []}  # … or died before recording them
    job.save()
    job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded" and job.result["ok"] == 60
    assert Waybill.objects.count() == 60
    assert Subscription.objects.get(pk=sub.pk).allocated_total == 60
    assert ledger_check() == []


def test_batch_over_500_orders_is_refused(shop_a):
    open_service(shop_a, balance=1)
    response = token_client(shop_a).post(
        "/api/v1/waybills/batch/", {"orders": list(range(1, 502)), "carrier": "ZTO"}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "BATCH_TOO_LARGE"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_reconciliation_statement_generating_then_generated(shop_a, fmt, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    sub = open_service(shop_a, balance=10)
    orders = [make_order(shop_a, name="欧阳娜娜", phone="13812345678") for _ in range(4)]
    services.waybill_allocate_many(actor=main_actor(shop_a), orders=orders, subscription=sub)
    cancelled = Waybill.objects.order_by("pk").first()
    services.waybill_cancel(actor=main_actor(shop_a), waybill=cancelled)
    api = token_client(shop_a)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        started = api.post(
            "/api/v1/reconciliations/",
            {"format": fmt, "conditions": {"days": 7, "carrier": "ZTO"}},
            format="json",
        )
        assert started.status_code == 202 and started.json()["status"] == "generating"
        body = _wait(api, f"/api/v1/reconciliations/{started.json()['id']}/")
    assert body["status"] == "generated" and body["total"] == 4
    raw = b"".join(api.get(f"/api/v1/reconciliations/{body['id']}/download/").streaming_content)
    if fmt == "csv":
        lines = csv.reader(io.StringIO(raw.decode("utf-8-sig")))
        # ="…": a number Excel keeps a text (waybill_console.exports)
        rows = [[excel_text_value(c) for c in r] for r in lines]
    else:
        sheet = load_workbook(io.BytesIO(raw), read_only=True).worksheets[0]
        rows = [
            [str(c if c is not None else "") for c in r] for r in sheet.iter_rows(values_only=True)
        ]
    assert rows[0][0] == "运单号" and len(rows) == 5
    numbers = {r[0] for r in rows[1:]}
    assert numbers == set(Waybill.objects.values_list("waybill_no", flat=True))
    assert any(r[0] == cancelled.waybill_no and r[5] == "已取消" for r in rows[1:])
    text = "\n".join(",".join(r) for r in rows)
    assert "欧***" in text and "138****5678" in text
    for secret in ("欧阳娜娜", "13812345678", "文三路"):
        assert secret not in text


def test_reconciliation_bad_conditions_name_the_field(shop_a):
    response = token_client(shop_a).post(
        "/api/v1/reconciliations/",
        {"format": "csv", "conditions": {"from": "2026-13-01"}},
        format="json",
    )
    assert response.status_code == 400 and "from" in response.json()["detail"]


def test_another_shops_statement_is_404(shop_a, shop_b):
    job = services.reconciliation_start(actor=main_actor(shop_b), params={})
    assert token_client(shop_a).get(f"/api/v1/reconciliations/{job.pk}/").status_code == 404
    assert (
        token_client(shop_a).get(f"/api/v1/reconciliations/{job.pk}/download/").status_code == 404
    )
