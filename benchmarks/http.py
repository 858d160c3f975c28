"""(d) ``POST /api/v1/waybills/`` and (e) ``POST /api/v1/waybills/bulk/`` under gunicorn,
from bare-socket client processes.

gunicorn serves ``waybill_console.wsgi`` on a free port of 127.0.0.1 with the bench
database (``--http-workers`` processes of ``--http-worker-class``, ``--http-threads``
each for gthread) and ``API_RATE_LIMIT`` raised out of the way. Each client process
sends its untimed warm-up requests (opening the workers' database connections), waits at
the barrier, then its share of the timed ones, with one shop token and no
``Idempotency-Key`` unless ``--idempotency-key``:

* (d) one order per request, ``--http-warmup`` warm-up requests per client;
* (e) 50 orders per request (the way ERPs draw), ``--http-bulk-warmup`` warm-up requests
  per client; the figure counts numbers, not requests.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from benchmarks.common import child_env

BASE_DIR = Path(__file__).resolve().parent.parent
PATH = "/api/v1/waybills/"
BULK_PATH = "/api/v1/waybills/bulk/"
BULK = 50  # orders per (e) request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_command(
    port: int, *, workers: int, worker_class: str = "sync", threads: int = 1, timeout: int = 30
) -> list[str]:
    """gunicorn serving ``waybill_console.wsgi`` on 127.0.0.1 (the bench and the load test)."""
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "waybill_console.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--backlog",
        "2048",
        "--timeout",
        str(timeout),
        "--log-level",
        "warning",
    ]
    if worker_class == "gthread":
        cmd += ["--threads", str(threads)]
    return cmd


def wait_ready(port: int, proc, log: Path, timeout: float = 60) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def _stop(proc) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def gunicorn_serving(*, workers: int, worker_class: str, threads: int, clients: str):
    """A gunicorn of its own on a free port, ready; yields ``(port, proc)`` and stops it
    after, printing its log's tail when it wrote one."""
    port = _free_port()
    log = Path(tempfile.mkstemp(prefix="bench-gunicorn-", suffix=".log")[1])
    shown = f" × {threads} threads" if worker_class == "gthread" else ""
    print(
        f"  gunicorn: {workers} {worker_class} workers{shown} on 127.0.0.1:{port}; {clients}",
        flush=True,
    )
    with log.open("w") as out:
        proc = subprocess.Popen(
            gunicorn_command(port, workers=workers, worker_class=worker_class, threads=threads),
            cwd=BASE_DIR,
            env=child_env(API_RATE_LIMIT="1000000/min"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(port, proc, log)
        yield port, proc
    finally:
        _stop(proc)
        errors = log.read_text().strip()
        if errors:
            print(f"  gunicorn log (tail):\n{errors[-2000:]}")
        log.unlink(missing_ok=True)


def run(args, ctx, slices, kind: str = "http"):
    """Case (d) (``kind="http"``) or (e) (``"http_bulk"``) against a gunicorn of its own."""
    from benchmarks import seed
    from benchmarks.allocation import run_processes
    from benchmarks.cpu import children
    from shops.models import Shop

    key = seed.api_token(Shop.objects.get(pk=ctx.shop_id))
    with gunicorn_serving(
        workers=args.http_workers,
        worker_class=args.http_worker_class,
        threads=args.http_threads,
        clients=f"{len(slices)} client processes",
    ) as (port, proc):
        ctx.http = {
            "port": port,
            "key": key,
            "warmup": args.http_warmup,
            "bulk_warmup": args.http_bulk_warmup,
            "idempotency_key": args.idempotency_key,
        }
        outcome = run_processes(kind, ctx, slices, servers=children(proc.pid))
        outcome.block_holders = args.http_workers
        return outcome


def _poster(ctx, path: str):
    """``post(payload, key) -> (status, body)``: one request on a bare socket.

    A bare socket per request (``Connection: close``; gunicorn's sync workers close every
    connection anyway): the client processes share the two cores with the server, so the
    lighter they are the more of the machine the server gets, as with a load generator
    written in C."""
    port = ctx.http["port"]
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Authorization: Token {ctx.http['key']}\r\n"
        "Content-Type: application/json\r\n"
        "Accept: application/json\r\n"
        "Connection: close\r\n"
    )

    def post(payload: dict, key: str) -> tuple[int, bytes]:
        body = json.dumps(payload).encode()
        extra = f"Idempotency-Key: {key}\r\n" if ctx.http["idempotency_key"] else ""
        request = f"{head}{extra}Content-Length: {len(body)}\r\n\r\n".encode() + body
        with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
            conn.sendall(request)
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        answer = b"".join(chunks)
        if not answer.startswith(b"HTTP/1."):
            return 0, answer[:300]
        return int(answer[9:12]), answer.partition(b"\r\n\r\n")[2]

    return post


def client_worker(ctx, first: int, last: int, start) -> dict:
    """(d) One client process: warm-up requests, the barrier, then the timed requests,
    one order each. The answer's status line and body are read back and checked."""
    send = _poster(ctx, PATH)
    counts = {"ok": 0, "errors": 0, "first_error": "", "warmup": 0}

    def post(order_id: int) -> tuple[int, bytes]:
        return send({"order": order_id, "subscription": ctx.sub_id}, f"bench-{order_id}")

    def record(status: int, body: bytes, key: str) -> None:
        if status == 201 and b'"waybill_no"' in body:
            counts[key] += 1
        else:
            counts["errors"] += 1
            counts["first_error"] = counts["first_error"] or f"{status} {body[:300]!r}"

    ids = list(range(first, last + 1))
    warm, timed = ids[: ctx.http["warmup"]], ids[ctx.http["warmup"] :]
    for order_id in warm:
        record(*post(order_id), "warmup")
    start()
    for order_id in timed:
        record(*post(order_id), "ok")
    return counts


def bulk_client_worker(ctx, first: int, last: int, start) -> dict:
    """(e) One client process: ``--http-bulk-warmup`` untimed requests, the barrier, then
    its orders 50 a request. Every answer is read back: of a 200 with one result per order
    in request order, each result that drew a number now (``ok`` and ``created``) counts;
    every other order of the request counts as refused."""
    send = _poster(ctx, BULK_PATH)
    counts = {"ok": 0, "errors": 0, "first_error": "", "warmup": 0}

    def post(ids: list[int], bucket: str) -> None:
        status, body = send(
            {"orders": ids, "subscription": ctx.sub_id}, f"bench-bulk-{ids[0]}-{ids[-1]}"
        )
        try:
            results = json.loads(body)["results"] if status == 200 else []
        except (ValueError, KeyError):
            results = []
        if [r["order"] for r in results] != ids:  # one result per order, in request order
            results = []
        drawn = sum(1 for r in results if r["ok"] and r["created"])
        counts[bucket] += drawn
        if drawn < len(ids):
            counts["errors"] += len(ids) - drawn
            refused = next((r for r in results if not (r["ok"] and r["created"])), None)
            detail = json.dumps(refused, ensure_ascii=False) if refused else repr(body[:300])
            counts["first_error"] = counts["first_error"] or f"{status} {detail}"

    ids = list(range(first, last + 1))
    requests = [ids[i : i + BULK] for i in range(0, len(ids), BULK)]
    warm = ctx.http["bulk_warmup"]
    for part in requests[:warm]:
        post(part, "warmup")
    start()
    for part in requests[warm:]:
        post(part, "ok")
    return counts


#: the HTTP cases' client processes, by case
CLIENTS = {"http": client_worker, "http_bulk": bulk_client_worker}
