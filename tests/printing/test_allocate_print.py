"""取号并打印, the print status (未打印 / 已打印 / 重打) and the reprint's confirmation, on the
real services: PostgreSQL, real PDFs (the barcode scanned back), a TCP printer stand-in."""

from __future__ import annotations

import pytest
from django.test import Client

from printing import allocate_print, print_jobs, printers
from printing.errors import ReprintNotConfirmed
from printing.models import PrintDocument, PrintJob
from printing.services import labels_pdf
from shops import selectors as shop_selectors
from shops.models import OrderEvent
from tests.conftest import main_actor, make_order, token_client
from tests.printing.decode import pdf_image, scan
from tests.printing.doubles import PRINT, PrinterListener
from tests.waybills.conftest import open_service
from waybill_console.jobs import job_run
from waybills.models import Waybill
from waybills.services import waybill_allocate

pytestmark = pytest.mark.django_db


def numbered(shop, sub, order_no: str) -> Waybill:
    order = make_order(shop, order_no)
    return waybill_allocate(actor=main_actor(shop), order=order, subscription=sub).parent


def print_pdf(shop, *waybills: Waybill) -> bytes:
    fresh = list(Waybill.objects.filter(pk__in=[w.pk for w in waybills]).order_by("pk"))
    return labels_pdf(actor=main_actor(shop), waybills=fresh)


def reprint_events(order_id: int) -> list[OrderEvent]:
    """The order history's reprints (a first print is a ``label_printed`` without it)."""
    return list(
        OrderEvent.objects.filter(order_id=order_id, kind="label_printed", data__reprint=True)
    )


def barcodes(pdf: bytes) -> set[str]:
    return {text for fmt, text in scan(pdf_image(pdf, dpi=200)) if fmt != "QRCode"}


def owner_client(shop) -> Client:
    client = Client()
    client.force_login(shop.memberships.get(role="main").user)
    return client


@pytest.fixture
def sub(shop_a):
    return open_service(shop_a, "ZTO", balance=50)


# --- the print status: column and filter (page, API) ------------------------------------------


def test_print_status_filter_finds_each_status_and_nothing_else(shop_a, shop_b, sub):
    unnumbered = make_order(shop_a, "PS-NONE")
    fresh = numbered(shop_a, sub, "PS-FRESH")
    once = numbered(shop_a, sub, "PS-ONCE")
    twice = numbered(shop_a, sub, "PS-TWICE")
    print_pdf(shop_a, once, twice)
    print_pdf(shop_a, twice)
    # another shop's printed order never shows up
    other = numbered(shop_b, open_service(shop_b, "ZTO", balance=5), "PS-OTHER")
    print_pdf(shop_b, other)
    actor = main_actor(shop_a)

    def matching(status: str) -> set[str]:
        filters = shop_selectors.OrderFilters.from_params({"print_status": status})
        qs = shop_selectors.order_list(actor=actor, filters=filters)
        return set(qs.values_list("order_no", flat=True))

    assert matching("unprinted") == {"PS-FRESH"}
    assert matching("printed") == {"PS-ONCE"}
    assert matching("reprinted") == {"PS-TWICE"}
    assert matching("") == {"PS-NONE", "PS-FRESH", "PS-ONCE", "PS-TWICE"}
    ids = [unnumbered.pk, fresh.order_id, once.order_id, twice.order_id, other.order_id]
    assert shop_selectors.order_print_statuses(actor=actor, order_ids=ids) == {
        fresh.order_id: "unprinted",
        once.order_id: "printed",
        twice.order_id: "reprinted",
    }

    api = token_client(shop_a)
    answer = api.get("/api/v1/orders/?print_status=printed")
    assert answer.status_code == 200
    assert [o["order_no"] for o in answer.json()["results"]] == ["PS-ONCE"]
    refused = api.get("/api/v1/orders/?print_status=maybe")
    assert refused.status_code == 400 and refused.json()["code"] == "VALIDATION_ERROR"
    assert "print_status" in refused.json()["detail"]

    page = owner_client(shop_a).get("/console/orders/?print_status=unprinted").content.decode()
    assert "PS-FRESH" in page and "PS-ONCE" not in page and "PS-NONE" not in page
    assert 'data-testid="order-print-status" data-status="unprinted"' in page


