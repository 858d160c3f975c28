"""A batch against a real carrier's protocol: 500 orders through the Kuaidi100 adapter.

The carrier is the local stand-in the tests use (:mod:`tests.fakes.kuaidi100`: real HTTP,
signatures checked) answering each order after ``--carrier-latency`` seconds, as a remote
API would. Each package is one call, so a batch must not take ``orders × latency``: the
adapter asks up to ``CARRIER_CONCURRENCY`` packages at once. Two cases in one run:

(f1) the batch with ``CARRIER_CONCURRENCY=1`` (one call at a time: the serial baseline);
(f)  the batch with the configured concurrency (default 16).

Each is ``waybill_allocate_many`` over the orders in one process (the batch job's own
call); the figure is numbers per second, with (f)'s ratio to (f1) and its time against
``orders × latency`` (target: 500 orders at 200 ms a call in under 15 s).

(g) single allocations through HTTP against the same carrier: ``POST /api/v1/waybills/``
one order per request, from ``--carrier-clients`` client threads, to a gunicorn of its own
run as production runs it (``--http-workers`` processes × ``WEB_THREADS`` threads); the
figures are numbers per second and each request's time, p50 and p99 (the carrier's
latency is the floor).
"""

from __future__ import annotations

import http.client
import itertools
import json
import statistics
import threading
import time

from benchmarks.common import Results, header, step, verdict

SERIAL_ORDERS = 100
WARMUP_PER_CLIENT = 3  # (g): untimed requests per client (opening the server's connections)


def _orders(shop, count: int, seq) -> list:
    from benchmarks.seed import main_actor
    from shops import services as shop_services

    actor = main_actor(shop)
    return [
        shop_services.order_create(
            actor=actor,
            order_no=f"CARRIER{next(seq):07d}",
            items=[{"sku": "SKU-1", "product_name": "保温杯", "quantity": 1, "unit_price": "9.90"}],
            receiver={
                "name": "张三",
                "phone": "13812345678",
                "province": "浙江省",
                "city": "杭州市",
                "district": "西湖区",
                "detail": "文三路 90 号",
            },
        )
        for _ in range(count)
    ]


def run(args, results: Results) -> None:
    from django.conf import settings

    from benchmarks import seed
    from carriers.gateways import gateways_forget
    from carriers.models import Subscription
    from tests.fakes.kuaidi100 import FakeKuaidi100, connect
    from waybills.services import waybill_allocate_many

    header(f"a batch against a carrier API (Kuaidi100 protocol, {args.carrier_latency}s a call)")
    orders_n = args.carrier_orders
    fake = FakeKuaidi100().start()
    try:
        shop = seed.shop("100001")
        with step("open a ZTO subscription with a partner account, through the fake carrier"):
            sub = seed.open_service(shop, "ZTO")
            seed.recharge(sub, orders_n + SERIAL_ORDERS + args.carrier_http_requests + 100)
            partner = {"monthly_account": "BENCH-PARTNER", "secret_key": "bench-key"}  # nosec B105
            Subscription.objects.filter(pk=sub.pk).update(**partner)  # the throwaway database
            connect(fake)
            gateways_forget()
        seq = itertools.count(1)
        with step(f"create {SERIAL_ORDERS + orders_n} paid orders"):
            serial = _orders(shop, SERIAL_ORDERS, seq)
            batch = _orders(shop, orders_n, seq)
        fake.delay = args.carrier_latency
        actor = seed.main_actor(shop)
        concurrency = settings.CARRIER_CONCURRENCY
        figures = {}
        for label, orders, workers in (
            ("(f1) carrier API, one call at a time", serial, 1),
            (f"(f) carrier API, {concurrency} calls at a time", batch, concurrency),
        ):
            settings.CARRIER_CONCURRENCY = workers
            fake.max_in_flight = 0
            started = time.perf_counter()
            answers = waybill_allocate_many(actor=actor, orders=orders, subscription=sub.pk)
            seconds = time.perf_counter() - started
            ok = sum(1 for a in answers if a["ok"])
            if ok != len(orders):
                failed = [a for a in answers if not a["ok"]][:1]
                results.fail(f"{label}: {len(orders) - ok} orders refused {failed}")
            figures[label] = ok / seconds if seconds else 0.0
            serial_time = len(orders) * args.carrier_latency
            print(
                f"  {label}: {ok:,} numbers in {seconds:.2f} s = {figures[label]:,.0f}/s; "
                f"{len(orders)} × {args.carrier_latency}s would be {serial_time:.1f} s; "
                f"at most {fake.max_in_flight} calls in flight"
            )
        settings.CARRIER_CONCURRENCY = concurrency
        batch_seconds = seconds  # the last case's: the batch at the configured concurrency
        (serial_label, serial_rate), (batch_label, batch_rate) = figures.items()
        results.add("carrier", serial_label, serial_rate, "/s")
        ratio = batch_rate / serial_rate if serial_rate else 0.0
        results.add(
            "carrier",
            batch_label,
            batch_rate,
            "/s",
            ratio=f"{ratio:.2f}× (f1)",
            target=f"> 1× (f1), {orders_n} orders < 15 s",
            verdict=verdict(ratio > 1 and batch_seconds < 15),
            note=f"{orders_n} orders in {batch_seconds:.1f} s",
        )
        with step(f"create {args.carrier_http_requests} paid orders for (g)"):
            singles = _orders(shop, args.carrier_http_requests, seq)
        _http_singles(args, results, shop, sub, [o.pk for o in singles])
    finally:
        fake.stop()
        gateways_forget()


