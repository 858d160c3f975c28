"""取号 throughput on one subscription: raw SQL, the service layer, batches, and HTTP.

Every case runs ``--processes`` client processes (forked after Django has closed its
connections) against the same franchise subscription. Each process gets its own slice
of fresh paid orders, loads them and warms up before a barrier, then allocates its
share; the figure is all allocations over the time from the first process leaving the
barrier to the last one finishing.

(a)  raw SQL, one allocation per transaction, over psycopg2 (no Django):
     ``nextval``; ``INSERT`` the waybill (every column, realistic values: the order's
     receiver ciphertext and masks, a screening result, the sender snapshot); the same
     writes the service makes to the order, its exception record and its history (the
     取号 line of 订单记录, which the service writes since the packing-station release);
     then the service's own quota statement (``WITH q AS (UPDATE … RETURNING) INSERT
     ledger … SELECT FROM q``); ``COMMIT``.
(b)  ``waybill_allocate`` per order (screening, sequence, transaction).
(b0) (b)'s own statements, kept while the service ran for each order before the timed
     part, then sent by bare psycopg2 exactly as the service sends them: (b)'s ceiling,
     what it would reach if its Python cost nothing.
(a') raw SQL in batches of 50: 50 ``nextval`` in one statement, one 50-row ``INSERT``,
     one ``UPDATE … FROM (VALUES …)`` of the orders, the exception records, 50 history
     lines in one ``INSERT``, one quota draw of 50, ``COMMIT``.
(c)  ``waybill_allocate_many`` with 50 orders a call (one chunk, one quota draw).
(d)  ``POST /api/v1/waybills/`` under gunicorn (see :mod:`benchmarks.http`).
(e)  ``POST /api/v1/waybills/bulk/`` under the same gunicorn set-up as (d), 50 orders a
     request (the way ERPs draw); the figure is numbers per second, against (a').
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime

from benchmarks import seed
from benchmarks.common import BENCH_DB, Results, header, psycopg_kwargs, step, verdict

BATCH = 50
#: the cases whose processes take their orders 50 at a time
BATCHED = ("raw_batch", "service_batch", "http_bulk")
TARGET_RATIO = 0.5
#: the cases whose client processes take their numbers from a block of the sequence
BLOCK_HOLDERS = ("service", "service_sql", "service_batch")
HTTP_TARGET = 500


@dataclass
class Context:
    """What every worker of one run needs (inherited through fork)."""

    db: dict
    shop_id: int
    sub_id: int
    carrier_id: int
    branch_id: int
    carrier_code: str
    sequence: str
    prefix: str
    length: int
    actor: str
    sender: dict
    screens: dict  # (province, city, district) -> ScreenResult fields
    membership_id: int
    profile: bool = False
    http: dict = field(default_factory=dict)  # base URL parts and token (benchmarks.http)


@dataclass
class Outcome:
    kind: str
    processes: int
    ok: int
    errors: int
    seconds: float
    first_error: str = ""
    profile: str = ""
    warmup: int = 0  # allocations made before the barrier (not timed)
    cpu: str = ""  # CPU per allocation by process group (benchmarks.cpu)
    #: processes that took numbers from per-process blocks of the sequence (the service's
    #: gateway in a client process or a gunicorn worker); raw SQL calls nextval itself
    block_holders: int = 0

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


# --- the workers (child processes) -------------------------------------------------------------


def _orders_raw(cur, first: int, last: int) -> list[tuple]:
    cur.execute(
        """SELECT id, shop_id, receiver_name, receiver_phone, receiver_detail,
                  receiver_name_masked, receiver_phone_masked, receiver_province,
                  receiver_city, receiver_district
             FROM shops_order WHERE id BETWEEN %s AND %s ORDER BY id""",
        [first, last],
    )
    return cur.fetchall()


_WAYBILL_COLUMNS = (
    "shop_id, subscription_id, carrier_id, branch_id, order_id, package_no, parent_id, "
    "waybill_no, status, has_tracking, sort_code, package_center_code, package_center_name, "
    "short_address_code, short_address_name, services, sender, receiver_name, "
    "receiver_phone, receiver_detail, receiver_name_masked, receiver_phone_masked, "
    "receiver_province, receiver_city, receiver_district, weight_grams, items, "
    "allocated_at, last_changed_at, cancelled_at, recycled_at, first_tracked_at, "
    "picked_up_at, print_count, actor, carrier_order_id, print_data"
)

#: the baselines' quota statement: the conditional draw and its ledger entry in one statement
#: (what the engine did before reservations, kept here as the raw-SQL yardstick)
_DRAW_SQL = """
WITH q AS (
    UPDATE carriers_subscription
       SET balance = balance - %(n)s, allocated_total = allocated_total + %(n)s
     WHERE id = %(sub)s AND balance >= %(n)s
 RETURNING id, balance
)
INSERT INTO carriers_ledgerentry (subscription_id, kind, amount, balance_after, at, actor,
                                  note, reference)
