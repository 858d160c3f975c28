"""Printer, print agent and print job pages with the Django test client (CSRF enforced),
and batch printing from the order list: to a printer as a job, or as one PDF.

Pages are read in English (``Accept-Language: en``) where a test checks wording."""

from __future__ import annotations

import io
import re

import pypdfium2
import pytest
from django.test import Client
from rest_framework.test import APIClient

from printing import agents, print_jobs, printers
from printing.models import PrintAgent, Printer, PrintJob
from tests.conftest import main_actor, make_order
from tests.printing.doubles import PRINT, PrinterListener, closed_port
from tests.waybills.conftest import open_service
from waybills.models import Waybill
from waybills.services import waybill_allocate

pytestmark = pytest.mark.django_db

PRINTERS = "/console/printers/"
AGENTS = "/console/printers/agents/"
PRINT_JOBS = "/console/print-jobs/"
BATCH = "/console/print-jobs/batch/"


def logged_in(shop, *, csrf: bool = True) -> Client:
    client = Client(enforce_csrf_checks=csrf, HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(shop.memberships.get().user)
    return client


def csrf_post(client: Client, url: str, data: dict | None = None, *, page: str | None = None):
    """POST like the browser: the token from the page's form and the cookie."""
    html = client.get(page or url).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    return client.post(url, {**(data or {}), "csrfmiddlewaretoken": token})


def text(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def network_printer(shop, port: int = 9100, name: str = "打包台 1") -> Printer:
    return printers.printer_create(
        actor=main_actor(shop),
        data={"name": name, "kind": "escpos", "connection": "network", "host": "127.0.0.1",
              "port": port},
    )  # fmt: skip


def orders_with_waybills(shop, sub, n: int):
    orders = [make_order(shop) for _ in range(n)]
    waybills = [
        waybill_allocate(actor=main_actor(shop), order=o, subscription=sub).parent for o in orders
    ]
    return orders, waybills


# --- printers ---------------------------------------------------------------------------------


def test_printer_pages_render_and_the_nav_links_them(shop_a):
    printer = network_printer(shop_a)
    client = logged_in(shop_a)
    listing = client.get(PRINTERS)
    assert listing.status_code == 200
    html = text(listing)
    assert f'data-testid="printer-{printer.pk}"' in html and "127.0.0.1:9100" in html
    assert 'href="/console/printers/"' in html and 'href="/console/print-jobs/"' in html
    assert client.get(f"{PRINTERS}new/").status_code == 200
    edit = client.get(f"{PRINTERS}{printer.pk}/edit/")
    assert edit.status_code == 200 and 'value="打包台 1"' in text(edit)
    assert client.get(AGENTS).status_code == 200
    assert client.get(PRINT_JOBS).status_code == 200


def test_add_a_printer_through_the_form(shop_a):
    client = logged_in(shop_a)
    form = {"name": "前台 TSPL", "kind": "tspl", "connection": "network", "host": "192.168.1.60",
            "port": "9100", "dpi": "300", "offset_x_mm": "1.5", "offset_y_mm": "-0.5",
            "paper_width_mm": "100", "paper_height_mm": "150", "grayscale": "1"}  # fmt: skip
    refused = client.post(f"{PRINTERS}new/", form)  # no CSRF token
    assert refused.status_code == 403 and not Printer.objects.exists()

    response = csrf_post(client, f"{PRINTERS}new/", form)

    assert response.status_code == 302 and response["Location"] == PRINTERS
    printer = Printer.objects.get()
    assert (printer.kind, printer.host, printer.dpi, str(printer.offset_x_mm)) == (
        "tspl", "192.168.1.60", 300, "1.5"
    )  # fmt: skip
    assert printer.grayscale and printer.is_default and printer.shop == shop_a


def test_form_errors_are_shown_next_to_the_field(shop_a):
    client = logged_in(shop_a)
    response = csrf_post(
        client,
        f"{PRINTERS}new/",
        {"name": "P", "kind": "escpos", "connection": "usb", "usb_vendor_id": "xyz",
         "dpi": "203", "offset_x_mm": "0", "offset_y_mm": "0"},
    )  # fmt: skip
    assert response.status_code == 400
    html = text(response)
    assert 'data-testid="field-error-usb_vendor_id"' in html
    assert 'data-error-code="VALIDATION_ERROR"' in html
    assert 'value="xyz"' in html  # what was typed is kept
    assert not Printer.objects.exists()


def test_edit_clears_a_checkbox_and_delete_removes_the_printer(shop_a):
    printer = network_printer(shop_a)
    printers.printer_update(actor=main_actor(shop_a), printer=printer, data={"grayscale": True})
    client = logged_in(shop_a)
    values = {"name": "改名", "kind": "escpos", "connection": "network", "host": "10.0.0.9",
              "port": "9100", "dpi": "203", "offset_x_mm": "0", "offset_y_mm": "0",
              "paper_width_mm": "100", "paper_height_mm": "150"}  # fmt: skip
    assert csrf_post(client, f"{PRINTERS}{printer.pk}/edit/", values).status_code == 302
    printer.refresh_from_db()
    assert (printer.name, printer.host, printer.grayscale) == ("改名", "10.0.0.9", False)
    deleted = csrf_post(client, f"{PRINTERS}{printer.pk}/delete/", page=PRINTERS)
    assert deleted.status_code == 302 and not Printer.objects.exists()


def test_test_print_button_queues_the_job_and_its_page_follows_it(shop_a):
    """The button answers at once (the request never talks to the printer); the job's page
    polls while the worker sends it, then shows it printed."""
    with PrinterListener(PRINT) as listener:
        printer = network_printer(shop_a, listener.port)
        client = logged_in(shop_a)
        response = csrf_post(client, f"{PRINTERS}{printer.pk}/test/", page=PRINTERS)
        job = PrintJob.objects.get()
        assert response.status_code == 302 and response["Location"] == f"{PRINT_JOBS}{job.pk}/"
        assert job.is_test and job.status == "queued" and listener.connections == 0
        page = client.get(response["Location"])
        html = text(page)
        assert 'data-status="queued"' in html and 'hx-trigger="every 1s"' in html
        assert "The test label is on its way to 打包台 1." in " ".join(messages_of(page))
        assert print_jobs.print_job_send(job_id=job.pk) == "printed"  # the worker's task
    assert len(listener.documents) == 1
    html = text(client.get(response["Location"]))
    assert 'data-status="printed"' in html and 'data-confirmed="1"' in html
    assert 'hx-trigger="every 1s"' not in html


def test_another_shops_printer_and_job_pages_are_not_found(shop_a, shop_b):
    printer = network_printer(shop_a, closed_port())
    job = print_jobs.printer_test(actor=main_actor(shop_a), printer=printer)
    other = logged_in(shop_b)
    assert other.get(f"{PRINTERS}{printer.pk}/edit/").status_code == 404
    assert other.get(f"{PRINT_JOBS}{job.pk}/").status_code == 404
    assert csrf_post(other, f"{PRINTERS}{printer.pk}/delete/", page=PRINTERS).status_code == 404
    assert csrf_post(other, f"{PRINTERS}{printer.pk}/test/", page=PRINTERS).status_code == 404
    assert f"printer-{printer.pk}" not in text(other.get(PRINTERS))
    assert Printer.objects.filter(pk=printer.pk).exists()


# --- print agents -----------------------------------------------------------------------------


def test_agent_key_is_shown_once_and_revoking_stops_it(shop_a):
    client = logged_in(shop_a)
    created = csrf_post(client, f"{AGENTS}new/", {"name": "打包台 1"}, page=AGENTS)
    assert created.status_code == 200 and created["Cache-Control"] == "no-store"
    key = re.search(r'data-testid="agent-key">([^<]+)<', text(created)).group(1)
    agent = PrintAgent.objects.get()
    assert agent.key_hash == PrintAgent.hash_key(key) and agent.name == "打包台 1"
    assert key not in text(client.get(AGENTS))  # never again

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Agent {key}")
    assert api.get("/api/v1/agent/jobs/next/").status_code == 204
    revoked = csrf_post(client, f"{AGENTS}{agent.pk}/revoke/", page=AGENTS)
    assert revoked.status_code == 302
    assert api.get("/api/v1/agent/jobs/next/").status_code == 401


def test_agent_printer_form_needs_a_target(shop_a):
    agent, _key = agents.agent_create(actor=main_actor(shop_a), name="打包台")
    client = logged_in(shop_a)
    base = {"name": "代理打印机", "kind": "escpos", "connection": "agent", "agent": str(agent.pk),
            "dpi": "203", "offset_x_mm": "0", "offset_y_mm": "0"}  # fmt: skip
    bad = csrf_post(client, f"{PRINTERS}new/", {**base, "agent_target": "lpt1"})
    assert bad.status_code == 400 and 'data-testid="field-error-agent_target"' in text(bad)
    good = csrf_post(client, f"{PRINTERS}new/", {**base, "agent_target": "win://Xprinter XP-420B"})
    assert good.status_code == 302
    assert Printer.objects.get().agent_target == "win://Xprinter XP-420B"


# --- print jobs -------------------------------------------------------------------------------


def test_failed_job_page_shows_the_attempt_and_retry_queues_it_again(shop_a):
    sub = open_service(shop_a, "ZTO", balance=10)
    _orders, waybills = orders_with_waybills(shop_a, sub, 2)
    printer = network_printer(shop_a, closed_port())
    job = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                waybill_ids=[w.pk for w in waybills])  # fmt: skip
    print_jobs.print_job_send(job_id=job.pk)
    client = logged_in(shop_a)
    html = text(client.get(f"{PRINT_JOBS}{job.pk}/"))
    assert 'data-status="failed"' in html and 'data-outcome="failed"' in html
    assert 'data-error-code="PRINTER_OFFLINE"' in html
    assert 'data-testid="retry-print-job"' in html
    assert html.count('data-confirmed="0"') == 2
    listing = text(client.get(f"{PRINT_JOBS}?status=failed"))
    assert f'data-testid="print-job-{job.pk}"' in listing

    retried = csrf_post(client, f"{PRINT_JOBS}{job.pk}/retry/", page=f"{PRINT_JOBS}{job.pk}/")
    assert retried.status_code == 302
    job.refresh_from_db()
    assert job.status == "queued" and job.error is None
    polled = client.get(f"{PRINT_JOBS}{job.pk}/", HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 1s"' in text(polled) and "<html" not in text(polled)


# --- batch printing from the order list -------------------------------------------------------


def test_order_list_offers_batch_print_with_the_printers_and_pdf(shop_a):
    printer = network_printer(shop_a)
    client = logged_in(shop_a)
    assert "/console/print-jobs/batch/controls/" in text(client.get("/console/orders/"))
    controls = text(client.get("/console/print-jobs/batch/controls/"))
    assert f'<option value="{printer.pk}" selected>' in controls
    assert '<option value="pdf"' in controls and f'formaction="{BATCH}"' in controls


def test_batch_print_as_one_pdf_for_the_browser(shop_a):
    sub = open_service(shop_a, "ZTO", balance=10)
    orders, waybills = orders_with_waybills(shop_a, sub, 3)
    without = make_order(shop_a)
    client = logged_in(shop_a)
    ids = [o.pk for o in orders] + [without.pk]
    response = csrf_post(
        client, BATCH, {"ids": ids, "print_target": "pdf"}, page="/console/orders/"
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="labels-')
    pdf = pypdfium2.PdfDocument(io.BytesIO(response.content))
    assert len(pdf) == 3
    assert [Waybill.objects.get(pk=w.pk).print_count for w in waybills] == [1, 1, 1]


def test_batch_print_to_a_printer_makes_a_job(shop_a):
    sub = open_service(shop_a, "ZTO", balance=10)
    orders, waybills = orders_with_waybills(shop_a, sub, 3)
    without = make_order(shop_a)
    printer = network_printer(shop_a)
    client = logged_in(shop_a)
    response = csrf_post(
        client, BATCH, {"ids": [without.pk] + [o.pk for o in orders], "print_target": printer.pk},
        page="/console/orders/",
    )  # fmt: skip
    job = PrintJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{PRINT_JOBS}{job.pk}/"
    docs = list(job.documents.order_by("sequence").values_list("waybill_id", flat=True))
    assert docs == [w.pk for w in waybills] and job.printer == printer
    page = client.get(response["Location"])
    notes = " ".join(messages_of(page))
    assert "1 selected orders have no waybill number" in notes and f"#{job.pk}" in notes


def test_batch_print_over_50_orders_is_refused(shop_a):
    orders = [make_order(shop_a) for _ in range(51)]
    printer = network_printer(shop_a)
    client = logged_in(shop_a)
    response = csrf_post(client, BATCH, {"ids": [o.pk for o in orders], "print_target": printer.pk},
                         page="/console/orders/")  # fmt: skip
    assert response.status_code == 302 and response["Location"].startswith("/console/orders/")
    assert "At most 50 labels per print job." in messages_of(client.get(response["Location"]))
    everything = csrf_post(client, BATCH, {"all_matching": "1", "print_target": "pdf"},
                           page="/console/orders/")  # fmt: skip
    assert everything.status_code == 302
    assert not PrintJob.objects.exists()


def test_batch_print_with_nothing_printable_says_so(shop_a):
    order = make_order(shop_a)
    client = logged_in(shop_a)
    response = csrf_post(client, BATCH, {"ids": [order.pk], "print_target": "pdf"},
                         page="/console/orders/")  # fmt: skip
    assert response.status_code == 302
    notes = messages_of(client.get(response["Location"]))
    assert notes == ["None of the selected orders has a waybill number yet."]


# --- the admin --------------------------------------------------------------------------------


def test_admin_lists_printers_agents_and_jobs_and_retries_a_job(shop_a, admin_client):
    sub = open_service(shop_a, "ZTO", balance=10)
    _orders, [waybill] = orders_with_waybills(shop_a, sub, 1)
    printer = network_printer(shop_a, closed_port())
    agents.agent_create(actor=main_actor(shop_a), name="打包台")
    job = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                waybill_ids=[waybill.pk])  # fmt: skip
    print_jobs.print_job_send(job_id=job.pk)
    for url in ("printer/", "printagent/", "printjob/", f"printjob/{job.pk}/change/",
                "labeltemplate/"):  # fmt: skip
        assert admin_client.get(f"/admin/printing/{url}").status_code == 200, url
    response = admin_client.post(
        "/admin/printing/printjob/",
        {"action": "retry_jobs", "_selected_action": [job.pk]},
    )
    assert response.status_code == 302
    assert PrintJob.objects.get(pk=job.pk).status == "queued"
