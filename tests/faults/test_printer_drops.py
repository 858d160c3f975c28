"""A network printer that drops the connection mid-job, through the running app: the API
queues the job, a Celery worker process sends it over TCP, the printer resets the
connection in the middle of the second label.

The transport and the job's bookkeeping are covered in detail in
``tests/printing/test_transports.py::test_network_connection_dropped_mid_document`` and
``tests/printing/test_print_jobs.py::test_dropped_connection_stops_the_attempt_and_retry_sends_only_the_rest``
(in process); this is the same fault end to end, between separate processes."""

from __future__ import annotations

from tests.faults.helpers import fault_orders, subscription
from tests.faults.servers import wait_for
from tests.printing.decode import escpos_image, scan
from tests.printing.doubles import DROP, PRINT, PrinterListener

TIMEOUT = 10


def _numbers_in(stream: bytes) -> set[str]:
    return {text for fmt, text in scan(escpos_image(stream)) if fmt != "QRCode"}


def test_printer_dropping_mid_job_fails_the_attempt_and_the_retry_prints_only_the_rest(app):
    db = app.db()
    sub_id, _ = subscription(db)
    order_ids = fault_orders(db, 3, offset=700)
    db.close()
    api = app.api(app.token)
    numbers = []
    for order_id in order_ids:
        drawn = api.post(
            f"{app.base}/api/v1/waybills/",
            json={"order": order_id, "subscription": sub_id},
            timeout=TIMEOUT,
        )
        assert drawn.status_code == 201, drawn.text
        numbers.append(drawn.json()["waybill_no"])
    app.start_worker()

    def job_done(job_id):
        body = api.get(f"{app.base}/api/v1/print-jobs/{job_id}/", timeout=TIMEOUT).json()
        return body if body["status"] in ("printed", "failed") else None

    with PrinterListener(PRINT, DROP, PRINT, drop_after=500) as printer:
        created = api.post(
            f"{app.base}/api/v1/printers/",
            json={"name": "打包台 1", "kind": "escpos", "connection": "network",
                  "host": printer.host, "port": printer.port},
            timeout=TIMEOUT,
        )  # fmt: skip
        assert created.status_code == 201, created.text
        queued = api.post(
            f"{app.base}/api/v1/print-jobs/",
            json={"printer": created.json()["id"], "waybills": numbers},
            timeout=TIMEOUT,
        )
        assert queued.status_code == 201, queued.text
        job_id = queued.json()["id"]
        failed = wait_for(lambda: job_done(job_id), timeout=60, what="the first attempt")

        assert failed["status"] == "failed" and failed["error"]["code"] == "PRINT_INTERRUPTED"
        assert failed["error"]["detail"]["sequence"] == 2
        assert printer.connections == 2  # the third label was not tried
        assert len(printer.partial) == 1 and len(printer.partial[0]) == 500
        [attempt] = failed["attempts"]
        assert (attempt["documents"], attempt["confirmed"], attempt["outcome"]) == (
            [1, 2, 3],
            [1],
            "failed",
        )
        assert [_print_count(api, app, n) for n in numbers] == [1, 0, 0]

        retried = api.post(f"{app.base}/api/v1/print-jobs/{job_id}/retry/", timeout=TIMEOUT)
        assert retried.status_code == 200, retried.text
        printed = wait_for(lambda: job_done(job_id), timeout=60, what="the retry")

    assert printed["status"] == "printed" and printed["error"] is None
    assert [(a["documents"], a["confirmed"], a["outcome"]) for a in printed["attempts"]] == [
        ([1, 2, 3], [1], "failed"),
        ([2, 3], [2, 3], "ok"),
    ]
    # label 1 once, then labels 2 and 3: nothing printed twice, nothing missing
    assert [_numbers_in(d) for d in printer.documents] == [{n} for n in numbers]
    assert [_print_count(api, app, n) for n in numbers] == [1, 1, 1]


def _print_count(api, app, waybill_no: str) -> int:
    return api.get(f"{app.base}/api/v1/waybills/{waybill_no}/", timeout=TIMEOUT).json()[
        "print_count"
    ]