SELECT q.id, 'allocation', -%(n)s, q.balance, %(at)s, %(actor)s, '', %(ref)s FROM q
RETURNING balance_after
"""


def _number(ctx: Context, value: int) -> str:
    from carriers.gateways.builtin import check_digit

    body = f"{value:0{ctx.length - 1}d}"
    return f"{ctx.prefix}{body}{check_digit(body)}"


def _waybill_values(ctx: Context, order: tuple, number: str, at: datetime, sender: str) -> tuple:
    oid, shop_id, name, phone, detail, name_m, phone_m, province, city, district = order
    sc = ctx.screens[(province, city, district)]
    return (
        shop_id, ctx.sub_id, ctx.carrier_id, ctx.branch_id, oid, 1, None,
        number, "allocated", False, sc["sort_code"], sc["package_center_code"],
        sc["package_center_name"], sc["short_address_code"], sc["short_address_name"],
        json.dumps(sc["services"]), sender, name,
        phone, detail, name_m, phone_m,
        province, city, district, None, "[]",
        at, at, None, None, None,
        None, 0, ctx.actor, f"WB{oid}P1", "{}",
    )  # fmt: skip


#: the order's history line of the draw (取号 in 订单记录), which the service writes too
_HISTORY_SQL = (
    "INSERT INTO shops_orderevent (order_id, at, kind, actor, data) VALUES (%s, %s, %s, %s, %s)"
)


def _history_row(ctx: Context, order: tuple, number: str, at: datetime) -> tuple:
    data = {"waybill_no": number, "carrier": ctx.carrier_code, "packages": 1}
    return (order[0], at, "waybill_allocated", ctx.actor, json.dumps(data))


def _raw(ctx: Context, first: int, last: int, start):
    """(a) one allocation per transaction, plain psycopg2."""
    import psycopg2

    conn = psycopg2.connect(**psycopg_kwargs(ctx.db, BENCH_DB))
    cur = conn.cursor()
    orders = _orders_raw(cur, first, last)
    conn.commit()
    sender = json.dumps(ctx.sender)
    values = ", ".join(["%s"] * len(_WAYBILL_COLUMNS.split(",")))
    insert = f"INSERT INTO waybills_waybill ({_WAYBILL_COLUMNS}) VALUES ({values}) RETURNING id"  # nosec B608
    start()
    ok = errors = 0
    first_error = ""
    for order in orders:
        at = datetime.now(UTC)
        cur.execute("SELECT nextval(%s)", [ctx.sequence])
        number = _number(ctx, cur.fetchone()[0])
        cur.execute(insert, _waybill_values(ctx, order, number, at, sender))
        cur.fetchone()
        cur.execute(
            "UPDATE shops_order SET has_waybill = true, carrier_code = %s, tracking_no = %s "
            "WHERE id = %s",
            [ctx.carrier_code, number, order[0]],
        )
        cur.execute(
            "UPDATE waybills_allocationexception SET resolved_at = %s "
            "WHERE order_id = %s AND resolved_at IS NULL",
            [at, order[0]],
        )
        cur.execute(_HISTORY_SQL, _history_row(ctx, order, number, at))
        cur.execute(
            _DRAW_SQL,
            {"n": 1, "sub": ctx.sub_id, "at": at, "actor": ctx.actor, "ref": f"order:{order[0]}"},
        )
        if cur.fetchone() is None:
            conn.rollback()
            errors += 1
            first_error = first_error or "QUOTA_INSUFFICIENT"
            continue
        conn.commit()
        ok += 1
    conn.close()
    return {"ok": ok, "errors": errors, "first_error": first_error}


def _raw_batch(ctx: Context, first: int, last: int, start):
    """(a') 50 allocations per transaction, plain psycopg2."""
    import psycopg2
    from psycopg2.extras import execute_values

    conn = psycopg2.connect(**psycopg_kwargs(ctx.db, BENCH_DB))
    cur = conn.cursor()
    orders = _orders_raw(cur, first, last)
    conn.commit()
    sender = json.dumps(ctx.sender)
    insert = f"INSERT INTO waybills_waybill ({_WAYBILL_COLUMNS}) VALUES %s RETURNING id"  # nosec B608
    start()
    ok = errors = 0
    first_error = ""
    for i in range(0, len(orders), BATCH):
        chunk = orders[i : i + BATCH]
        n = len(chunk)
        at = datetime.now(UTC)
        cur.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [ctx.sequence, n])
        numbers = [_number(ctx, row[0]) for row in cur.fetchall()]
        rows = [
            _waybill_values(ctx, order, number, at, sender)
            for order, number in zip(chunk, numbers, strict=True)
        ]
        execute_values(cur, insert, rows, page_size=n, fetch=True)
        execute_values(
            cur,
            "UPDATE shops_order o SET has_waybill = true, carrier_code = v.code, "
            "tracking_no = v.no FROM (VALUES %s) AS v(id, no, code) WHERE o.id = v.id",
            [
                (order[0], number, ctx.carrier_code)
                for order, number in zip(chunk, numbers, strict=True)
            ],
            page_size=n,
        )
        cur.execute(
            "UPDATE waybills_allocationexception SET resolved_at = %s "
            "WHERE order_id = ANY(%s) AND resolved_at IS NULL",
            [at, [order[0] for order in chunk]],
        )
        execute_values(
            cur,
            _HISTORY_SQL.replace("(%s, %s, %s, %s, %s)", "%s"),
            [
                _history_row(ctx, order, number, at)
                for order, number in zip(chunk, numbers, strict=True)
            ],
            page_size=n,
        )
        cur.execute(
            _DRAW_SQL,
            {
                "n": n,
                "sub": ctx.sub_id,
                "at": at,
                "actor": ctx.actor,
                "ref": f"batch:{chunk[0][0]}-{chunk[-1][0]}",
            },
        )
        if cur.fetchone() is None:
            conn.rollback()
            errors += n
            first_error = first_error or "QUOTA_INSUFFICIENT"
            continue
        conn.commit()
        ok += n
    conn.close()
    return {"ok": ok, "errors": errors, "first_error": first_error}


