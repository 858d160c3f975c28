"""Events out: how fast events reach a receiver, and what webhooks cost the allocation path.

(h0) a burst: ``--events`` events (default 10,000) written in one transaction (one
     ``emit_many``: a recycling sweep's or a large batch's worth), the time to commit;
(h1) delivered per second to one endpoint: the burst dispatched and posted, signed, to a
     local receiver over real HTTP (one sender per endpoint: in event order);
(h8) the same burst over 8 endpoints of 8 shops (``WEBHOOK_CONCURRENCY`` senders at once);
(i)  allocation throughput, the service in batches of 50 (case (c)), with webhooks off
     (no endpoint) and on (an endpoint taking every event type, with a sender posting
     them to the receiver meanwhile, in another process as the events worker would),
     interleaved off/on/off/on; the figure is the ratio on/off of the sums.
"""

from __future__ import annotations

import multiprocessing
import time

from benchmarks.common import Results, header, step

ENDPOINTS = 8
ROUNDS = 2


def _receiver():
    from tests.fakes.webhook_receiver import WebhookReceiver

    return WebhookReceiver()


def _endpoint(shop, url: str):
    from events import signing
    from events.models import Endpoint

    return Endpoint.objects.create(shop=shop, url=url, secret=signing.new_secret())


def _burst(shops: list, count: int) -> float:
    from django.db import transaction

    from events.services.outbox import emit_many

    data = {"id": 0, "carrier": "ZTO", "balance": 42, "branch": "杭州西湖网点"}
    started = time.monotonic()
    with transaction.atomic():
        for i, shop in enumerate(shops):
            share = count // len(shops) + (1 if i < count % len(shops) else 0)
            emit_many("quota.low", [(shop.id, dict(data, id=n), "") for n in range(share)])
    return time.monotonic() - started


def _deliver_all(receiver_list, count: int) -> float:
    from events.services.delivery import deliveries_send
    from events.services.dispatch import events_dispatch

    started = time.monotonic()
    events_dispatch()
    while sum(len(r.delivered()) for r in receiver_list) < count:
        if not deliveries_send(seconds=30):
            time.sleep(0.01)
    return time.monotonic() - started


def _clear() -> None:
    from events.models import Endpoint, Event

    Endpoint.objects.all().delete()
    Event.objects.all().delete()


def _sender_loop(stop) -> None:
    """The events worker's part during (i): dispatch and post until told to stop."""
    from django.db import connections

    from events.services.delivery import deliveries_send
    from events.services.dispatch import events_dispatch

    connections.close_all()
    while not stop.is_set():
        events_dispatch()
        deliveries_send(seconds=2)
        time.sleep(0.05)
    connections.close_all()


def _warm(setup, shop) -> None:
    from benchmarks import seed
    from shops.models import Order
    from waybills.services import waybill_allocate_many

    first, last = seed.clone_orders(template_ids=setup.templates, shop=shop, count=50)
    seed.recharge(setup.sub, 50)
    _endpoint(shop, "https://example.com/warm")
    orders = list(Order.objects.filter(pk__gte=first, pk__lte=last))
    waybill_allocate_many(actor=seed.main_actor(shop), orders=orders, subscription=setup.sub.pk)
    _clear()


def run(args, results: Results, setup) -> None:
    from django.conf import settings
    from django.db import connections

    from benchmarks import allocation, seed

    header(f"events out: {args.events:,} events to a local receiver; allocation with webhooks")
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    count = args.events
    shop = setup.shop

    with _receiver() as r:
        _clear()
        _endpoint(shop, r.url)
        written = _burst([shop], count)
        print(f"  (h0) {count:,} events written in one transaction: {written:.2f} s", flush=True)
        results.add("events", "(h0) burst written, one transaction", count / written, "/s")
        seconds = _deliver_all([r], count)
        rate = count / seconds
        print(f"  (h1) one endpoint: {count:,} delivered in {seconds:.1f} s = {rate:,.0f}/s")
        results.add("events", "(h1) delivered, one endpoint", rate, "/s")

    receivers = [_receiver() for _ in range(ENDPOINTS)]
    for rec in receivers:
        rec.__enter__()
    try:
        _clear()
        shops = [shop] + [seed.extra_shop(i) for i in range(1, ENDPOINTS)]
        for s, rec in zip(shops, receivers, strict=True):
            _endpoint(s, rec.url)
        _burst(shops, count)
        seconds = _deliver_all(receivers, count)
        rate = count / seconds
        print(f"  (h8) {ENDPOINTS} endpoints: {count:,} in {seconds:.1f} s = {rate:,.0f}/s")
        results.add("events", f"(h8) delivered, {ENDPOINTS} endpoints", rate, "/s")
    finally:
        for rec in receivers:
            rec.__exit__(None, None, None)

    # (i) allocation with webhooks off vs on, interleaved
    _clear()
    per_case = args.webhook_allocations
    with step(f"clone {per_case * 2 * ROUNDS:,} paid orders for (i)"):
        ranges = [
            seed.clone_orders(template_ids=setup.templates, shop=shop, count=per_case)
            for _ in range(2 * ROUNDS)
        ]
        seed.recharge(setup.sub, per_case * 2 * ROUNDS + 100)
    with step(
        "warm up: one batch with an endpoint listening, in this process (the forked "
        "clients inherit the imports, URL patterns and serializer fields a long-lived "
        "process has)"
    ):
        _warm(setup, shop)
    totals = {"off": [0, 0.0], "on": [0, 0.0]}
    with _receiver() as r:
        for n, (first, last) in enumerate(ranges):
            mode = "off" if n % 2 == 0 else "on"
            stop = None
            if mode == "on":
                _endpoint(shop, r.url)
                connections.close_all()
                ctx = multiprocessing.get_context("fork")
                stop = ctx.Event()
                sender = ctx.Process(target=_sender_loop, args=(stop,), daemon=True)
                sender.start()
            slices = allocation.split(first, last, args.processes, multiple=allocation.BATCH)
            outcome = allocation.run_processes("service_batch", setup.ctx, slices)
            if stop is not None:
                stop.set()
                sender.join(60)
                _clear()
            totals[mode][0] += outcome.ok
            totals[mode][1] += outcome.seconds
            print(f"  (i) webhooks {mode}: {outcome.rate:,.0f}/s", flush=True)
            if outcome.profile:
                print(f"\n  cProfile of one process, webhooks {mode}:\n{outcome.profile}")
            if outcome.errors:
                results.fail(f"(i) webhooks {mode}: {outcome.errors} refused")
        delivered = len(r.delivered())
    off = totals["off"][0] / totals["off"][1]
    on = totals["on"][0] / totals["on"][1]
    print(f"  (i) {delivered:,} waybill.allocated events delivered during the 'on' rounds")
    results.add("events", "(i) allocation (c), webhooks off", off, "/s")
    row = results.add("events", "(i) allocation (c), webhooks on", on, "/s")
    row.ratio = f"{on / off:.2f}× off"
