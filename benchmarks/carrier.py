"""A batch against a real carrier's protocol: 500 orders through the Kuaidi100 adapter.

The carrier is the local stand-in the tests use (:mod:`tests.fakes.kuaidi100`: real HTTP,
signatures checked) answering each order after ``--carrier-latency`` seconds, as a remote
API would. Each package is one call, so a batch must not take ``orders × latency``: the
adapter asks up to ``CARRIER_CONCURRENCY`` packages at once. Two cases in one run:

(f1) the batch with ``CARRIER_CONCURRENCY=1`` (one call at a time: the serial baseline);
(f)  the batch with the configured concurrency (default 8).

Each is ``waybill_allocate_many`` over the orders in one process (the batch job's own
call); the figure is numbers per second, with (f)'s ratio to (f1) and its time against
``orders × latency``.
"""

from __future__ import annotations

import itertools
import time

from benchmarks.common import Results, header, step, verdict

SERIAL_ORDERS = 100


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
            seed.recharge(sub, orders_n + SERIAL_ORDERS + 100)
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
        (serial_label, serial_rate), (batch_label, batch_rate) = figures.items()
        results.add("carrier", serial_label, serial_rate, "/s")
        ratio = batch_rate / serial_rate if serial_rate else 0.0
        results.add(
            "carrier",
            batch_label,
            batch_rate,
            "/s",
            ratio=f"{ratio:.2f}× (f1)",
            target=f"> 1× (f1), {orders_n} orders < {orders_n * args.carrier_latency:.0f} s",
            verdict=verdict(ratio > 1),
        )
    finally:
        fake.stop()
        gateways_forget()