def _service_setup(ctx: Context, first: int, last: int):
    from carriers.gateways import gateway_for
    from carriers.models import Subscription
    from shops.models import Membership, Order
    from waybill_console.tenancy import Actor
    from waybills.services.receiver import receiver_of as _receiver

    actor = Actor.for_membership(
        Membership.objects.select_related("shop").get(pk=ctx.membership_id)
    )
    orders = list(Order.objects.filter(pk__gte=first, pk__lte=last).order_by("pk"))
    sub = Subscription.objects.select_related("carrier", "branch").get(pk=ctx.sub_id)
    gateway_for(sub.carrier.code).screen(subscription=sub, receiver=_receiver(orders[0]))  # warm
    return actor, orders


def _service(ctx: Context, first: int, last: int, start):
    """(b) the service, one order a call."""
    from waybill_console.errors import AppError
    from waybills.services import waybill_allocate

    actor, orders = _service_setup(ctx, first, last)
    ok = errors = 0
    first_error = ""
    start()
    for order in orders:
        try:
            if waybill_allocate(actor=actor, order=order, subscription=ctx.sub_id).created:
                ok += 1
            else:
                errors += 1
                first_error = first_error or f"order {order.pk}: not created"
        except AppError as err:
            errors += 1
            first_error = first_error or f"{err.code}: {err.render_message()}"
    return {"ok": ok, "errors": errors, "first_error": first_error}


class _Captured(Exception):
    """Raised in place of the service's draw statement once its text and values are kept."""