def _http_singles(args, results, shop, sub, order_ids: list[int]) -> None:
    """(g): gunicorn of its own, ``--carrier-clients`` threads posting one order each."""
    from benchmarks import seed
    from benchmarks.http import gunicorn_serving

    key = seed.api_token(shop)
    times: list[float] = []
    failures: list[str] = []
    with gunicorn_serving(
        workers=args.http_workers,
        worker_class="gthread",
        threads=4,  # WEB_THREADS' default: production's set-up
        clients=f"(g) {args.carrier_clients} client threads",
    ) as (port, _proc):
        warm = WARMUP_PER_CLIENT * args.carrier_clients  # each server thread's first requests
        _drive(port, key, sub.pk, order_ids[:warm], args.carrier_clients, [], failures)
        started = time.perf_counter()
        _drive(port, key, sub.pk, order_ids[warm:], args.carrier_clients, times, failures)
        seconds = time.perf_counter() - started
    if failures:
        results.fail(f"(g): {len(failures)} requests refused, first: {failures[0]}")
    if not times:
        return
    cuts = statistics.quantiles(times, n=100)
    p50, p99 = statistics.median(times), cuts[98]
    rate = len(times) / seconds
    label = f"(g) HTTP single against the carrier API, {args.carrier_clients} clients"
    print(
        f"  {label}: {len(times):,} numbers in {seconds:.2f} s = {rate:,.1f}/s; "
        f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms (the carrier takes "
        f"{args.carrier_latency * 1000:.0f} ms)"
    )
    results.add(
        "carrier",
        label,
        rate,
        "/s",
        note=f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms",
    )


def _drive(port, key, sub_id, order_ids, clients: int, times: list, failures: list) -> None:
    """``clients`` threads, each on its own kept-alive connection, posting one order per
    request until none is left; each success's seconds appended to ``times``."""
    todo = iter(order_ids)
    lock = threading.Lock()
    headers = {"Authorization": f"Token {key}", "Content-Type": "application/json"}

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                order_id = next(todo, None)
            if order_id is None:
                conn.close()
                return
            body = json.dumps({"order": order_id, "subscription": sub_id})
            started = time.perf_counter()
            conn.request("POST", "/api/v1/waybills/", body=body, headers=headers)
            answer = conn.getresponse()
            payload = answer.read()
            seconds = time.perf_counter() - started
            with lock:
                if answer.status == 201 and b'"waybill_no"' in payload:
                    times.append(seconds)
                else:
                    failures.append(f"{answer.status} {payload[:200]!r}")
            if answer.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    workers = [threading.Thread(target=client) for _ in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