# --- reprints: confirmed first, then recorded ---------------------------------------------------


def test_reprint_refused_without_confirmation_and_nothing_changes(shop_a, sub):
    waybill = numbered(shop_a, sub, "RP-1")
    print_pdf(shop_a, waybill)
    actor = main_actor(shop_a)
    printer = printers.printer_create(
        actor=actor,
        data={"name": "打包台", "kind": "escpos", "connection": "network",
              "host": "127.0.0.1", "port": 9100},
    )  # fmt: skip
    with pytest.raises(ReprintNotConfirmed) as refused:
        print_jobs.print_job_create(
            actor=actor, printer=printer, waybill_ids=[waybill.pk], ask_before_reprint=True
        )
    assert refused.value.code == "REPRINT_NOT_CONFIRMED" and refused.value.status == 409
    assert refused.value.detail == {"waybill_nos": [waybill.waybill_no]}
    with pytest.raises(ReprintNotConfirmed):
        labels_pdf(
            actor=actor, waybills=[Waybill.objects.get(pk=waybill.pk)], ask_before_reprint=True
        )
    assert PrintJob.objects.count() == 0
    assert Waybill.objects.get(pk=waybill.pk).print_count == 1
    assert reprint_events(waybill.order_id) == []

    # the page: without confirm=1 the answer is the confirmation, not a print
    client = owner_client(shop_a)
    url = f"/console/print/orders/{waybill.order_id}/print/"
    page = client.post(url, {"print_target": "pdf"})
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    body = page.content.decode()
    assert 'name="confirm" value="1"' in body and waybill.waybill_no in body
    fragment = client.post(url, {"print_target": "pdf"}, HTTP_HX_REQUEST="true")
    assert 'data-testid="reprint-confirm"' in fragment.content.decode()
    assert Waybill.objects.get(pk=waybill.pk).print_count == 1
    assert reprint_events(waybill.order_id) == []


def test_reprint_with_confirmation_prints_and_is_recorded_with_who(shop_a, sub):
    waybill = numbered(shop_a, sub, "RP-2")
    print_pdf(shop_a, waybill)
    client = owner_client(shop_a)
    answer = client.post(
        f"/console/print/orders/{waybill.order_id}/print/", {"print_target": "pdf", "confirm": "1"}
    )
    assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
    assert barcodes(answer.content) == {waybill.waybill_no}
    assert Waybill.objects.get(pk=waybill.pk).print_count == 2
    [event] = reprint_events(waybill.order_id)
    assert event.actor == "user:merchant-a"
    assert event.data == {"waybill_no": waybill.waybill_no, "carrier": "ZTO", "reprint": True}

    # a print job (the API's door prints as asked) is marked and recorded the same way
    with PrinterListener(PRINT) as listener:
        printer = printers.printer_create(
            actor=main_actor(shop_a),
            data={"name": "打包台", "kind": "escpos", "connection": "network",
                  "host": "127.0.0.1", "port": listener.port},
        )  # fmt: skip
        api = token_client(shop_a)
        created = api.post(
            "/api/v1/print-jobs/",
            {"printer": printer.pk, "waybills": [waybill.waybill_no]},
            format="json",
        )
        assert created.status_code == 201, created.content
    assert PrintDocument.objects.get(job_id=created.json()["id"]).is_reprint
    assert len(reprint_events(waybill.order_id)) == 2
    assert reprint_events(waybill.order_id)[1].actor.startswith("token#")


# --- 取号并打印 ---------------------------------------------------------------------------------


def test_allocate_and_print_as_pdf_draws_the_number_and_prints_it(shop_a, sub):
    order = make_order(shop_a, "AP-1")
    done = allocate_print.waybill_allocate_and_print(
        actor=main_actor(shop_a), order=order, subscription=sub.pk
    )
    [waybill] = Waybill.objects.filter(order=order)
    assert done.created and done.job is None and done.print_error is None
    assert [w.waybill_no for w in done.waybills] == [waybill.waybill_no]
    assert barcodes(done.pdf) == {waybill.waybill_no}  # no default printer: a PDF
    assert waybill.print_count == 1
    assert reprint_events(order.pk) == []  # a first print is no reprint

    # again: nothing is drawn, and the label printed before needs the confirmation
    with pytest.raises(ReprintNotConfirmed):
        allocate_print.waybill_allocate_and_print(
            actor=main_actor(shop_a), order=order, ask_before_reprint=True
        )
    assert Waybill.objects.filter(order=order).count() == 1
    assert Waybill.objects.get(pk=waybill.pk).print_count == 1