def _service_statements(ctx: Context, orders: list) -> list[list[list[tuple[str, str, list]]]]:
    """What ``waybill_allocate`` sends for each order, kept instead of sent: per order, its
    round trips, each a list of prepared statements ``(name, sql, values)``: the reads it
    makes through ``rawsql.execute_prepared`` (run: the service needs their answers to go
    on) and its one draw round trip (the orders' lock and the commit, not run). The
    numbers come from this process's block of the carrier's sequence, as in (b)."""
    from waybill_console import rawsql
    from waybills.services import waybill_allocate

    actor, _ = _service_setup(ctx, orders[0].pk, orders[0].pk)
    trips: list[list[tuple[str, str, list]]] = []
    prepared, together = rawsql.execute_prepared, rawsql.execute_prepared_together

    def keep_read(cursor, name, sql, params):
        trips.append([(name, sql, list(params))])
        prepared(cursor, name, sql, params)

    def keep_draw(cursor, statements):
        trips.append([(name, sql, list(params)) for name, sql, params in statements])
        raise _Captured

    rawsql.execute_prepared, rawsql.execute_prepared_together = keep_read, keep_draw
    out = []
    try:
        for order in orders:
            trips = []
            try:
                waybill_allocate(actor=actor, order=order, subscription=ctx.sub_id)
            except _Captured:
                out.append(trips)
            else:
                raise RuntimeError(f"order {order.pk}: the service did not take its local draw")
    finally:
        rawsql.execute_prepared, rawsql.execute_prepared_together = prepared, together
    return out


def _service_sql(ctx: Context, first: int, last: int, start):
    """(b0) the service's own statements for each order (:func:`_service_statements`),
    sent as the service sends them (prepared, generic plans, the draw's two statements in
    one round trip outside a transaction) by bare psycopg2: what (b) would reach if its
    Python cost nothing."""
    import psycopg2

    from shops.models import Order
    from waybill_console import rawsql

    orders = list(Order.objects.filter(pk__gte=first, pk__lte=last).order_by("pk"))
    calls = _service_statements(ctx, orders)
    conn = psycopg2.connect(**psycopg_kwargs(ctx.db, BENCH_DB))
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SET plan_cache_mode = force_generic_plan")
    names: set[str] = set()
    sends = []  # per order: [(text, values)], one per round trip, the draw last
    for trips in calls:
        texts_values = []
        for trip in trips:
            texts, values = [], []
            for name, sql, params in trip:
                if name not in names:
                    cur.execute(rawsql.prepare_sql(name, sql))
                    names.add(name)
                texts.append(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})")
                values += params
            texts_values.append(("; ".join(texts), values))
        sends.append(texts_values)
    ok = errors = 0
    first_error = ""
    start()
    for order, trips in zip(orders, sends, strict=True):
        for text, values in trips:
            cur.execute(text, values)
        if cur.fetchall():  # the draw's rows: the numbers it inserted
            ok += 1
        else:
            errors += 1
            first_error = first_error or f"order {order.pk}: the draw inserted nothing"
    conn.close()
    return {"ok": ok, "errors": errors, "first_error": first_error}


def _service_batch(ctx: Context, first: int, last: int, start):
    """(c) the service, 50 orders a call."""
    from waybills.services import waybill_allocate_many

    actor, orders = _service_setup(ctx, first, last)
    ok = errors = 0
    first_error = ""
    start()
    for i in range(0, len(orders), BATCH):
        for result in waybill_allocate_many(
            actor=actor, orders=orders[i : i + BATCH], subscription=ctx.sub_id
        ):
            if result["ok"] and result["created"]:
                ok += 1
            else:
                errors += 1
                first_error = first_error or json.dumps(result, ensure_ascii=False)
    return {"ok": ok, "errors": errors, "first_error": first_error}


WORKERS = {
    "raw": _raw,
    "service": _service,
    "service_sql": _service_sql,
    "raw_batch": _raw_batch,
    "service_batch": _service_batch,
}


def _child(kind, ctx, index, first, last, barrier, queue):
    """One client process: ``fn(ctx, first, last, start)`` calls ``start()`` when it is
    ready (the barrier: every process starts the timed part together)."""
    import cProfile
    import io
    import pstats

    from benchmarks import http

    profiler = None
    times = {}

    def start():
        nonlocal profiler
        barrier.wait()
        times["start"] = time.monotonic()
        times["cpu"] = time.process_time()
        if ctx.profile and index == 0 and kind not in http.CLIENTS:
            profiler = cProfile.Profile()
            profiler.enable()

    try:
        fn = http.CLIENTS.get(kind) or WORKERS[kind]
        report = fn(ctx, first, last, start)
        report["end"] = time.monotonic()
        report["start"] = times.get("start", report["end"])
        report["cpu"] = time.process_time() - times.get("cpu", time.process_time())
        report["profile"] = ""
        if profiler is not None:
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
            report["profile"] = out.getvalue()
        queue.put(report)
    except BaseException:
        barrier.abort()
        queue.put({"crash": traceback.format_exc()})


