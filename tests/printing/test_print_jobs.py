"""Print jobs on real bytes: a TCP listener on 127.0.0.1 stands in for the network printer,
a pyusb backend double for the USB one. One document per label, every attempt recorded,
a retry sends only what the printer did not confirm, prints counted on confirmation."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker

from carriers.models import Subscription
from printing import attempts, print_jobs, printers
from printing.errors import PrintTooMany
from printing.models import PrintAttempt, PrintDocument, Printer, PrintJob
from printing.transports import network, usb
from tests.conftest import main_actor, make_order, token_client
from tests.printing.decode import escpos_image, scan, tspl_image
from tests.printing.doubles import (
    DROP,
    HANG,
    PRINT,
    FakeUsbPrinterBackend,
    PrinterListener,
    closed_port,
)
from tests.waybills.conftest import open_service
from waybill_console.celery import app
from waybills.models import Waybill
from waybills.services import waybill_allocate, waybill_cancel

JOBS = "/api/v1/print-jobs/"
PRINTERS = "/api/v1/printers/"


def draw(shop, sub, n: int = 1) -> list[Waybill]:
    return [
        waybill_allocate(actor=main_actor(shop), order=make_order(shop), subscription=sub).parent
        for _ in range(n)
    ]


def network_printer(shop, port: int, *, name="打包台 1", kind="escpos", **extra) -> Printer:
    return printers.printer_create(
        actor=main_actor(shop),
        data={"name": name, "kind": kind, "connection": "network", "host": "127.0.0.1",
              "port": port, **extra},
    )  # fmt: skip


def usb_printer(shop, *, name="USB 打印机") -> Printer:
    return printers.printer_create(
        actor=main_actor(shop),
        data={"name": name, "kind": "escpos", "connection": "usb",
              "usb_vendor_id": "0416", "usb_product_id": "5011"},
    )  # fmt: skip


def numbers_in(stream: bytes, kind: str = "escpos") -> set[str]:
    """The barcodes a scanner reads off the label the printer received (not the QR code,
    which holds the order number)."""
    image = (escpos_image if kind == "escpos" else tspl_image)(stream)
    return {text for fmt, text in scan(image) if fmt != "QRCode"}


def printed_counts(waybills: list[Waybill]) -> list[int]:
    return [Waybill.objects.get(pk=w.pk).print_count for w in waybills]


@pytest.fixture
def sub(shop_a):
    return open_service(shop_a, "ZTO", balance=100)


# --- one document per label, counted on confirmation ------------------------------------------


@pytest.mark.django_db
def test_job_sends_each_label_on_its_own_connection_and_counts_each_print(shop_a, sub):
    waybills = draw(shop_a, sub, 3)
    with PrinterListener(PRINT) as listener:
        printer = network_printer(shop_a, listener.port)
        api = token_client(shop_a)
        created = api.post(
            JOBS, {"printer": printer.pk, "waybills": [w.waybill_no for w in waybills]},
            format="json",
        )  # fmt: skip
        assert created.status_code == 201, created.content
        body = created.json()
        assert body["status"] == "queued" and body["printed"] == {"confirmed": 0, "total": 3}
        assert [d["waybill_no"] for d in body["documents"]] == [w.waybill_no for w in waybills]
        assert [d["sequence"] for d in body["documents"]] == [1, 2, 3]

        assert print_jobs.print_job_send(job_id=body["id"]) == "printed"

    assert listener.connections == 3
    assert [numbers_in(doc) for doc in listener.documents] == [{w.waybill_no} for w in waybills]
    job = api.get(f"{JOBS}{body['id']}/").json()
    assert job["status"] == "printed" and job["error"] is None and job["finished_at"]
    assert all(d["confirmed"] and not d["is_reprint"] for d in job["documents"])
    [attempt] = job["attempts"]
    assert attempt["outcome"] == "ok" and attempt["reason"] == ""
    assert attempt["documents"] == [1, 2, 3] and attempt["confirmed"] == [1, 2, 3]
    assert attempt["bytes_sent"] == sum(len(d) for d in listener.documents)
    assert attempt["transport"] == "network"
    assert printed_counts(waybills) == [1, 1, 1]
    assert Subscription.objects.get(pk=sub.pk).printed_total == 3


@pytest.mark.django_db
def test_tspl_printer_gets_tspl(shop_a, sub):
    [waybill] = draw(shop_a, sub)
    with PrinterListener(PRINT) as listener:
        printer = network_printer(shop_a, listener.port, kind="tspl")
        job = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                    waybill_ids=[waybill.pk])  # fmt: skip
        print_jobs.print_job_send(job_id=job.pk)
    [stream] = listener.documents
    assert stream.startswith(b"SIZE 100 mm,150 mm")
    assert numbers_in(stream, "tspl") == {waybill.waybill_no}


@pytest.mark.django_db
def test_reprint_is_marked_on_the_document(shop_a, sub):
    first, second = draw(shop_a, sub, 2)
    with PrinterListener(PRINT) as listener:
        printer = network_printer(shop_a, listener.port)
        one = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                    waybill_ids=[first.pk])  # fmt: skip
        print_jobs.print_job_send(job_id=one.pk)
        again = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                      waybill_ids=[first.pk, second.pk])  # fmt: skip
        print_jobs.print_job_send(job_id=again.pk)
    marks = list(again.documents.order_by("sequence").values_list("is_reprint", flat=True))
    assert marks == [True, False]
    assert printed_counts([first, second]) == [2, 1]
    body = token_client(shop_a).get(f"{JOBS}{again.pk}/").json()
    assert [d["is_reprint"] for d in body["documents"]] == [True, False]


# --- failures and retries ---------------------------------------------------------------------


@pytest.mark.django_db
def test_offline_printer_fails_the_attempt_with_a_clear_reason(shop_a, sub):
    waybills = draw(shop_a, sub, 2)
    printer = network_printer(shop_a, closed_port())
    job = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                waybill_ids=[w.pk for w in waybills])  # fmt: skip

    assert print_jobs.print_job_send(job_id=job.pk) == "failed"

    job.refresh_from_db()
    assert job.status == "failed" and job.error["code"] == "PRINTER_OFFLINE"
    [attempt] = job.attempts.all()
    assert attempt.outcome == "failed" and attempt.finished_at
    assert attempt.documents == [1, 2] and attempt.confirmed == [] and attempt.bytes_sent == 0
    assert waybills[0].waybill_no in attempt.reason
    assert "connection refused" in attempt.reason or "连接被拒绝" in attempt.reason
    assert printed_counts(waybills) == [0, 0]
    assert not PrintDocument.objects.filter(job=job, confirmed_at__isnull=False).exists()


@pytest.mark.django_db
def test_dropped_connection_stops_the_attempt_and_retry_sends_only_the_rest(shop_a, sub):
    waybills = draw(shop_a, sub, 3)
    with PrinterListener(PRINT, DROP, PRINT, drop_after=500) as listener:
        printer = network_printer(shop_a, listener.port)
        job = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                    waybill_ids=[w.pk for w in waybills])  # fmt: skip
        assert print_jobs.print_job_send(job_id=job.pk) == "failed"

        assert listener.connections == 2  # the third label was not tried
        job.refresh_from_db()
        assert job.error["code"] == "PRINT_INTERRUPTED"
        assert job.error["detail"]["sequence"] == 2
        first = job.attempts.get()
        assert first.outcome == "failed" and first.confirmed == [1]
        sent, total = job.error["detail"]["sent"], job.error["detail"]["total"]
        assert f"{sent}/{total}" in first.reason and waybills[1].waybill_no in first.reason
        assert first.bytes_sent == len(listener.documents[0]) + sent
        assert printed_counts(waybills) == [1, 0, 0]

        api = token_client(shop_a)
        retried = api.post(f"{JOBS}{job.pk}/retry/")
        assert retried.status_code == 200 and retried.json()["status"] == "queued"
        assert print_jobs.print_job_send(job_id=job.pk) == "printed"

    # the retry sent labels 2 and 3 only: label 1 was never printed twice
    assert listener.connections == 4
    assert [numbers_in(d) for d in listener.documents] == [
        {waybills[0].waybill_no}, {waybills[1].waybill_no}, {waybills[2].waybill_no}
    ]  # fmt: skip
    body = api.get(f"{JOBS}{job.pk}/").json()
    assert body["status"] == "printed" and body["error"] is None
    assert [(a["documents"], a["confirmed"], a["outcome"]) for a in body["attempts"]] == [
        ([1, 2, 3], [1], "failed"),
        ([2, 3], [2, 3], "ok"),
    ]
    assert body["attempts"][1]["bytes_sent"] == len(listener.documents[1]) + len(
        listener.documents[2]
    )
    assert printed_counts(waybills) == [1, 1, 1]
    assert Subscription.objects.get(pk=sub.pk).printed_total == 3


@pytest.mark.django_db
def test_printer_that_never_confirms_counts_no_print(shop_a, sub, monkeypatch):
    monkeypatch.setattr(network, "CONFIRM_TIMEOUT", 0.5)
    [waybill] = draw(shop_a, sub)
    with PrinterListener(HANG) as listener:
        printer = network_printer(shop_a, listener.port)
        job = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                    waybill_ids=[waybill.pk])  # fmt: skip
        assert print_jobs.print_job_send(job_id=job.pk) == "failed"
    job.refresh_from_db()
    assert job.error["code"] == "PRINT_NOT_CONFIRMED"
    assert job.attempts.get().bytes_sent == len(listener.documents[0])
    assert printed_counts([waybill]) == [0]


@pytest.mark.django_db
def test_a_printed_job_cannot_be_retried(shop_a, sub):
    [waybill] = draw(shop_a, sub)
    with PrinterListener(PRINT) as listener:
        printer = network_printer(shop_a, listener.port)
        job = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                    waybill_ids=[waybill.pk])  # fmt: skip
        print_jobs.print_job_send(job_id=job.pk)
    response = token_client(shop_a).post(f"{JOBS}{job.pk}/retry/")
    assert response.status_code == 409 and response.json()["code"] == "PRINT_JOB_STATE"
    assert PrintJob.objects.get(pk=job.pk).status == "printed"
    assert job.attempts.count() == 1


@pytest.mark.django_db
def test_a_dead_senders_attempt_is_closed_and_the_job_can_be_retried(shop_a, sub):
    """A worker died mid-job (the job is sending, its attempt open, nobody holds the job's
    lock): the redelivered task closes the attempt as failed; a retry sends the rest."""
    waybills = draw(shop_a, sub, 2)
    with PrinterListener(PRINT) as listener:
        printer = network_printer(shop_a, listener.port)
        job = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                    waybill_ids=[w.pk for w in waybills])  # fmt: skip
        attempts.start_attempt(job.pk, transport="network")  # the dead worker's claim

        assert print_jobs.print_job_send(job_id=job.pk) == "failed"
        job.refresh_from_db()
        assert job.status == "failed" and job.error["code"] == "PRINT_INTERRUPTED"
        assert job.attempts.get().outcome == "failed"

        print_jobs.print_job_retry(actor=main_actor(shop_a), job=job)
        assert print_jobs.print_job_send(job_id=job.pk) == "printed"
    assert listener.connections == 2
    assert printed_counts(waybills) == [1, 1]


@pytest.mark.django_db
def test_a_second_delivery_of_a_finished_job_does_nothing(shop_a, sub):
    [waybill] = draw(shop_a, sub)
    with PrinterListener(PRINT) as listener:
        printer = network_printer(shop_a, listener.port)
        job = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                    waybill_ids=[waybill.pk])  # fmt: skip
        assert print_jobs.print_job_send(job_id=job.pk) == "printed"
        assert print_jobs.print_job_send(job_id=job.pk) == "printed"
    assert listener.connections == 1 and printed_counts([waybill]) == [1]


# --- USB --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_usb_printer_job_writes_each_label_and_retries_only_the_unconfirmed(
    shop_a, sub, monkeypatch
):
    backend = FakeUsbPrinterBackend(vendor_id=0x0416, product_id=0x5011, fail_on_write=2)
    monkeypatch.setattr(usb, "BACKEND", backend)
    waybills = draw(shop_a, sub, 3)
    printer = usb_printer(shop_a)
    job = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                waybill_ids=[w.pk for w in waybills])  # fmt: skip

    assert print_jobs.print_job_send(job_id=job.pk) == "failed"
    job.refresh_from_db()
    first = job.attempts.get()
    assert (first.transport, first.confirmed, first.outcome) == ("usb", [1], "failed")
    assert "Pipe error" in first.reason or "连接中断" in first.reason
    assert [numbers_in(w) for w in backend.writes] == [{waybills[0].waybill_no}]

    print_jobs.print_job_retry(actor=main_actor(shop_a), job=job)
    assert print_jobs.print_job_send(job_id=job.pk) == "printed"
    assert [numbers_in(w) for w in backend.writes] == [{w.waybill_no} for w in waybills]
    second = job.attempts.order_by("id").last()
    assert second.documents == [2, 3] and second.bytes_sent == sum(map(len, backend.writes[1:]))
    assert printed_counts(waybills) == [1, 1, 1]


@pytest.mark.django_db
def test_usb_printer_not_plugged_in_is_offline(shop_a, sub, monkeypatch):
    monkeypatch.setattr(usb, "BACKEND", FakeUsbPrinterBackend(vendor_id=0x04B8))
    [waybill] = draw(shop_a, sub)
    job = print_jobs.print_job_create(actor=main_actor(shop_a), printer=usb_printer(shop_a),
                                waybill_ids=[waybill.pk])  # fmt: skip
    assert print_jobs.print_job_send(job_id=job.pk) == "failed"
    job.refresh_from_db()
    assert job.error["code"] == "PRINTER_OFFLINE" and "0416:5011" in job.attempts.get().reason


# --- creating jobs: limits, checks, other shops -----------------------------------------------


@pytest.mark.django_db
def test_more_than_50_labels_is_refused(shop_a, sub):
    printer = network_printer(shop_a, 9100)
    api = token_client(shop_a)
    response = api.post(JOBS, {"printer": printer.pk, "waybills": [str(i) for i in range(51)]},
                        format="json")  # fmt: skip
    assert response.status_code == 400 and response.json()["code"] == "BATCH_TOO_LARGE"
    with pytest.raises(PrintTooMany):
        print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                              waybill_ids=list(range(1, 52)))  # fmt: skip
    assert not PrintJob.objects.exists()


@pytest.mark.django_db
def test_fifty_labels_make_one_job_of_fifty_documents(shop_a, sub):
    waybills = draw(shop_a, sub, 50)
    printer = network_printer(shop_a, 9100)
    response = token_client(shop_a).post(
        JOBS, {"printer": printer.pk, "waybills": [w.waybill_no for w in waybills]}, format="json"
    )
    assert response.status_code == 201
    assert PrintDocument.objects.filter(job_id=response.json()["id"]).count() == 50


@pytest.mark.django_db
def test_a_retried_create_with_the_same_idempotency_key_makes_one_job(shop_a, sub):
    [waybill] = draw(shop_a, sub)
    printer = network_printer(shop_a, 9100)
    api = token_client(shop_a)
    body = {"printer": printer.pk, "waybills": [waybill.waybill_no]}
    first = api.post(JOBS, body, format="json", HTTP_IDEMPOTENCY_KEY="print-1")
    again = api.post(JOBS, body, format="json", HTTP_IDEMPOTENCY_KEY="print-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert PrintJob.objects.count() == 1


@pytest.mark.django_db
def test_unknown_or_cancelled_waybills_are_refused(shop_a, sub):
    live, cancelled = draw(shop_a, sub, 2)
    waybill_cancel(actor=main_actor(shop_a), waybill=cancelled)
    printer = network_printer(shop_a, 9100)
    api = token_client(shop_a)
    unknown = api.post(JOBS, {"printer": printer.pk, "waybills": [live.waybill_no, "NOPE1"]},
                       format="json")  # fmt: skip
    assert unknown.status_code == 400 and "waybills" in unknown.json()["detail"]
    dead = api.post(JOBS, {"printer": printer.pk, "waybills": [cancelled.waybill_no]},
                    format="json")  # fmt: skip
    assert dead.status_code == 409 and dead.json()["code"] == "WAYBILL_NOT_PRINTABLE"
    assert dead.json()["detail"]["waybill_no"] == cancelled.waybill_no
    assert not PrintJob.objects.exists()


@pytest.mark.django_db
def test_label_larger_than_the_paper_is_refused_before_queueing(shop_a, sub):
    [waybill] = draw(shop_a, sub)
    printer = network_printer(shop_a, 9100, paper_width_mm=76, paper_height_mm=130)
    response = token_client(shop_a).post(
        JOBS, {"printer": printer.pk, "waybills": [waybill.waybill_no]}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "PAPER_SIZE_MISMATCH"
    assert not PrintJob.objects.exists()


@pytest.mark.django_db
def test_another_shops_printer_and_job_are_not_found(shop_a, shop_b, sub):
    [waybill] = draw(shop_a, sub)
    printer = network_printer(shop_a, closed_port())
    job = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                waybill_ids=[waybill.pk])  # fmt: skip
    other = token_client(shop_b)
    mine = network_printer(shop_b, 9100, name="B 的打印机")
    assert other.get(f"{JOBS}{job.pk}/").status_code == 404
    assert other.post(f"{JOBS}{job.pk}/retry/").status_code == 404
    assert other.post(f"{PRINTERS}{printer.pk}/test/").status_code == 404
    assert other.get(f"{PRINTERS}{printer.pk}/").status_code == 404
    assert other.delete(f"{PRINTERS}{printer.pk}/").status_code == 404
    taken = other.post(JOBS, {"printer": printer.pk, "waybills": [waybill.waybill_no]},
                       format="json")  # fmt: skip
    assert taken.status_code == 404
    # shop B's own printer cannot print shop A's numbers either
    foreign = other.post(JOBS, {"printer": mine.pk, "waybills": [waybill.waybill_no]},
                         format="json")  # fmt: skip
    assert foreign.status_code == 400
    assert [p["id"] for p in other.get(PRINTERS).json()["results"]] == [mine.pk]
    assert other.get(JOBS).json()["results"] == []
    assert PrintJob.objects.count() == 1 and Printer.objects.filter(pk=printer.pk).exists()


@pytest.mark.django_db
def test_printing_needs_the_print_permission(shop_a, sub):
    printer = network_printer(shop_a, 9100)
    api = token_client(shop_a, scopes=["order.manage"])
    assert (
        api.post(JOBS, {"printer": printer.pk, "waybills": ["1"]}, format="json").json()["code"]
        == "PERMISSION_DENIED"
    )


# --- printers ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_printers_api_create_validate_default_and_delete(shop_a):
    api = token_client(shop_a)
    missing = api.post(PRINTERS, {"name": "P1", "kind": "escpos", "connection": "network"},
                       format="json")  # fmt: skip
    assert missing.status_code == 400 and list(missing.json()["detail"]) == ["host"]
    bad = api.post(PRINTERS, {"name": "P1", "kind": "pcl", "connection": "usb"}, format="json")
    assert set(bad.json()["detail"]) == {"kind"}
    first = api.post(
        PRINTERS,
        {"name": "P1", "kind": "escpos", "connection": "network", "host": "192.168.1.50",
         "port": 9100, "dpi": 300, "offset_x_mm": "1.5", "offset_y_mm": -2},
        format="json",
    )  # fmt: skip
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["host"], body["port"], body["dpi"], body["is_default"]) == (
        "192.168.1.50", 9100, 300, True
    )  # fmt: skip
    assert (body["offset_x_mm"], body["offset_y_mm"]) == ("1.5", "-2.0")
    second = api.post(
        PRINTERS,
        {"name": "USB", "kind": "tspl", "connection": "usb", "usb_vendor_id": "0416",
         "usb_product_id": "5011"},
        format="json",
    ).json()  # fmt: skip
    assert second["is_default"] is False and second["usb_vendor_id"] == "0416"
    duplicate = api.post(PRINTERS, {"name": "P1", "kind": "escpos", "connection": "network",
                                    "host": "h"}, format="json")  # fmt: skip
    assert duplicate.status_code == 400 and "name" in duplicate.json()["detail"]
    changed = api.patch(f"{PRINTERS}{second['id']}/", {"is_default": True}, format="json")
    assert changed.json()["is_default"] is True
    assert list(Printer.objects.filter(is_default=True).values_list("name", flat=True)) == ["USB"]
    assert api.delete(f"{PRINTERS}{body['id']}/").status_code == 204
    assert [p["name"] for p in api.get(PRINTERS).json()["results"]] == ["USB"]


@pytest.mark.django_db
def test_printer_with_a_job_in_progress_cannot_be_deleted(shop_a, sub):
    [waybill] = draw(shop_a, sub)
    printer = network_printer(shop_a, 9100)
    print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer, waybill_ids=[waybill.pk])
    response = token_client(shop_a).delete(f"{PRINTERS}{printer.pk}/")
    assert response.status_code == 409 and response.json()["code"] == "PRINTER_BUSY"
    assert Printer.objects.filter(pk=printer.pk).exists()


@pytest.mark.django_db
def test_test_print_is_queued_at_once_and_the_worker_sends_a_sample_label(shop_a):
    api = token_client(shop_a)
    with PrinterListener(PRINT) as listener:
        printer = network_printer(shop_a, listener.port)
        response = api.post(f"{PRINTERS}{printer.pk}/test/")
        assert response.status_code == 201
        body = response.json()
        assert body["is_test"] is True and body["status"] == "queued"
        assert body["attempts"] == [] and listener.connections == 0  # the request sent nothing
        assert print_jobs.print_job_send(job_id=body["id"]) == "printed"  # the worker's task
    body = api.get(f"{JOBS}{body['id']}/").json()
    assert body["status"] == "printed"
    assert body["documents"] == [
        {"sequence": 1, "waybill_no": None, "carrier": None, "is_reprint": False,
         "confirmed": True, "confirmed_at": body["documents"][0]["confirmed_at"]}
    ]  # fmt: skip
    [stream] = listener.documents
    assert numbers_in(stream) == {"73100000000019"}  # the sample label's number


@pytest.mark.django_db
def test_test_print_to_an_offline_printer_says_why(shop_a):
    printer = network_printer(shop_a, closed_port())
    api = token_client(shop_a)
    job_id = api.post(f"{PRINTERS}{printer.pk}/test/").json()["id"]
    assert print_jobs.print_job_send(job_id=job_id) == "failed"
    body = api.get(f"{JOBS}{job_id}/").json()
    assert body["status"] == "failed" and body["error"]["code"] == "PRINTER_OFFLINE"
    assert body["attempts"][0]["reason"]


# --- the Celery worker ------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_job_queued_by_the_api(shop_a):
    sub = open_service(shop_a, "ZTO", balance=10)
    waybills = draw(shop_a, sub, 2)
    api = token_client(shop_a)
    with PrinterListener(PRINT) as listener:
        printer = network_printer(shop_a, listener.port)
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            created = api.post(JOBS, {"printer": printer.pk,
                                      "waybills": [w.waybill_no for w in waybills]},
                               format="json")  # fmt: skip
            assert created.status_code == 201
            for _ in range(300):
                body = api.get(f"{JOBS}{created.json()['id']}/").json()
                if body["status"] in ("printed", "failed"):
                    break
                time.sleep(0.1)
    assert body["status"] == "printed", body
    assert [numbers_in(d) for d in listener.documents] == [{w.waybill_no} for w in waybills]
    assert printed_counts(waybills) == [1, 1]
    assert PrintAttempt.objects.get().bytes_sent == sum(map(len, listener.documents))


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_print_job_whose_message_was_lost_is_sent_by_the_sweep(shop_a, settings):
    """The task message is gone (purged from the real broker, as after a broker loss): the
    beat sweep sends the stalled job again, once per stall time, and a worker prints it."""
    from datetime import timedelta

    from django.utils import timezone

    settings.JOB_STALL_SECONDS = 60
    sub = open_service(shop_a, "ZTO", balance=10)
    waybills = draw(shop_a, sub, 2)
    with PrinterListener(PRINT) as listener:
        printer = network_printer(shop_a, listener.port)
        job = print_jobs.print_job_create(
            actor=main_actor(shop_a), printer=printer, waybill_ids=[w.pk for w in waybills]
        )
        app.control.purge()  # the message is lost
        assert print_jobs.print_jobs_requeue_stalled() == []  # not stalled yet
        PrintJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=5))
        assert print_jobs.print_jobs_requeue_stalled() == [job.pk]
        assert print_jobs.print_jobs_requeue_stalled() == []  # once per stall time
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            for _ in range(300):
                job.refresh_from_db()
                if job.status in ("printed", "failed"):
                    break
                time.sleep(0.1)
    assert job.status == "printed"
    assert [numbers_in(d) for d in listener.documents] == [{w.waybill_no} for w in waybills]
    assert printed_counts(waybills) == [1, 1]
