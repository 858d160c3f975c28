"""``python -m bench``: time the order list page on a freshly seeded throwaway database.

Creates the database ``waybill_bench`` on the configured PostgreSQL server (which must
listen on 127.0.0.1, as must Redis), migrates it, runs ``seed_demo`` with ``--orders N``
(default 200,000), then requests each case in-process with ``django.test.Client`` as the
demo merchant (shop 100001) and prints the server time per request. The database is
dropped at the end unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from urllib.parse import urlparse

BENCH_DB = "waybill_bench"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def _args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=200_000, help="demo orders to seed")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per case")
    parser.add_argument("--warmup", type=int, default=2, help="untimed requests per case")
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DB} database")
    return parser.parse_args(argv)


def _refuse_remote(settings) -> None:
    """The bench creates and drops databases: only on servers of this machine."""
    db = settings.DATABASES["default"]
    hosts = {"DATABASE_URL": db.get("HOST") or ""}
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        hosts[name] = urlparse(getattr(settings, name)).hostname or ""
    hosts["CACHE_URL"] = urlparse(settings.CACHES["default"]["LOCATION"]).hostname or ""
    remote = {name: host for name, host in hosts.items() if host not in LOCAL_HOSTS}
    if remote:
        sys.exit(f"bench: only servers on 127.0.0.1 are used; not {remote}")
    if db["NAME"] == BENCH_DB:
        sys.exit(f"bench: DATABASE_URL already names {BENCH_DB}; point it at another database")


def _admin_connection(db):
    import psycopg2

    conn = psycopg2.connect(
        dbname="postgres",
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
    )
    conn.autocommit = True
    return conn


def _drop(db) -> None:
    from psycopg2 import sql

    conn = _admin_connection(db)
    try:
        force = " WITH (FORCE)" if conn.server_version >= 130000 else ""
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {}" + force).format(sql.Identifier(BENCH_DB))
            )
    finally:
        conn.close()


def _create(db) -> None:
    from psycopg2 import sql

    _drop(db)
    conn = _admin_connection(db)
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))
    finally:
        conn.close()


def _time(client, url: str, *, requests: int, warmup: int) -> tuple[list[float], int]:
    for _ in range(warmup):
        client.get(url)
    samples, status = [], 0
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        status = response.status_code
    return samples, status


def _p90(samples: list[float]) -> float:
    if len(samples) < 2:
        return samples[0]
    return statistics.quantiles(samples, n=10, method="inclusive")[-1]


def _matching(actor, query: str) -> str:
    """How many orders a case's filters match (through the page's own selector)."""
    from django.http import QueryDict

    from shops import selectors

    try:
        filters = selectors.OrderFilters.from_params(QueryDict(query))
        return f"{selectors.order_list(actor=actor, filters=filters).count():,}"
    except Exception:  # the selector is not this script's business: show, don't fail
        return "?"


def _run(args) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from shops.models import Membership, Order, OrderEvent, OrderItem, Shop
    from waybill_console.tenancy import SESSION_SHOP_KEY, Actor

    started = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    print(f"migrated in {time.monotonic() - started:.1f} s")

    started = time.monotonic()
    call_command("seed_demo", "--orders", str(args.orders))
    seconds = time.monotonic() - started
    seeding = f"seeded {args.orders:,} orders in {seconds:.1f} s ({args.orders / seconds:,.0f}/s)"
    print(seeding)

    started = time.monotonic()
    with connection.cursor() as cur:
        for model in (Order, OrderItem, OrderEvent):
            cur.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
    print(f"vacuum analyze in {time.monotonic() - started:.1f} s")

    shop = Shop.objects.get(shop_no="100001")
    user = get_user_model().objects.get(username="merchant")
    actor = Actor.for_membership(Membership.objects.get(shop=shop, user=user))
    merchant = Client(HTTP_HOST="127.0.0.1")
    merchant.force_login(user)
    session = merchant.session
    session[SESSION_SHOP_KEY] = shop.pk
    session.save()
    anonymous = Client(HTTP_HOST="127.0.0.1")

    today = timezone.localdate()
    month = f"date_from={today - timedelta(days=30)}&date_to={today}&carrier=ZTO"
    cases = [
        ("/accounts/login/", anonymous),
        ("/console/orders/", merchant),
        ("/console/orders/?status=paid", merchant),
        ("/console/orders/?at_risk=1", merchant),
        ("/console/orders/?q=13812345678", merchant),
        (f"/console/orders/?{month}", merchant),
        ("/console/orders/?page=200", merchant),
    ]
    total = Order.objects.filter(shop=shop).count()
    print(
        f"\n{total:,} orders in shop 100001; {args.requests} requests per case after "
        f"{args.warmup} warm-up, in-process (django.test.Client)\n"
    )
    header = f"{'case':<72} {'HTTP':>4} {'orders':>8} {'median ms':>10} {'p90 ms':>8} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    baseline = None
    for url, client in cases:
        samples, status = _time(client, url, requests=args.requests, warmup=args.warmup)
        median = statistics.median(samples)
        baseline = baseline or median
        query = url.partition("?")[2]
        matching = "" if client is anonymous else _matching(actor, query)
        print(
            f"{url:<72} {status:>4} {matching:>8} {median:>10.1f} {_p90(samples):>8.1f} "
            f"{median / baseline:>5.1f}×"
        )
    print(f"\n{seeding}")


def main(argv=None) -> None:
    args = _args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "waybill_console.settings")
    os.environ.setdefault("WBC_DEV_DEFAULTS", "1")
    os.environ.setdefault("REDIS_DB_BASE", "13")  # broker 13, results 14, cache 15

    import django
    from django.conf import settings

    _refuse_remote(settings)
    db = settings.DATABASES["default"]
    _create(db)
    # Django connects lazily: point it at the bench database before anything connects.
    db["NAME"] = BENCH_DB
    print(f"database {BENCH_DB} on {db['HOST']}:{db.get('PORT') or 5432}")
    try:
        django.setup()
        _run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep:
            print(f"kept database {BENCH_DB}")
        else:
            _drop(db)
            print(f"dropped database {BENCH_DB}")


if __name__ == "__main__":
    main()
