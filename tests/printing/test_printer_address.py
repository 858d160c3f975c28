"""Network printers are not a port scanner: by default only the private LAN ranges and
ports 9100-9109, checked when a printer is saved (a field error naming the field) and
again at every connection (the name resolved once, the checked address connected to);
test prints run in the worker with short time-outs, never in the web request.

Only loopback is ever connected to: the LAN and public addresses below are validated,
never sent anything. The test settings allow 127.0.0.0/8 (the stand-in printers listen
there); these tests put the production defaults back."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.test import Client

from printing import print_jobs, printers
from printing.models import PrintAttempt, Printer, PrintJob
from printing.transports import BLOCKED, TransportError, network
from tests.conftest import main_actor, token_client
from tests.printing.doubles import HANG, PRINT, PrinterListener
from waybill_console.celery import app

PRINTERS = "/api/v1/printers/"
JOBS = "/api/v1/print-jobs/"
DEFAULT_NETWORKS = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
DEFAULT_PORTS = ["9100-9109"]
ROOT = Path(__file__).resolve().parents[2]

#: what the defaults refuse, and which fields say so
REFUSED = [
    ("127.0.0.1", 6379, {"host", "port"}),  # the app's own Redis
    ("127.0.0.1", 5432, {"host", "port"}),  # the app's own PostgreSQL
    ("169.254.169.254", 80, {"host", "port"}),  # cloud metadata
    ("8.8.8.8", 9100, {"host"}),  # public
    ("224.0.0.1", 9100, {"host"}),  # multicast
    ("localhost", 9100, {"host"}),  # a name that resolves to loopback
    ("127.1", 9100, {"host"}),  # loopback spelled short
    ("2130706433", 9100, {"host"}),  # loopback as one number
    ("0.0.0.0", 9100, {"host"}),  # unspecified (reaches this host)
    ("::1", 9100, {"host"}),
    ("::ffff:127.0.0.1", 9100, {"host"}),  # loopback inside IPv6
    ("fe80::1", 9100, {"host"}),  # link-local
    ("192.168.1.50", 22, {"port"}),  # a LAN host, not a printer port
    ("192.168.1.50", 9110, {"port"}),
]
ACCEPTED = [("192.168.1.50", 9100), ("10.20.30.40", 9109), ("172.16.0.9", 9100), ("fd00::50", 9100)]


@pytest.fixture
def defaults(settings):
    settings.PRINTER_ALLOWED_NETWORKS = DEFAULT_NETWORKS
    settings.PRINTER_ALLOWED_PORTS = DEFAULT_PORTS
    return settings


def printer_data(host: str, port: int, name: str = "打包台 1") -> dict:
    return {"name": name, "kind": "escpos", "connection": "network", "host": host, "port": port}


def test_production_defaults_are_the_private_lan_and_printer_ports():
    """The settings module itself, without the test settings and without the variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTER_ALLOWED_")}
    env.update(DJANGO_SETTINGS_MODULE="waybill_console.settings", WBC_DEV_DEFAULTS="1")
    env.pop("WBC_TESTING", None)
    code = (
        "import json; from waybill_console import settings as s; "
        "print(json.dumps([s.PRINTER_ALLOWED_NETWORKS, s.PRINTER_ALLOWED_PORTS]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [DEFAULT_NETWORKS, DEFAULT_PORTS]


# --- saved: a field error naming the field ----------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("host,port,fields", REFUSED)
def test_defaults_refuse_the_printer_on_create(shop_a, defaults, host, port, fields):
    response = token_client(shop_a).post(PRINTERS, printer_data(host, port), format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR" and set(body["detail"]) == fields
    assert not Printer.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("host,port", ACCEPTED)
def test_defaults_accept_a_printer_on_the_lan(shop_a, defaults, host, port):
    response = token_client(shop_a).post(PRINTERS, printer_data(host, port), format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["host"], response.json()["port"]) == (host, port)
    assert Printer.objects.get().host == host  # validated only: nothing is sent there


@pytest.mark.django_db
def test_defaults_refuse_moving_a_printer_onto_the_apps_own_redis(shop_a, defaults):
    api = token_client(shop_a)
    printer = api.post(PRINTERS, printer_data("192.168.1.50", 9100), format="json").json()
    for change, fields in (
        ({"host": "127.0.0.1", "port": 6379}, {"host", "port"}),
        ({"port": 6379}, {"port"}),
        ({"host": "localhost"}, {"host"}),
        ({"host": "8.8.8.8"}, {"host"}),
    ):
        response = api.patch(f"{PRINTERS}{printer['id']}/", change, format="json")
        assert response.status_code == 400 and set(response.json()["detail"]) == fields, change
    row = Printer.objects.get()
    assert (row.host, row.port) == ("192.168.1.50", 9100)
    # a USB printer has no address; a change back to the network is checked again
    usb = {"connection": "usb", "usb_vendor_id": "0416", "usb_product_id": "5011"}
    assert api.patch(f"{PRINTERS}{printer['id']}/", usb, format="json").status_code == 200
    Printer.objects.filter(pk=printer["id"]).update(host="127.0.0.1", port=5432)
    back = api.patch(f"{PRINTERS}{printer['id']}/", {"connection": "network"}, format="json")
    assert back.status_code == 400 and set(back.json()["detail"]) == {"host", "port"}
    assert Printer.objects.get().connection == "usb"


@pytest.mark.django_db
def test_the_printer_form_shows_the_refusal_next_to_the_field(shop_a, defaults):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(shop_a.memberships.get().user)
    response = client.post(
        "/console/printers/new/",
        {**printer_data("127.0.0.1", 6379), "dpi": "203", "offset_x_mm": "0",
         "offset_y_mm": "0"},
    )  # fmt: skip
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="field-error-host"' in html and 'data-testid="field-error-port"' in html
    assert "Printers are reached on ports 9100–9109." in html
    assert "127.0.0.1 is not on the local network printers may be on" in html
    assert not Printer.objects.exists()


@pytest.mark.django_db
def test_the_admin_form_refuses_the_same_addresses(shop_a, defaults, admin_client):
    printer = printers.printer_create(actor=main_actor(shop_a), data=printer_data("10.0.0.9", 9100))
    url = f"/admin/printing/printer/{printer.pk}/change/"
    form = {
        "shop": shop_a.pk, "name": printer.name, "kind": "escpos", "connection": "network",
        "host": "169.254.169.254", "port": "80", "dpi": "203", "offset_x_mm": "0",
        "offset_y_mm": "0", "paper_width_mm": "100", "paper_height_mm": "150",
    }  # fmt: skip
    response = admin_client.post(url, form)
    assert response.status_code == 200  # the form again, with its errors
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"host", "port"}
    assert (Printer.objects.get().host, Printer.objects.get().port) == ("10.0.0.9", 9100)


def test_operator_lists_more_networks_and_ports(settings):
    settings.PRINTER_ALLOWED_NETWORKS = "192.168.7.0/24, 127.0.0.0/8"
    settings.PRINTER_ALLOWED_PORTS = "9100-9109,515"
    assert network.address_check("127.0.0.1", 515) == ["127.0.0.1"]
    assert printers.printer_address_errors("192.168.7.20", 9105) == {}
    assert set(printers.printer_address_errors("192.168.1.50", 516)) == {"host", "port"}


# --- connected: the resolved address is checked again -----------------------------------------


def test_the_transport_refuses_a_name_that_resolves_to_loopback(defaults):
    """The connection-time check on its own: ``localhost`` is refused before any
    connection, although the listener's port is allowed."""
    with PrinterListener(PRINT) as listener:
        defaults.PRINTER_ALLOWED_PORTS = [*DEFAULT_PORTS, str(listener.port)]
        for host in ("localhost", "127.0.0.1", "::ffff:127.0.0.1"):
            with pytest.raises(TransportError) as caught:
                network.send(host, listener.port, b"label")
            err = caught.value
            assert (err.kind, err.detail, err.sent, err.total) == (BLOCKED, "host", 0, 5)
        with pytest.raises(TransportError) as caught:
            network.send("192.168.1.50", 6379, b"label")  # refused before any connection
        assert (caught.value.kind, caught.value.detail) == (BLOCKED, "port")
    assert listener.connections == 0 and listener.documents == []


def test_the_transport_resolves_a_name_once_and_connects_to_that_address(settings, monkeypatch):
    """A name is looked up once; the connection goes to the checked address itself, so a
    DNS answer that changes after the check is never used."""
    lookups = []
    real = socket.getaddrinfo

    def recording(host, *args, **kwargs):
        lookups.append(host)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recording)
    with PrinterListener(PRINT) as listener:
        assert network.send("localhost", listener.port, b"label") == 5
    assert listener.documents == [b"label"]
    assert [h for h in lookups if h == "localhost"] == ["localhost"]
    assert set(lookups) - {"localhost"} <= {"127.0.0.1"}  # the rest: the checked literal