def run_processes(
    kind: str, ctx: Context, slices: list[tuple[int, int]], servers: list[int] | None = None
) -> Outcome:
    """Fork one process per slice of order ids, release them together, collect. The CPU
    of the clients, of the database backends and of ``servers`` (gunicorn's workers) is
    counted from the release to the last report."""
    from django.db import connections

    from benchmarks import cpu

    connections.close_all()  # children open their own
    mp = multiprocessing.get_context("fork")
    barrier = mp.Barrier(len(slices) + 1)  # and this process: it starts the CPU count
    queue = mp.Queue()
    procs = [
        mp.Process(target=_child, args=(kind, ctx, i, first, last, barrier, queue), daemon=True)
        for i, (first, last) in enumerate(slices)
    ]
    for p in procs:
        p.start()
    watch = cpu.Watch()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass  # a child crashed before the start: its report says why
    else:
        groups = {"PostgreSQL": cpu.backend_pids(ctx.db, BENCH_DB)}
        if servers is not None:
            groups = {"gunicorn": servers, **groups}
        watch.start(groups)
    reports = [queue.get() for _ in procs]
    watch.stop()
    for p in procs:
        p.join()
    crashes = [r["crash"] for r in reports if "crash" in r]
    if crashes:
        raise RuntimeError(f"a {kind} worker crashed:\n{crashes[0]}")
    seconds = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    return Outcome(
        kind=kind,
        processes=len(slices),
        ok=sum(r["ok"] for r in reports),
        errors=sum(r["errors"] for r in reports),
        seconds=seconds,
        first_error=next((r["first_error"] for r in reports if r["first_error"]), ""),
        profile="".join(r["profile"] for r in reports),
        warmup=sum(r.get("warmup", 0) for r in reports),
        cpu=watch.line(sum(r["ok"] for r in reports), sum(r["cpu"] for r in reports)),
        block_holders=len(slices) if kind in BLOCK_HOLDERS else 0,
    )