def test_allocate_and_print_goes_to_the_default_printer(shop_a, sub):
    order = make_order(shop_a, "AP-2")
    with PrinterListener(PRINT) as listener:
        printer = printers.printer_create(
            actor=main_actor(shop_a),
            data={"name": "打包台", "kind": "escpos", "connection": "network",
                  "host": "127.0.0.1", "port": listener.port, "is_default": True},
        )  # fmt: skip
        done = allocate_print.waybill_allocate_and_print(
            actor=main_actor(shop_a), order=order, subscription=sub.pk
        )
        assert done.pdf is None and done.job.printer_id == printer.pk
        assert print_jobs.print_job_send(job_id=done.job.pk) == "printed"
    waybill = Waybill.objects.get(order=order)
    assert [d.waybill_id for d in done.job.documents.all()] == [waybill.pk]
    assert waybill.print_count == 1
    assert len(listener.documents) == 1


def test_allocate_and_print_refused_before_drawing_when_the_label_cannot_print(shop_a, sub):
    order = make_order(shop_a, "AP-3")
    small = printers.printer_create(
        actor=main_actor(shop_a),
        data={"name": "小票机", "kind": "escpos", "connection": "network", "host": "127.0.0.1",
              "port": 9100, "paper_width_mm": 58, "paper_height_mm": 80},
    )  # fmt: skip
    client = owner_client(shop_a)
    answer = client.post(
        f"/console/print/orders/{order.pk}/allocate/",
        {"subscription": sub.pk, "print_target": small.pk},
        HTTP_HX_REQUEST="true",
    )
    assert answer.status_code == 409
    assert 'data-error-code="PAPER_SIZE_MISMATCH"' in answer.content.decode()
    assert not Waybill.objects.filter(order=order).exists()
    assert PrintJob.objects.count() == 0


# --- 批量取号并打印: the batch job, then its print jobs ---------------------------------------


def test_batch_allocate_and_print_sends_new_labels_and_never_reprints(shop_a, sub):
    printed_before = numbered(shop_a, sub, "BP-OLD")
    print_pdf(shop_a, printed_before)
    orders = [make_order(shop_a, f"BP-{i}") for i in range(3)]
    with PrinterListener(PRINT) as listener:
        printers.printer_create(
            actor=main_actor(shop_a),
            data={"name": "打包台", "kind": "escpos", "connection": "network",
                  "host": "127.0.0.1", "port": listener.port, "is_default": True},
        )  # fmt: skip
        client = owner_client(shop_a)
        ids = [o.pk for o in orders] + [printed_before.order_id]
        answer = client.post("/console/print/batch/", {"ids": ids, "subscription": sub.pk})
        assert answer.status_code == 302 and "batch_job=" in answer["Location"]
        job_id = int(answer["Location"].split("batch_job=")[1])
        assert job_run(job_id=job_id) == "succeeded"  # what the worker runs
        progress = client.get(f"/console/print/batch/{job_id}/").content.decode()
        [job] = PrintJob.objects.all()
        assert print_jobs.print_job_send(job_id=job.pk) == "printed"

    new = {o.pk: Waybill.objects.get(order=o) for o in orders}
    assert [d.waybill_id for d in job.documents.order_by("sequence")] == [
        new[o.pk].pk for o in orders
    ]
    assert [new[o.pk].print_count for o in orders] == [1, 1, 1]
    assert Waybill.objects.get(pk=printed_before.pk).print_count == 1  # not reprinted
    assert f"#{job.pk}" in progress and "BP-OLD" in progress  # listed as skipped
    assert "data-refresh-rows" in progress  # the list reloads its rows in place
    # the list keeps the batch's orders ticked
    listing = client.get(answer["Location"]).content.decode()
    for order_id in ids:
        assert f'value="{order_id}" class="row-check" checked' in listing