@pytest.mark.django_db
def test_a_saved_printer_whose_name_now_resolves_to_loopback_is_refused_when_sending(
    shop_a, settings
):
    """Saved while allowed (as a name that resolved to the LAN would be), refused when the
    worker connects: the job fails with the reason, nothing reaches the listener."""
    with PrinterListener(PRINT) as listener:
        printer = printers.printer_create(
            actor=main_actor(shop_a), data=printer_data("localhost", listener.port)
        )
        settings.PRINTER_ALLOWED_NETWORKS = DEFAULT_NETWORKS  # loopback no longer allowed
        settings.PRINTER_ALLOWED_PORTS = [*DEFAULT_PORTS, str(listener.port)]
        job = print_jobs.printer_test(actor=main_actor(shop_a), printer=printer)
        assert print_jobs.print_job_send(job_id=job.pk) == "failed"
    assert listener.connections == 0 and listener.documents == []
    job.refresh_from_db()
    assert job.error["code"] == "PRINTER_ADDRESS_NOT_ALLOWED"
    assert job.error["detail"] == {"reason": "host", "sequence": 1, "waybill_no": ""}
    [attempt] = PrintAttempt.objects.filter(job=job)
    assert (attempt.outcome, attempt.bytes_sent, attempt.confirmed) == ("failed", 0, [])
    assert "地址不在允许范围内" in attempt.reason  # the console's language