def split(first: int, last: int, parts: int, *, multiple: int = 1) -> list[tuple[int, int]]:
    """``parts`` consecutive id ranges covering first..last (sizes multiples of ``multiple``
    where possible)."""
    total = last - first + 1
    size = -(-total // parts)
    size = -(-size // multiple) * multiple
    out, lo = [], first
    while lo <= last:
        hi = min(lo + size - 1, last)
        out.append((lo, hi))
        lo = hi + 1
    return out


# --- the section ------------------------------------------------------------------------------


@dataclass
class Setup:
    ctx: Context
    shop: object
    sub: object
    templates: list[int]
    cases: dict = field(default_factory=dict)  # kind -> (first, last) order ids


def prepare(args, cases: list[str]) -> Setup:
    """The subscription (recharged for every case), templates and the cases' orders."""
    from carriers.gateways.builtin import FORMATS
    from shops.models import Membership
    from waybills.services.rows import sender_of as _sender

    counts = {
        "raw": args.allocations,
        "service": args.allocations,
        "service_sql": args.allocations,
        "raw_batch": args.batch_allocations,
        "service_batch": args.batch_allocations,
        "http": args.http_requests + args.http_warmup * args.processes,
        "http_bulk": bulk_count(args),
    }
    shop = seed.shop("100001")
    with step("open and recharge a ZTO subscription for shop 100001"):
        sub = seed.open_service(shop, "ZTO")
        seed.recharge(sub, sum(counts[c] for c in cases) + 1000)
        sub.refresh_from_db()
    with step("pick template orders (receivers that screen fine)"):
        templates = seed.templates(shop, sub)
    screens = _screens(sub, templates)
    prefix, length = FORMATS[sub.carrier.code]
    membership = Membership.objects.get(shop=shop, role=Membership.Role.MAIN)
    from waybill_console.tenancy import Actor

    ctx = Context(
        db=_db_settings(),
        shop_id=shop.pk,
        sub_id=sub.pk,
        carrier_id=sub.carrier_id,
        branch_id=sub.branch_id,
        carrier_code=sub.carrier.code,
        sequence=f"waybill_seq_{sub.carrier.code.lower()}",
        prefix=prefix,
        length=length,
        actor=Actor.for_membership(membership).describe()[:60],
        sender=_sender(sub),
        screens=screens,
        membership_id=membership.pk,
        profile=args.profile,
    )
    setup = Setup(ctx=ctx, shop=shop, sub=sub, templates=templates)
    with step(f"clone {sum(counts[c] for c in cases):,} paid orders for the cases"):
        for kind in cases:
            setup.cases[kind] = seed.clone_orders(
                template_ids=templates, shop=shop, count=counts[kind]
            )
    with step("vacuum analyze"):
        _vacuum()
    return setup


def bulk_count(args) -> int:
    """(e)'s orders: ``--http-bulk-allocations`` rounded up to the same whole number of
    50-order requests for every client, plus each client's warm-up requests."""
    per_round = BATCH * args.processes
    timed = -(-args.http_bulk_allocations // per_round) * per_round
    return timed + args.http_bulk_warmup * per_round


def _db_settings() -> dict:
    from django.conf import settings

    return dict(settings.DATABASES["default"])


def _vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        for table in ("shops_order", "waybills_waybill", "carriers_subscription"):
            cur.execute(f"VACUUM (ANALYZE) {table}")


def _screens(sub, template_ids: list[int]) -> dict:
    from dataclasses import asdict

    from carriers.gateways import gateway_for
    from shops.models import Order
    from waybills.services.receiver import receiver_of as _receiver

    gateway = gateway_for(sub.carrier.code)
    out = {}
    for order in Order.objects.filter(pk__in=template_ids):
        key = (order.receiver_province, order.receiver_city, order.receiver_district)
        if key not in out:
            out[key] = asdict(gateway.screen(subscription=sub, receiver=_receiver(order)))
    return out


LABELS = {
    "raw": "(a) raw SQL, single",
    "service": "(b) service, single",
    "service_sql": "(b0) (b)'s statements alone",
    "raw_batch": "(a') raw SQL, batches of 50",
    "service_batch": "(c) service, batches of 50",
    "http": "(d) HTTP API (gunicorn)",
    "http_bulk": "(e) HTTP API, 50 a request",
}


def _print(outcome: Outcome, label: str) -> None:
    errors = f", {outcome.errors:,} refused ({outcome.first_error})" if outcome.errors else ""
    print(
        f"  {label}: {outcome.ok:,} allocations by {outcome.processes} processes in "
        f"{outcome.seconds:.2f} s = {outcome.rate:,.0f}/s{errors}",
        flush=True,
    )
    if outcome.cpu:
        print(f"    {outcome.cpu}", flush=True)
    if outcome.profile:
        print(f"\n  cProfile of one {outcome.kind} process (tottime):\n{outcome.profile}")


def run(args, results: Results, cases: list[str]) -> Setup:
    from benchmarks import http

    header("allocation throughput (取号), one ZTO subscription")
    setup = prepare(args, cases)
    ctx = setup.ctx
    outcomes: dict[str, Outcome] = {}
    for kind in cases:
        first, last = setup.cases[kind]
        slices = split(first, last, args.processes, multiple=BATCH if kind in BATCHED else 1)
        if kind in http.CLIENTS:
            outcome = http.run(args, ctx, slices, kind)
        else:
            outcome = run_processes(kind, ctx, slices)
        outcomes[kind] = outcome
        _print(outcome, LABELS[kind])
        if outcome.errors:
            results.fail(f"{LABELS[kind]}: {outcome.errors} allocations refused")

    raw, raw_batch = outcomes.get("raw"), outcomes.get("raw_batch")

    def ratio(outcome, base):
        return f"{outcome.rate / base.rate:.2f}× {LABELS[base.kind][:4]}" if base else ""

    for kind, outcome in outcomes.items():
        row = results.add("allocation", LABELS[kind], outcome.rate, "/s")
        if kind == "service_sql":
            row.ratio = ratio(outcome, raw)
        elif kind == "service":
            row.ratio = ratio(outcome, raw)
            row.target = f"≥ {TARGET_RATIO:.0%} of (a)"
            if raw:
                row.verdict = verdict(outcome.rate >= TARGET_RATIO * raw.rate)
        elif kind == "service_batch":
            row.ratio = ratio(outcome, raw_batch)
            row.target = f"≥ {TARGET_RATIO:.0%} of (a')"
            if raw_batch:
                row.verdict = verdict(outcome.rate >= TARGET_RATIO * raw_batch.rate)
        elif kind == "http":
            row.ratio = ratio(outcome, raw)
            row.target = f"≥ {HTTP_TARGET}/s"
            row.verdict = verdict(outcome.rate >= HTTP_TARGET)
        elif kind == "http_bulk":
            row.ratio = ratio(outcome, raw_batch)
            row.target = f"≥ {TARGET_RATIO:.0%} of (a')"
            if raw_batch:
                row.verdict = verdict(outcome.rate >= TARGET_RATIO * raw_batch.rate)
    check_invariants(results, setup, outcomes)
    return setup


# --- the invariants ---------------------------------------------------------------------------


def check_invariants(results: Results, setup: Setup, outcomes: dict[str, Outcome]) -> None:
    from django.db import connection

    from carriers.services import ledger_check
    from waybills.models import LIVE_STATUSES

    print("\n  invariants:")
    live = [s.value for s in LIVE_STATUSES]
    with connection.cursor() as cur:
        cur.execute(
            "SELECT carrier_id, waybill_no, count(*) FROM waybills_waybill "
            "GROUP BY carrier_id, waybill_no HAVING count(*) > 1 LIMIT 5"
        )
        dup = cur.fetchall()
        cur.execute("SELECT id, balance FROM carriers_subscription WHERE balance < 0")
        negative = cur.fetchall()
        cur.execute(
            "SELECT order_id, package_no, count(*) FROM waybills_waybill "
            "WHERE status = ANY(%s) GROUP BY order_id, package_no HAVING count(*) > 1 LIMIT 5",
            [live],
        )
        double = cur.fetchall()
        numbers = {}
        for kind, (first, last) in setup.cases.items():
            if kind not in outcomes:
                continue
            cur.execute(
                "SELECT count(*), count(DISTINCT order_id) FROM waybills_waybill "
                "WHERE order_id BETWEEN %s AND %s AND status = ANY(%s)",
                [first, last, live],
            )
            numbers[kind] = cur.fetchone()
        cur.execute(
            "SELECT coalesce(last_value - start_value + 1, 0) FROM pg_sequences "
            "WHERE sequencename = %s",
            [setup.ctx.sequence],
        )
        issued = cur.fetchone()[0]
        cur.execute(
            "SELECT count(*) FROM waybills_waybill WHERE carrier_id = %s", [setup.ctx.carrier_id]
        )
        drawn = cur.fetchone()[0]
    problems = ledger_check()
    _check(results, "no duplicate waybill number (carrier, number)", not dup, dup)
    _check(results, "no negative balance", not negative, negative)
    _check(results, "ledger = counters (ledger_check() == [])", not problems, problems[:5])
    _check(results, "at most one live number per order package", not double, double)
    for kind, (count, orders) in numbers.items():
        outcome = outcomes[kind]
        expected = outcome.ok + outcome.warmup
        _check(
            results,
            f"{LABELS[kind]}: numbers in the database = allocations reported ({expected:,})",
            count == expected and orders == expected,
            f"{count} numbers for {orders} orders",
        )
    # Values a draw took and then rolled back are burnt, like those still unused in a
    # process's block when it ends (at most NUMBER_BLOCK - 1 per process for single
    # draws; raw SQL and batches of 50 take their values directly).
    from carriers.gateways.builtin import NUMBER_BLOCK

    refused = sum(o.errors for o in outcomes.values())
    holders = sum(o.block_holders for o in outcomes.values())
    bound = refused + holders * (NUMBER_BLOCK - 1)
    _check(
        results,
        f"every issued sequence number accounted for: {issued:,} issued = {drawn:,} drawn + "
        f"{issued - drawn:,} burnt, at most {refused:,} refused draws + {holders} processes "
        f"× {NUMBER_BLOCK - 1} left in a block",
        0 <= issued - drawn <= bound,
        f"{issued - drawn} burnt numbers, more than {bound}",
    )


def _check(results: Results, label: str, ok: bool, detail) -> None:
    print(f"    {'ok ' if ok else 'BROKEN'} {label}")
    if not ok:
        results.fail(f"{label}: {detail}")
