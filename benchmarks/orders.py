"""The order list page, in-process with ``django.test.Client`` as the demo merchant."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from benchmarks.common import Results, header


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


def seed(args) -> str:
    """``seed_demo --orders N`` plus VACUUM ANALYZE; returns the seeding line."""
    from django.core.management import call_command
    from django.db import connection

    from shops.models import Order, OrderEvent, OrderItem

    started = time.monotonic()
    call_command("seed_demo", "--quiet", "--orders", str(args.orders))
    seconds = time.monotonic() - started
    line = f"seeded {args.orders:,} orders in {seconds:.1f} s ({args.orders / seconds:,.0f}/s)"
    print(line)
    started = time.monotonic()
    with connection.cursor() as cur:
        for model in (Order, OrderEvent, OrderItem):
            cur.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
    print(f"vacuum analyze in {time.monotonic() - started:.1f} s")
    return line


def run(args, results: Results, seeding: str) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from shops.models import Membership, Order, Shop
    from waybill_console.tenancy import SESSION_SHOP_KEY, Actor

    header("order list page (in-process, django.test.Client)")
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
        f"{total:,} orders in shop 100001; {args.requests} requests per case after "
        f"{args.warmup} warm-up\n"
    )
    head = f"{'case':<72} {'HTTP':>4} {'orders':>8} {'median ms':>10} {'p90 ms':>8} {'ratio':>6}"
    print(head)
    print("-" * len(head))
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
        if url == "/console/orders/":
            results.add(
                "orders",
                "order list page, median",
                median,
                "ms",
                ratio=f"{median / baseline:.1f}× login",
            )
    print(f"\n{seeding}")