# --- test prints run in the worker --------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_test_prints_to_a_silent_printer_never_hold_the_web_request(shop_a, monkeypatch):
    """Three test prints to a printer that takes the bytes and never confirms: each request
    answers queued before any connection is made; the worker sends them with the test
    page's short time-out and each fails as not confirmed."""
    monkeypatch.setattr(network, "TEST_CONFIRM_TIMEOUT", 2.0)
    api = token_client(shop_a)
    with PrinterListener(HANG) as listener:
        printer = printers.printer_create(
            actor=main_actor(shop_a), data=printer_data("127.0.0.1", listener.port)
        )
        answers = [api.post(f"{PRINTERS}{printer.pk}/test/") for _ in range(3)]
        assert [a.status_code for a in answers] == [201, 201, 201]
        assert [a.json()["status"] for a in answers] == ["queued"] * 3
        assert listener.connections == 0  # the web requests sent nothing
        ids = [a.json()["id"] for a in answers]
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                statuses = set(PrintJob.objects.filter(pk__in=ids).values_list("status", flat=True))
                if statuses <= {"printed", "failed"}:
                    break
                time.sleep(0.1)
    assert listener.connections == 3 and len(listener.documents) == 3
    for job_id in ids:
        body = api.get(f"{JOBS}{job_id}/").json()
        assert body["status"] == "failed" and body["error"]["code"] == "PRINT_NOT_CONFIRMED"
        [attempt] = body["attempts"]
        assert re.search(r"\b2 s\b|2 秒", attempt["reason"]), attempt["reason"]
