"""`make run`: the web server, the Celery workers and beat, all stopped by one Ctrl-C.

Started after the private servers (if any), migrations and the demo seed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def main() -> int:
    port = os.environ.get("PORT", "8000")
    host = os.environ.get("HOST", "127.0.0.1")
    py = sys.executable
    var = BASE_DIR / "var"
    var.mkdir(exist_ok=True)
    commands = {
        "web": [
            py,
            "-m",
            "gunicorn",
            "waybill_console.wsgi",
            "--bind",
            f"{host}:{port}",
            "--workers",
            os.environ.get("WEB_CONCURRENCY", "3"),
            "--threads",
            os.environ.get("WEB_THREADS", "4"),
            "--access-logfile",
            "-",
            "--timeout",
            "120",
        ],
        "worker": [
            py,
            "-m",
            "celery",
            "-A",
            "waybill_console",
            "worker",
            "--loglevel",
            "INFO",
            "-Q",
            "celery",
            "--concurrency",
            os.environ.get("WORKER_CONCURRENCY", "2"),
        ],
        # webhooks and notifications on their own queue: a burst of deliveries never
        # holds the workers that allocate and print
        "events": [
            py,
            "-m",
            "celery",
            "-A",
            "waybill_console",
            "worker",
            "--loglevel",
            "INFO",
            "-Q",
            "events",
            "-n",
            "events@%h",
            "--concurrency",
            os.environ.get("EVENTS_WORKER_CONCURRENCY", "1"),
        ],
        "beat": [
            py,
            "-m",
            "celery",
            "-A",
            "waybill_console",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(var / "celerybeat-schedule"),
        ],
    }
    procs: dict[str, subprocess.Popen] = {}
    for name, cmd in commands.items():
        procs[name] = subprocess.Popen(cmd, cwd=BASE_DIR, start_new_session=True)

    stopping = False

    def stop(*_):
        nonlocal stopping
        if stopping:
            return
        stopping = True
        print("\nstopping web, workers and beat…", flush=True)
        for p in procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    time.sleep(2)
    print(
        f"""
Waybill Console is running: http://{host}:{port}/
  API docs: http://{host}:{port}/api/v1/docs/
  Demo logins (password for all: waybill-demo):
    merchant  main account of shops 100001 and 100002
    packer    sub-account of 100001
    factory   factory 200001
    ops       operator staff, Django admin at http://{host}:{port}/admin/
Press Ctrl-C to stop.
""",
        flush=True,
    )
    code = 0
    while any(p.poll() is None for p in procs.values()):
        for name, p in procs.items():
            if p.poll() is not None and not stopping:
                print(f"{name} exited with {p.returncode}; stopping the rest", flush=True)
                code = p.returncode or 1
                stop()
        time.sleep(0.5)
    deadline = time.time() + 15
    for p in procs.values():
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
    print(private_servers_notice(), flush=True)
    return code


def private_servers_notice() -> str:
    """What is still running once web, worker and beat have stopped (Ctrl-C or a crash)."""
    from waybill_console import devservices

    running = [
        name
        for name, port in (
            ("PostgreSQL", devservices.pg_running()),
            ("Redis", devservices.redis_running()),
        )
        if port
    ]
    if not running:
        return "web, workers and beat stopped."
    return (
        f"web, workers and beat stopped. The private {' and '.join(running)} under var/ keep "
        "running (the next `make run` starts faster);\n"
        "stop them with: make services-down"
    )


if __name__ == "__main__":
    sys.exit(main())
