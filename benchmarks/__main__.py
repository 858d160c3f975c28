"""``python -m benchmarks``: the order list page and the waybill engine on a throwaway database.

Creates the database ``waybill_bench`` on the configured PostgreSQL server (which must
listen on 127.0.0.1, as must Redis; Redis databases 13–15), migrates it, runs the chosen
sections, prints a table with PASS/MISS against each target, and drops the database
unless ``--keep`` is given. Sections (``--only``, default all):

* ``orders``     – the order list page (``seed_demo --orders N``, in-process requests);
* ``allocation`` – allocation throughput: ``single`` (raw SQL vs the service), ``batch``
  (raw SQL vs the service, 50 a transaction), ``http`` (the API under gunicorn, one order
  a request) and ``bulk`` (the API under gunicorn, 50 orders a request), then the
  invariants (no duplicate number, no negative balance, ledger = counters, one live
  number per order package);
* ``carrier``    – a batch of ``--carrier-orders`` through the Kuaidi100 adapter against a
  local stand-in answering after ``--carrier-latency`` seconds: one call at a time vs
  ``CARRIER_CONCURRENCY`` at once (:mod:`benchmarks.carrier`);
* ``recycle``    – the recycling sweep over ``--waybills`` bulk-inserted numbers;
* ``export``     – the reconciliation statement: CSV of ``--waybills`` rows (time, peak
  RSS of the exporting process) and XLSX of ``--xlsx-waybills`` rows;
* ``labels``     – labels per second per format (PDF, PNG, ESC/POS, TSPL, ZPL) on one core;
* ``webhooks``   – events delivered per second to a local receiver (a burst of ``--events``),
  and allocation throughput with webhooks off vs on (:mod:`benchmarks.webhooks`).

Speed never fails the run: the exit status is 1 only when an invariant is broken.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings

from benchmarks.common import (
    BASE_ENV,
    BENCH_DB,
    URL_ENV,
    Results,
    create_database,
    database_url,
    drop_database,
    header,
    refuse_remote,
)

SECTIONS = (
    "orders",
    "single",
    "batch",
    "http",
    "bulk",
    "carrier",
    "recycle",
    "export",
    "labels",
    "webhooks",
)
ALIASES = {"allocation": ("single", "batch", "http", "bulk"), "all": SECTIONS}


def _sections(value: str) -> list[str]:
    chosen: list[str] = []
    for name in (v.strip() for v in value.split(",") if v.strip()):
        for section in ALIASES.get(name, (name,)):
            if section not in SECTIONS:
                raise argparse.ArgumentTypeError(
                    f"unknown section {name!r}; choose from {', '.join(SECTIONS + tuple(ALIASES))}"
                )
            if section not in chosen:
                chosen.append(section)
    return [s for s in SECTIONS if s in chosen]


def _args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__.split("\n")[0].replace("``", ""),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--only",
        type=_sections,
        default=list(SECTIONS),
        metavar="SECTIONS",
        help="comma-separated: orders, single, batch, http, bulk, allocation "
        "(= single,batch,http,bulk), carrier, recycle, export, labels, webhooks, all",
    )
    g = parser.add_argument_group("order list page")
    g.add_argument("--orders", type=int, default=200_000, help="demo orders to seed")
    g.add_argument("--requests", type=int, default=20, help="timed requests per case")
    g.add_argument("--warmup", type=int, default=2, help="untimed requests per case")
    g = parser.add_argument_group("allocation")
    g.add_argument("--processes", type=int, default=8, help="client processes per case")
    g.add_argument(
        "--allocations", type=int, default=2000, help="single allocations per case, (a) and (b)"
    )
    g.add_argument(
        "--batch-allocations",
        type=int,
        default=5000,
        help="numbers per batch case, (a') and (c)",
    )
    g.add_argument("--http-requests", type=int, default=1000, help="timed API requests")
    g.add_argument("--http-warmup", type=int, default=5, help="untimed requests per client")
    g.add_argument(
        "--http-bulk-allocations",
        type=int,
        default=5000,
        help="timed numbers of case (e), 50 a request (rounded up to whole requests for "
        "every client)",
    )
    g.add_argument(
        "--http-bulk-warmup",
        type=int,
        default=1,
        help="untimed 50-order requests per client in case (e)",
    )
    g.add_argument("--http-workers", type=int, default=3, help="gunicorn workers")
    g.add_argument(
        "--http-worker-class", default="sync", choices=["sync", "gthread"], help="gunicorn"
    )
    g.add_argument("--http-threads", type=int, default=2, help="threads per gthread worker")
    g.add_argument(
        "--idempotency-key", action="store_true", help="send an Idempotency-Key per request"
    )
    g.add_argument(
        "--profile", action="store_true", help="cProfile one service process and print it"
    )
    g = parser.add_argument_group("recycling and export")
    g.add_argument(
        "--waybills", type=int, default=1_000_000, help="numbers for the sweep and CSV export"
    )
    g.add_argument("--xlsx-waybills", type=int, default=100_000, help="rows of the XLSX export")
    g.add_argument("--recycle-batch", type=int, default=5000, help="the sweep's batch size")
    parser.add_argument("--labels", type=int, default=300, help="labels per format")
    g = parser.add_argument_group("events out")
    g.add_argument("--events", type=int, default=10_000, help="events in the burst")
    g.add_argument(
        "--webhook-allocations",
        type=int,
        default=2000,
        help="numbers per round of (i), webhooks off and on (two rounds each)",
    )
    g = parser.add_argument_group("carrier API")
    g.add_argument("--carrier-orders", type=int, default=500, help="orders in the batch")
    g.add_argument(
        "--carrier-latency", type=float, default=0.2, help="seconds the carrier takes a call"
    )
    g.add_argument(
        "--carrier-http-requests", type=int, default=300, help="(g) single HTTP allocations"
    )
    g.add_argument("--carrier-clients", type=int, default=8, help="(g) client threads")
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DB} database")
    return parser.parse_args(argv)


def _run(args, results: Results) -> None:
    from django.core.management import call_command

    from benchmarks import allocation, export, orders, recycle, seed

    started = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    print(f"migrated in {time.monotonic() - started:.1f} s")
    seed.base()

    if "orders" in args.only:
        seeding = orders.seed(args)
        orders.run(args, results, seeding)
    cases = []
    if "single" in args.only:
        cases += ["raw", "service", "service_sql"]
    if "batch" in args.only:
        cases += ["raw_batch", "service_batch"]
    if "http" in args.only:
        cases += ["http"]
    if "bulk" in args.only:
        cases += ["http_bulk"]
    setup = allocation.run(args, results, cases) if cases else None
    if "webhooks" in args.only:
        from benchmarks import webhooks

        webhooks.run(args, results, setup or allocation.prepare(args, []))
    dataset = None
    if "carrier" in args.only:
        from benchmarks import carrier

        carrier.run(args, results)
    if "recycle" in args.only or "export" in args.only:
        dataset = recycle.seed_dataset(args)
    if "export" in args.only:
        export.run(args, results, dataset)
    if "recycle" in args.only:
        recycle.run(args, results, dataset)
    if "labels" in args.only:
        from benchmarks import labels

        labels.run(args, results)  # last: it pins this process to one core


def _load() -> str:
    """The 1/5/15-minute load averages: other work on the machine skews every figure."""
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv=None) -> None:
    args = _args(argv)
    for key, value in BASE_ENV.items():
        os.environ.setdefault(key, value)
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    media = tempfile.mkdtemp(prefix="waybill-bench-media-")
    os.environ["MEDIA_ROOT"] = media  # export files: gone with the run

    import django
    from django.conf import settings

    refuse_remote(settings)
    db = settings.DATABASES["default"]
    create_database(db)
    # Django connects lazily: point it at the bench database before anything connects.
    db["NAME"] = BENCH_DB
    os.environ[URL_ENV] = database_url(db)
    print(
        f"database {BENCH_DB} on {db['HOST']}:{db.get('PORT') or 5432}; sections: "
        f"{', '.join(args.only)}"
    )
    results = Results()
    started = time.monotonic()
    load_before = _load()
    try:
        django.setup()
        _run(args, results)
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep:
            print(f"kept database {BENCH_DB}")
        else:
            drop_database(db)
            print(f"dropped database {BENCH_DB}")
        shutil.rmtree(media, ignore_errors=True)
    header("summary")
    print(results.table())
    for note in results.notes:
        print(f"  {note}")
    print(
        f"\ntotal {time.monotonic() - started:.0f} s on {os.cpu_count()} CPUs; load average "
        f"{load_before} at the start, {_load()} at the end"
    )
    if results.failures:
        print(f"\nFAILED: {len(results.failures)} invariant(s) broken:")
        for failure in results.failures:
            print(f"  - {failure}")
        sys.exit(1)


if __name__ == "__main__":
    main()
