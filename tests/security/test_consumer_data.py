"""Consumer data is never in plaintext in the database or in logs."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from shops import services as shop_services
from shops.models import Order
from tests.conftest import main_actor, make_order, token_client
from tests.waybills.conftest import open_service
from waybills.services import waybill_allocate

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]
NAME, PHONE, STREET = "欧阳娜娜", "13912345678", "文三路 90 号 5 幢"
RECEIVER = {
    "name": NAME,
    "phone": PHONE,
    "province": "浙江省",
    "city": "杭州市",
    "district": "西湖区",
    "detail": STREET,
}


def test_receiver_columns_hold_ciphertext_only(shop_a):
    sub = open_service(shop_a, balance=5)
    order = make_order(shop_a, receiver=RECEIVER)
    waybill_allocate(actor=main_actor(shop_a), order=order, subscription=sub)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT receiver_name, receiver_phone, receiver_detail, receiver_phone_index "
            "FROM shops_order WHERE id = %s "
            "UNION ALL SELECT receiver_name, receiver_phone, receiver_detail, '' "
            "FROM waybills_waybill WHERE order_id = %s",
            [order.pk, order.pk],
        )
        rows = cur.fetchall()
    assert len(rows) == 2
    for name, phone, detail, index in rows:
        for value in (name, phone, detail):
            assert value.startswith("gAAAA")  # a Fernet token
            assert NAME not in value and PHONE not in value and STREET not in value
        assert PHONE not in index


def test_no_log_record_carries_the_receiver(shop_a, caplog):
    """A whole day's work at DEBUG level: create, search by phone, allocate, print the
    label (decrypts), reveal (decrypts, audited), export: no record carries the receiver."""
    caplog.set_level(logging.DEBUG)
    sub = open_service(shop_a, balance=5)
    api = token_client(shop_a)
    created = api.post(
        "/api/v1/orders/",
        {
            "order_no": "LOG-0001",
            "receiver": RECEIVER,
            "items": [{"sku": "S", "product_name": "杯", "quantity": 1, "unit_price": "1.00"}],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    order_id = created.json()["id"]
    assert api.get(f"/api/v1/orders/?q={PHONE}").json()["count"] == 1
    drawn = api.post("/api/v1/waybills/", {"order": order_id, "subscription": sub.pk},
                     format="json")  # fmt: skip
    assert drawn.status_code == 201, drawn.content
    number = drawn.json()["waybill_no"]
    assert api.get(f"/api/v1/waybills/{number}/label/?format=pdf").status_code == 200
    assert api.post(f"/api/v1/orders/{order_id}/reveal/").json()["phone"] == PHONE
    api.get("/api/v1/orders/999999999/")  # a 404 is logged
    shop_services.order_start_after_sale(
        actor=main_actor(shop_a), order=Order.objects.get(pk=order_id)
    )
    assert caplog.records, "nothing was logged: the test would prove nothing"
    for record in caplog.records:
        text = record.getMessage() + " " + str(getattr(record, "args", ""))
        for secret in (NAME, PHONE, STREET):
            assert secret not in text, f"{record.name}: {text[:200]}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_access_log_leaves_out_query_strings_and_referers(tmp_path):
    """The gunicorn.conf.py every deployment reads: a search by phone number is logged as
    its path only."""
    port = _free_port()
    log = tmp_path / "access.log"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "waybill_console.settings_test"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "waybill_console.wsgi", "--bind",
         f"127.0.0.1:{port}", "--workers", "1", "--access-logfile", str(log)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/healthz?q={PHONE}",
                    headers={"Referer": f"http://127.0.0.1/console/orders/?q={PHONE}"},
                )
                urllib.request.urlopen(request, timeout=2).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not answer")
        for _ in range(50):
            if log.exists() and "/healthz" in log.read_text():
                break
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    text = log.read_text()
    assert '"GET /healthz HTTP/1.1" 200' in text
    assert PHONE not in text
