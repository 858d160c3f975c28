"""The print agent: its endpoints (claim, report, keys), and the real program
(``python -m print_agent``) started as a process against the running test server,
printing to a TCP listener that stands in for the packing PC's printer."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from printing import agents, print_jobs, printers
from printing.errors import PrintJobState
from printing.models import PrintAgent, PrintAttempt, Printer, PrintJob
from tests.conftest import main_actor, make_order, token_client
from tests.printing.decode import escpos_image, scan
from tests.printing.doubles import PRINT, PrinterListener, closed_port
from tests.waybills.conftest import open_service
from waybills.models import Waybill
from waybills.services import waybill_allocate

REPO = Path(__file__).resolve().parents[2]
NEXT = "/api/v1/agent/jobs/next/"


def draw(shop, sub, n: int = 1) -> list[Waybill]:
    return [
        waybill_allocate(actor=main_actor(shop), order=make_order(shop), subscription=sub).parent
        for _ in range(n)
    ]


def agent_printer(shop, agent: PrintAgent, target: str, name: str = "打包台打印机") -> Printer:
    return printers.printer_create(
        actor=main_actor(shop),
        data={"name": name, "kind": "escpos", "connection": "agent", "agent": agent.pk,
              "agent_target": target},
    )  # fmt: skip


def agent_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Agent {key}")
    return client


def numbers_in(stream: bytes) -> set[str]:
    return {text for fmt, text in scan(escpos_image(stream)) if fmt != "QRCode"}


def run_agent(server: str, key: str, *extra: str, timeout: float = 120):
    return subprocess.run(
        [sys.executable, "-m", "print_agent", "--server", server, "--key", key, *extra],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def printed_counts(waybills) -> list[int]:
    return [Waybill.objects.get(pk=w.pk).print_count for w in waybills]


# --- the real agent process against the live server -------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_agent_process_prints_a_job_to_its_local_printer(live_server, shop_a):
    sub = open_service(shop_a, "ZTO", balance=10)
    waybills = draw(shop_a, sub, 2)
    agent, key = agents.agent_create(actor=main_actor(shop_a), name="打包台 1")
    with PrinterListener(PRINT) as listener:
        printer = agent_printer(shop_a, agent, listener.target)
        job = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                    waybill_ids=[w.pk for w in waybills])  # fmt: skip
        assert job.status == "queued"

        done = run_agent(live_server.url, key, "--once", "--wait", "5")

    assert done.returncode == 0, done.stderr
    assert key not in done.stderr and key not in done.stdout  # the key is never logged
    job.refresh_from_db()
    assert job.status == "printed" and job.claimed_by_id == agent.pk
    assert [numbers_in(d) for d in listener.documents] == [{w.waybill_no} for w in waybills]
    [attempt] = job.attempts.all()
    assert (attempt.transport, attempt.outcome, attempt.confirmed) == ("agent", "ok", [1, 2])
    assert attempt.bytes_sent == sum(map(len, listener.documents))
    assert printed_counts(waybills) == [1, 1]
    body = token_client(shop_a).get(f"/api/v1/print-jobs/{job.pk}/").json()
    assert body["status"] == "printed" and body["claimed_by"] == "打包台 1"
    agent.refresh_from_db()
    assert agent.last_seen_at is not None


@pytest.mark.django_db(transaction=True)
def test_agent_process_reports_an_offline_printer_and_the_retry_prints(live_server, shop_a):
    sub = open_service(shop_a, "ZTO", balance=10)
    [waybill] = draw(shop_a, sub)
    agent, key = agents.agent_create(actor=main_actor(shop_a), name="打包台 2")
    printer = agent_printer(shop_a, agent, f"tcp://127.0.0.1:{closed_port()}")
    job = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                waybill_ids=[waybill.pk])  # fmt: skip

    failed = run_agent(live_server.url, key, "--once", "--wait", "5")

    assert failed.returncode == 1
    job.refresh_from_db()
    assert job.status == "failed" and job.error["code"] == "PRINTER_OFFLINE"
    assert "connection refused" in job.error["message"] or "连接被拒绝" in job.error["message"]
    assert printed_counts([waybill]) == [0]

    with PrinterListener(PRINT) as listener:
        printers.printer_update(actor=main_actor(shop_a), printer=printer,
                            data={"agent_target": listener.target})  # fmt: skip
        print_jobs.print_job_retry(actor=main_actor(shop_a), job=job)
        printed = run_agent(live_server.url, key, "--once", "--wait", "5")
    assert printed.returncode == 0, printed.stderr
    job.refresh_from_db()
    assert job.status == "printed"
    assert [a.outcome for a in job.attempts.order_by("id")] == ["failed", "ok"]
    assert [numbers_in(d) for d in listener.documents] == [{waybill.waybill_no}]
    assert printed_counts([waybill]) == [1]


@pytest.mark.django_db(transaction=True)
def test_running_agent_picks_up_a_job_created_while_it_waits(live_server, shop_a):
    sub = open_service(shop_a, "ZTO", balance=10)
    [waybill] = draw(shop_a, sub)
    agent, key = agents.agent_create(actor=main_actor(shop_a), name="打包台 3")
    with PrinterListener(PRINT) as listener:
        printer = agent_printer(shop_a, agent, listener.target)
        process = subprocess.Popen(
            [sys.executable, "-m", "print_agent", "--server", live_server.url, "--key", key,
             "--poll", "0.2", "--wait", "2"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            time.sleep(1)
            job = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                        waybill_ids=[waybill.pk])  # fmt: skip
            for _ in range(300):
                job.refresh_from_db()
                if job.status in ("printed", "failed"):
                    break
                time.sleep(0.1)
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert job.status == "printed", process.stderr.read()
    assert [numbers_in(d) for d in listener.documents] == [{waybill.waybill_no}]


# --- the agent's endpoints --------------------------------------------------------------------


@pytest.fixture
def agent_setup(shop_a):
    sub = open_service(shop_a, "ZTO", balance=20)
    agent, key = agents.agent_create(actor=main_actor(shop_a), name="打包台")
    printer = agent_printer(shop_a, agent, "tcp://192.168.1.50:9100")
    return sub, agent, key, printer


@pytest.mark.django_db
def test_claim_gives_the_oldest_job_once_with_its_documents(shop_a, agent_setup):
    sub, agent, key, printer = agent_setup
    api = agent_client(key)
    assert api.get(NEXT).status_code == 204
    a, b, c = draw(shop_a, sub, 3)
    first = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                  waybill_ids=[a.pk, b.pk])  # fmt: skip
    second = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                   waybill_ids=[c.pk])  # fmt: skip

    claimed = api.get(NEXT)
    assert claimed.status_code == 200
    body = claimed.json()
    assert body["job"] == first.pk
    assert body["printer"] == {"id": printer.pk, "name": printer.name, "kind": "escpos",
                               "target": "tcp://192.168.1.50:9100", "dpi": 203}  # fmt: skip
    assert [d["waybill_no"] for d in body["documents"]] == [a.waybill_no, b.waybill_no]
    stream = base64.b64decode(body["documents"][0]["data"])
    assert len(stream) == body["documents"][0]["size"] and numbers_in(stream) == {a.waybill_no}
    assert PrintJob.objects.get(pk=first.pk).status == "sending"
    assert PrintAttempt.objects.get(job=first).documents == [1, 2]

    assert api.get(NEXT).json()["job"] == second.pk
    assert api.get(NEXT).status_code == 204


@pytest.mark.django_db
def test_report_confirms_what_printed_and_retry_resends_the_rest(shop_a, agent_setup):
    sub, agent, key, printer = agent_setup
    waybills = draw(shop_a, sub, 3)
    job = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                waybill_ids=[w.pk for w in waybills])  # fmt: skip
    api = agent_client(key)
    body = api.get(NEXT).json()
    result = {
        "attempt": body["attempt"],
        "documents": [
            {"sequence": 1, "ok": True, "bytes_sent": 1000},
            {"sequence": 2, "ok": False, "bytes_sent": 300,
             "error": {"kind": "dropped", "detail": "reset", "sent": 300, "total": 1000}},
        ],
    }  # fmt: skip
    answer = api.post(f"/api/v1/agent/jobs/{job.pk}/result/", result, format="json")
    assert answer.status_code == 200 and answer.json() == {"job": job.pk, "status": "failed"}
    # the same report again (a retried POST) changes nothing
    assert api.post(f"/api/v1/agent/jobs/{job.pk}/result/", result, format="json").json() == {
        "job": job.pk,
        "status": "failed",
    }
    job.refresh_from_db()
    attempt = job.attempts.get()
    assert (attempt.confirmed, attempt.bytes_sent, attempt.outcome) == ([1], 1300, "failed")
    assert "300/1000" in attempt.reason and waybills[1].waybill_no in attempt.reason
    assert job.error["code"] == "PRINT_INTERRUPTED"
    assert printed_counts(waybills) == [1, 0, 0]

    print_jobs.print_job_retry(actor=main_actor(shop_a), job=job)
    again = api.get(NEXT).json()
    assert [d["sequence"] for d in again["documents"]] == [2, 3]
    api.post(
        f"/api/v1/agent/jobs/{job.pk}/result/",
        {"attempt": again["attempt"], "documents": [
            {"sequence": 2, "ok": True, "bytes_sent": 1000},
            {"sequence": 3, "ok": True, "bytes_sent": 1000}]},
        format="json",
    )  # fmt: skip
    job.refresh_from_db()
    assert job.status == "printed" and printed_counts(waybills) == [1, 1, 1]


@pytest.mark.django_db
def test_agent_keys_other_agents_and_tokens(shop_a, shop_b, agent_setup):
    sub, agent, key, printer = agent_setup
    [waybill] = draw(shop_a, sub)
    job = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                waybill_ids=[waybill.pk])  # fmt: skip
    # another shop's agent sees none of this shop's jobs, and cannot report on them
    _other, other_key = agents.agent_create(actor=main_actor(shop_b), name="B")
    assert agent_client(other_key).get(NEXT).status_code == 204
    attempt = agent_client(key).get(NEXT).json()["attempt"]
    foreign = agent_client(other_key).post(
        f"/api/v1/agent/jobs/{job.pk}/result/",
        {"attempt": attempt, "documents": [{"sequence": 1, "ok": True, "bytes_sent": 1}]},
        format="json",
    )
    assert foreign.status_code == 404
    # an API token is not an agent key, and an agent key opens nothing else
    assert token_client(shop_a).get(NEXT).status_code == 401
    assert agent_client(key).get("/api/v1/print-jobs/").status_code == 401
    assert agent_client("wbca_wrong").get(NEXT).status_code == 401
    # a revoked key stops at once
    agents.agent_revoke(actor=main_actor(shop_a), agent=agent)
    assert agent_client(key).get(NEXT).status_code == 401
    assert PrintJob.objects.get(pk=job.pk).attempts.get().confirmed == []


@pytest.mark.django_db
def test_a_claim_never_reported_fails_and_can_be_retried(shop_a, agent_setup):
    sub, agent, key, printer = agent_setup
    [waybill] = draw(shop_a, sub)
    job = print_jobs.print_job_create(actor=main_actor(shop_a), printer=printer,
                                waybill_ids=[waybill.pk])  # fmt: skip
    api = agent_client(key)
    api.get(NEXT)
    # too early: the agent may still be printing
    with pytest.raises(PrintJobState):
        print_jobs.print_job_retry(actor=main_actor(shop_a), job=PrintJob.objects.get(pk=job.pk))
    PrintJob.objects.filter(pk=job.pk).update(claimed_at=timezone.now() - timedelta(minutes=6))

    assert api.get(NEXT).status_code == 204  # the next poll notices the lost claim
    job.refresh_from_db()
    assert job.status == "failed" and job.attempts.get().outcome == "failed"
    print_jobs.print_job_retry(actor=main_actor(shop_a), job=job)
    assert api.get(NEXT).json()["documents"][0]["waybill_no"] == waybill.waybill_no


@pytest.mark.django_db
def test_agents_api_shows_the_key_once_and_revokes(shop_a):
    api = token_client(shop_a)
    created = api.post("/api/v1/printers/agents/", {"name": "打包台 9"}, format="json")
    assert created.status_code == 201 and created["Cache-Control"] == "no-store"
    key = created.json()["key"]
    assert key.startswith("wbca_") and created.json()["prefix"] == key[5:13]
    listed = api.get("/api/v1/printers/agents/").json()["results"]
    assert listed == [{k: v for k, v in created.json().items() if k != "key"}]
    assert agent_client(key).get(NEXT).status_code == 204
    revoked = api.post(f"/api/v1/printers/agents/{created.json()['id']}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert agent_client(key).get(NEXT).status_code == 401
    assert api.get("/api/v1/printers/agents/").json()["results"] == []


@pytest.mark.django_db(transaction=True)
def test_parallel_polls_never_claim_a_job_twice(shop_a):
    """Two PCs run the same agent key: four polls at once share the jobs, each job once."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    sub = open_service(shop_a, "ZTO", balance=20)
    agent, _key = agents.agent_create(actor=main_actor(shop_a), name="打包台")
    printer = agent_printer(shop_a, agent, "tcp://192.168.1.50:9100")
    created = {
        print_jobs.print_job_create(
            actor=main_actor(shop_a), printer=printer, waybill_ids=[w.pk]
        ).pk
        for w in draw(shop_a, sub, 8)
    }

    def poll() -> list[int]:
        got = []
        try:
            while (payload := agents.agent_job_claim(agent=agent)) is not None:
                got.append(payload["job"])
        finally:
            connection.close()
        return got

    with ThreadPoolExecutor(4) as pool:
        claimed = [job for result in pool.map(lambda _i: poll(), range(4)) for job in result]
    assert sorted(claimed) == sorted(created)
    assert PrintAttempt.objects.count() == 8
    assert set(PrintJob.objects.values_list("status", flat=True)) == {"sending"}


# --- the agent's own printer targets ----------------------------------------------------------


def test_agent_usb_target_writes_one_bulk_transfer_per_label(monkeypatch):
    from print_agent import printers as agent_printers
    from tests.printing.doubles import FakeUsbPrinterBackend

    backend = FakeUsbPrinterBackend(vendor_id=0x0416, product_id=0x5011)
    monkeypatch.setattr(agent_printers, "USB_BACKEND", backend)
    label = b"\x1b@" + bytes(range(256)) * 100
    assert agent_printers.send("usb://0416:5011", label) == len(label)
    assert backend.writes == [label]
    with pytest.raises(agent_printers.SendError) as missing:
        agent_printers.send("usb://04b8:0202", label)
    assert missing.value.kind == "offline" and "04b8:0202" in missing.value.detail
    with pytest.raises(agent_printers.SendError) as unknown:
        agent_printers.send("lpt://1", label)
    assert unknown.value.kind == "failed"
