"""Import is all-or-nothing with a per-line report; export is masked, capped and a real job."""

import csv
import io
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from shops.models import Order, OrderItem
from shops.services import exports, imports
from tests.conftest import main_actor, make_order, token_client
from waybill_console.celery import app
from waybill_console.errors import AppError
from waybill_console.models import Job

HEADER = imports.TEMPLATE_HEADER


def _csv(rows) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(HEADER)
    w.writerows(rows)
    return out.getvalue().encode("utf-8")


def _line(
    no,
    phone="13812345678",
    sku="S1",
    status="已付款",
    province="浙江省",
    city="杭州市",
    district="西湖区",
):
    return [
        no,
        status,
        "",
        sku,
        "保温杯",
        "500ml",
        "2",
        "39.90",
        "张三",
        phone,
        province,
        city,
        district,
        "文三路 1 号",
        "",
    ]


@pytest.mark.django_db
def test_import_creates_multi_item_orders(shop_a):
    raw = _csv([_line("IM-1"), _line("IM-1", sku="S2"), _line("IM-2", status="待付款")])
    result = imports.order_import(actor=main_actor(shop_a), file_name="a.csv", raw=raw)
    assert result == {"orders": 2, "items": 3}
    assert Order.objects.get(order_no="IM-1").items.count() == 2
    assert Order.objects.get(order_no="IM-2").status == "unpaid"


@pytest.mark.django_db
def test_import_with_one_bad_line_imports_nothing(shop_a):
    raw = _csv([_line("IM-1"), _line("IM-2", phone="12345"), _line("IM-3", sku="")])
    with pytest.raises(AppError) as refused:
        imports.order_import(actor=main_actor(shop_a), file_name="a.csv", raw=raw)
    assert refused.value.code == "IMPORT_INVALID"
    lines = refused.value.detail["lines"]
    assert {(p["line"], p["field"]) for p in lines} == {(3, "receiver.phone"), (4, "items[0].sku")}
    assert Order.objects.count() == 0 and OrderItem.objects.count() == 0


@pytest.mark.django_db
def test_import_refuses_an_existing_order_number(shop_a):
    make_order(shop_a, "IM-9")
    with pytest.raises(AppError) as refused:
        imports.order_import(
            actor=main_actor(shop_a), file_name="a.csv", raw=_csv([_line("IM-8"), _line("IM-9")])
        )
    assert refused.value.detail["lines"] == [
        {
            "line": 3,
            "field": "order_no",
            "label": "订单号",
            "message": "本店铺已有该订单号。",
        }
    ]
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_import_reads_xlsx_and_gb18030(shop_a):
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append(_line("X-1"))
    buf = io.BytesIO()
    book.save(buf)
    actor = main_actor(shop_a)
    assert imports.order_import(actor=actor, file_name="a.xlsx", raw=buf.getvalue())["orders"] == 1
    gbk = _csv([_line("G-1")]).decode("utf-8").encode("gb18030")
    assert imports.order_import(actor=actor, file_name="b.csv", raw=gbk)["orders"] == 1


@pytest.mark.django_db
def test_import_page_shows_the_line_report(client, shop_a):
    client.force_login(shop_a.memberships.get().user)
    upload = io.BytesIO(_csv([_line("P-1", phone="999")]))
    upload.name = "orders.csv"
    response = client.post("/console/orders/import/", {"file": upload})
    html = response.content.decode()
    assert response.status_code == 400
    assert "receiver.phone" in html and "<td>2</td>" in html
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_export_over_15000_rows_is_refused(shop_a, monkeypatch):
    monkeypatch.setattr(exports, "EXPORT_MAX_ROWS", 2)
    for i in range(3):
        make_order(shop_a, f"E-{i}")
    with pytest.raises(AppError) as refused:
        exports.order_export_start(actor=main_actor(shop_a), params={})
    assert refused.value.code == "EXPORT_TOO_LARGE"
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_export_older_than_90_days_is_refused(shop_a):
    old = (timezone.localdate() - timedelta(days=91)).isoformat()
    with pytest.raises(AppError) as refused:
        exports.order_export_start(actor=main_actor(shop_a), params={"date_from": old})
    assert "date_from" in refused.value.detail


@pytest.mark.django_db
def test_export_leaves_out_orders_older_than_90_days(shop_a):
    make_order(shop_a, "OLD", created_at=timezone.now() - timedelta(days=95))
    make_order(shop_a, "NEW")
    job = exports.order_export_start(actor=main_actor(shop_a), params={})
    assert job.total == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_job_runs_on_a_worker_and_is_masked(shop_a, fmt, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    make_order(shop_a, "EX-1", name="欧阳娜娜", phone="13812345678")
    make_order(shop_a, "EX-2", name="李四", phone="13987654321")
    api = token_client(shop_a)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        started = api.post("/api/v1/orders/export/", {"format": fmt}, format="json")
        assert started.status_code == 202
        job_id = started.json()["id"]
        for _ in range(100):
            body = api.get(f"/api/v1/jobs/{job_id}/").json()
            if body["status"] in ("succeeded", "failed"):
                break
            import time

            time.sleep(0.1)
    assert body["status"] == "succeeded", body
    assert body["progress"] == 100 and body["result"]["rows"] == 2
    raw = b"".join(api.get(f"/api/v1/jobs/{job_id}/download/").streaming_content)
    if fmt == "csv":
        text = raw.decode("utf-8-sig")
    else:
        sheet = load_workbook(io.BytesIO(raw), read_only=True).worksheets[0]
        text = "\n".join(
            ",".join(str(c or "") for c in row) for row in sheet.iter_rows(values_only=True)
        )
    assert "138****5678" in text and "欧***" in text and "139****4321" in text
    for secret in ("13812345678", "欧阳娜娜", "13987654321", "李四", "文三路"):
        assert secret not in text


@pytest.mark.django_db
def test_other_shops_job_is_404(shop_a, shop_b):
    job = exports.order_export_start(actor=main_actor(shop_b), params={})
    response = token_client(shop_a).get(f"/api/v1/jobs/{job.pk}/")
    assert response.status_code == 404


@pytest.mark.django_db
def test_pick_list_groups_by_sku(shop_a):
    a = make_order(
        shop_a,
        "PK-1",
        items=[
            {
                "sku": "CUP",
                "product_name": "保温杯",
                "spec": "白色",
                "quantity": 2,
                "unit_price": 1,
            },
            {"sku": "LID", "product_name": "杯盖", "spec": "", "quantity": 1, "unit_price": 1},
        ],
    )
    b = make_order(
        shop_a,
        "PK-2",
        items=[
            {"sku": "CUP", "product_name": "保温杯", "spec": "白色", "quantity": 3, "unit_price": 1}
        ],
    )
    pdf = exports.pick_list_pdf(actor=main_actor(shop_a), order_ids=[a.pk, b.pk])
    assert pdf.startswith(b"%PDF")
    import pypdfium2

    doc = pypdfium2.PdfDocument(pdf)
    text = doc[0].get_textpage().get_text_range()
    assert "拣货单" in text and "保温杯" in text
    assert "PK-1×2" in text and "PK-2×3" in text
    flat = " ".join(line.strip() for line in text.splitlines())
    # no bin location (库位) recorded: "—"; 2 + 3 cups, one line for the SKU
    assert "— CUP 保温杯 白色 5 PK-1×2 PK-2×3 — LID 杯盖 1 PK-1×1" in flat
