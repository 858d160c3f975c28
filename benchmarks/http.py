"""(d) ``POST /api/v1/waybills/`` under gunicorn, from keep-alive ``http.client`` processes.

gunicorn serves ``waybill_console.wsgi`` on a free port of 127.0.0.1 with the bench
database (``--http-workers`` processes of ``--http-worker-class``, ``--http-threads``
each for gthread) and ``API_RATE_LIMIT`` raised out of the way. Each client process
sends ``--http-warmup`` untimed requests (opening the workers' database connections),
waits at the barrier, then its share of the timed ones: one shop token, one order per
request, no ``Idempotency-Key`` unless ``--idempotency-key``.
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
from pathlib import Path

from benchmarks.common import child_env

BASE_DIR = Path(__file__).resolve().parent.parent
PATH = "/api/v1/waybills/"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _command(args, port: int) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "waybill_console.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.http_workers),
        "--worker-class",
        args.http_worker_class,
        "--backlog",
        "2048",
        "--log-level",
        "warning",
    ]
    if args.http_worker_class == "gthread":
        cmd += ["--threads", str(args.http_threads)]
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


def run(args, ctx, slices):
    from benchmarks import seed
    from benchmarks.allocation import run_processes
    from shops.models import Shop

    key = seed.api_token(Shop.objects.get(pk=ctx.shop_id))
    port = _free_port()
    log = Path(tempfile.mkstemp(prefix="bench-gunicorn-", suffix=".log")[1])
    threads = f" × {args.http_threads} threads" if args.http_worker_class == "gthread" else ""
    print(
        f"  gunicorn: {args.http_workers} {args.http_worker_class} workers{threads} on "
        f"127.0.0.1:{port}; {len(slices)} client processes",
        flush=True,
    )
    with log.open("w") as out:
        proc = subprocess.Popen(
            _command(args, port),
            cwd=BASE_DIR,
            env=child_env(API_RATE_LIMIT="1000000/min"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(port, proc, log)
        ctx.http = {
            "port": port,
            "key": key,
            "warmup": args.http_warmup,
            "idempotency_key": args.idempotency_key,
        }
        from benchmarks.cpu import children

        outcome = run_processes("http", ctx, slices, servers=children(proc.pid))
        outcome.block_holders = args.http_workers
        return outcome
    finally:
        _stop(proc)
        errors = log.read_text().strip()
        if errors:
            print(f"  gunicorn log (tail):\n{errors[-2000:]}")
        log.unlink(missing_ok=True)


def client_worker(ctx, first: int, last: int, start) -> dict:
    """One client process: warm-up requests, the barrier, then the timed requests."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", ctx.http["port"], timeout=60)
    headers = {
        "Authorization": f"Token {ctx.http['key']}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    counts = {"ok": 0, "errors": 0, "first_error": "", "warmup": 0, "reconnects": 0}

    def post(order_id: int) -> tuple[int, bytes]:
        body = json.dumps({"order": order_id, "subscription": ctx.sub_id})
        extra = {"Idempotency-Key": f"bench-{order_id}"} if ctx.http["idempotency_key"] else {}
        for attempt in (1, 2):
            try:
                conn.request("POST", PATH, body=body, headers={**headers, **extra})
                response = conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # the server closed an idle keep-alive connection: open a new one
                conn.close()
                counts["reconnects"] += 1
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    ids = list(range(first, last + 1))
    warm, timed = ids[: ctx.http["warmup"]], ids[ctx.http["warmup"] :]
    for order_id in warm:
        status, body = post(order_id)
        if status == 201:
            counts["warmup"] += 1
        else:
            counts["errors"] += 1
            counts["first_error"] = counts["first_error"] or f"{status} {body[:300]!r}"
    start()
    for order_id in timed:
        status, body = post(order_id)
        if status == 201:
            counts["ok"] += 1
        else:
            counts["errors"] += 1
            counts["first_error"] = counts["first_error"] or f"{status} {body[:300]!r}"
    conn.close()
    return counts
