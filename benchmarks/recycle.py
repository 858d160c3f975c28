"""The recycling sweep (回收) over ``--waybills`` numbers, and the data the export reads too.

The data set lives in shop 100002 on two ZTO subscriptions (the first ``--xlsx-waybills``
numbers on the second one, so the XLSX export can select exactly them). ``--waybills``
orders are cloned and as many numbers inserted in one ``INSERT … SELECT`` each, numbers
reserved from the carrier's own sequence (with their check digit). By the clone's index
``g``, ``g % 20`` picks the kind:

====  =====================================================  ==========
 %    kind                                                   recycled?
====  =====================================================  ==========
 40   allocated, no tracking, idle for 40–42 days            yes (idle)
 10   cancelled 20–22 days ago, no tracking                  yes
  5   cancelled 5–7 days ago                                 no (< 15 days)
 15   allocated 3–5 days ago                                 no (< 30 days)
 30   delivered (tracking), allocated 40–42 days ago         no
====  =====================================================  ==========

The subscriptions' counters and ledger are set to match (a recharge of N + 1,000, an
allocation entry of −N, ``allocated_total`` = ``cancel_basis`` = N, ``cancelled_total``
the 15 % cancelled, under the cancel cap), so ``ledger_check()`` holds before the sweep
and must hold after it. The sweep is ``waybills_recycle(as_of=now)`` in this process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from benchmarks import seed
from benchmarks.common import Results, header, step, verdict

SPARE = 1000
INSERT_PARTS = 2
SWEEP_TARGET = 60  # seconds for 1,000,000 numbers
FULL_SIZE = 1_000_000

#: (name, residues of g % 20)
KINDS = [
    ("idle", range(0, 8)),
    ("cancelled_old", range(8, 10)),
    ("cancelled_new", range(10, 11)),
    ("allocated_new", range(11, 14)),
    ("delivered", range(14, 20)),
]


@dataclass
class Dataset:
    shop: object
    subs: list  # [main, xlsx slice]
    total: int
    xlsx: int
    counts: dict = field(default_factory=dict)  # kind -> numbers


def _kind_sql(k: str) -> str:
    parts = [f"WHEN {k} < {r.stop} THEN '{name}'" for name, r in KINDS[:-1]]
    return f"CASE {' '.join(parts)} ELSE '{KINDS[-1][0]}' END"


def _number_sql(g: str, prefix: str, length: int) -> str:
    """The carrier's number for sequence value ``%(base)s + g``, check digit included
    (the built-in gateway's EAN-style mod 10: weights 3,1,3,… from the right), in
    integer arithmetic."""
    digits = length - 1
    value = f"(%(base)s + {g})::bigint"
    terms = " + ".join(
        f"({value} / {10**i}) %% 10" + (" * 3" if i % 2 == 0 else "") for i in range(digits)
    )
    return f"'{prefix}' || lpad({value}::text, {digits}, '0') || ((10 - ({terms}) %% 10) %% 10)"


def _allocated_sql(kind: str, spread: str) -> str:
    """When the number was drawn, by kind."""
    return (
        f"%(now)s - {spread} - CASE {kind} "
        "WHEN 'idle' THEN interval '40 days' WHEN 'cancelled_old' THEN interval '21 days' "
        "WHEN 'cancelled_new' THEN interval '6 days' WHEN 'allocated_new' THEN interval '3 days' "
        "ELSE interval '40 days' END"
    )


def seed_dataset(args) -> Dataset:
    from django.db import connection
    from django.utils import timezone

    from carriers.gateways.builtin import FORMATS

    total = args.waybills
    xlsx = min(args.xlsx_waybills, total)
    header(f"data set: {total:,} waybills in shop 100002 (recycling and export)")
    shop = seed.shop("100002")
    with step("open two ZTO subscriptions for shop 100002"):
        subs = [seed.open_service(shop, "ZTO"), seed.open_service(shop, "ZTO")]
    with step("pick template orders"):
        templates = seed.templates(shop, subs[0])
    from benchmarks.allocation import _screens

    screens = _screens(subs[0], templates)
    prefix, length = FORMATS["ZTO"]
    sequence = "waybill_seq_zto"
    now = timezone.now()
    with connection.cursor() as cur:
        cur.execute("SELECT nextval(%s)", [sequence])
        base = cur.fetchone()[0]
        cur.execute("SELECT setval(%s, %s)", [sequence, base + total - 1])
    k = "(g %% 20)"
    kind = _kind_sql(k)
    spread = "make_interval(mins => (g %% 3000)::int)"
    allocated = _allocated_sql(kind, spread)
    live = f"({kind}) IN ('idle', 'allocated_new', 'delivered')"
    params = {"base": base, "now": now}
    order_overrides = {
        "status": f"CASE {kind} WHEN 'delivered' THEN 'delivered' "
        "WHEN 'idle' THEN 'ready_to_ship' WHEN 'allocated_new' THEN 'ready_to_ship' "
        "ELSE 'paid' END",
        "created_at": f"{allocated} - interval '2 hours'",
        "paid_at": f"{allocated} - interval '1 hour'",
        "has_waybill": live,
        "carrier_code": f"CASE WHEN {live} THEN 'ZTO' ELSE '' END",
        "tracking_no": f"CASE WHEN {live} THEN {_number_sql('g', prefix, length)} ELSE '' END",
        "ready_to_ship_at": f"CASE WHEN {live} THEN {allocated} END",
        "shipped_at": f"CASE {kind} WHEN 'delivered' THEN {allocated} + interval '12 hours' END",
        "delivered_at": f"CASE {kind} WHEN 'delivered' THEN {allocated} + interval '3 days' END",
        "sla_due_at": "NULL",
    }
    with step("drop the plain indexes of shops_order and waybills_waybill"):
        indexes = seed.drop_indexes("shops_order", "waybills_waybill")
    with step(f"clone {total:,} orders"):
        first, last = seed.clone_orders(
            template_ids=templates,
            shop=shop,
            count=total,
            overrides=order_overrides,
            params=params,
        )
    with step(f"insert {total:,} waybills"):
        _insert_waybills(
            first=first,
            last=last,
            subs=subs,
            xlsx=xlsx,
            screens=screens,
            prefix=prefix,
            length=length,
            params=params,
        )
    with step(f"build the {len(indexes)} indexes again"):
        seed.create_indexes(indexes)
    with step("counters and ledger entries to match"):
        counts = _ledger(subs)
    with step("vacuum analyze"):
        with connection.cursor() as cur:
            for table in ("shops_order", "waybills_waybill", "carriers_ledgerentry"):
                cur.execute(f"VACUUM (ANALYZE) {table}")
    _check_numbers(first, last)
    dataset = Dataset(shop=shop, subs=subs, total=total, xlsx=xlsx)
    for name, residues in KINDS:
        dataset.counts[name] = sum(total // 20 + (1 if r < total % 20 else 0) for r in residues)
    print(f"  {counts}")
    return dataset


def _insert_waybills(*, first, last, subs, xlsx, screens, prefix, length, params) -> None:
    import json

    from benchmarks.allocation import _WAYBILL_COLUMNS
    from waybills.services.rows import sender_of as _sender

    k = "(g %% 20)"
    kind = _kind_sql(k)
    spread = "make_interval(mins => (g %% 3000)::int)"
    allocated = _allocated_sql("kind", spread)
    sender = json.dumps(_sender(subs[0]), ensure_ascii=False)
    exprs = {
        "shop_id": "o.shop_id",
        "subscription_id": "CASE WHEN g < %(xlsx)s THEN %(sub_b)s ELSE %(sub_a)s END",
        "carrier_id": "%(carrier)s",
        "branch_id": "CASE WHEN g < %(xlsx)s THEN %(branch_b)s ELSE %(branch_a)s END",
        "order_id": "o.id",
        "package_no": "1",
        "parent_id": "NULL",
        "waybill_no": _number_sql("g", prefix, length),
        "status": "CASE kind WHEN 'idle' THEN 'allocated' WHEN 'allocated_new' THEN "
        "'allocated' WHEN 'delivered' THEN 'delivered' ELSE 'cancelled' END",
        "has_tracking": "kind = 'delivered'",
        "sort_code": "sc.sort_code",
        "package_center_code": "sc.package_center_code",
        "package_center_name": "sc.package_center_name",
        "short_address_code": "sc.short_address_code",
        "short_address_name": "sc.short_address_name",
        "services": "'[\"standard\"]'",
        "sender": "%(sender)s",
        "receiver_name": "o.receiver_name",
        "receiver_phone": "o.receiver_phone",
        "receiver_detail": "o.receiver_detail",
        "receiver_name_masked": "o.receiver_name_masked",
        "receiver_phone_masked": "o.receiver_phone_masked",
        "receiver_province": "o.receiver_province",
        "receiver_city": "o.receiver_city",
        "receiver_district": "o.receiver_district",
        "weight_grams": "NULL",
        "items": "'[]'",
        "allocated_at": allocated,
        "last_changed_at": f"CASE kind WHEN 'cancelled_old' THEN {allocated} + interval '1 day' "
        f"WHEN 'cancelled_new' THEN {allocated} + interval '1 day' "
        f"WHEN 'delivered' THEN {allocated} + interval '3 days' ELSE {allocated} END",
        "cancelled_at": (
            f"CASE WHEN kind LIKE 'cancelled%%' THEN {allocated} + interval '1 day' END"
        ),
        "recycled_at": "NULL",
        "first_tracked_at": f"CASE kind WHEN 'delivered' THEN {allocated} + interval '1 day' END",
        "picked_up_at": f"CASE kind WHEN 'delivered' THEN {allocated} + interval '1 day' END",
        "print_count": "CASE WHEN kind IN ('delivered', 'idle') THEN 1 ELSE 0 END",
        "actor": "%(actor)s",
        "carrier_order_id": "'WB' || o.id || 'P1'",
        "print_data": "'{}'",
    }
    columns = [c.strip() for c in _WAYBILL_COLUMNS.split(",")]
    assert set(columns) == set(exprs), set(columns) ^ set(exprs)
    sql = f"""
        INSERT INTO waybills_waybill ({", ".join(columns)})
        SELECT {", ".join(exprs[c] for c in columns)}
          FROM (SELECT x.*, {kind} AS kind
                  FROM (SELECT o.*, o.id - %(first)s AS g FROM shops_order o
                         WHERE o.id BETWEEN %(lo)s AND %(hi)s) x) o
          JOIN bench_screens sc
            ON (sc.province, sc.city, sc.district)
             = (o.receiver_province, o.receiver_city, o.receiver_district)
         ORDER BY o.id
    """  # nosec B608
    params = {
        **params,
        "first": first,
        "xlsx": xlsx,
        "sub_a": subs[0].pk,
        "sub_b": subs[1].pk,
        "branch_a": subs[0].branch_id,
        "branch_b": subs[1].branch_id,
        "carrier": subs[0].carrier_id,
        "sender": sender,
        "actor": "user:merchant",
    }
    screen_rows = [
        (
            *key,
            s["sort_code"],
            s["package_center_code"],
            s["package_center_name"],
            s["short_address_code"],
            s["short_address_name"],
        )
        for key, s in screens.items()
    ]

    def part(lo: int, hi: int) -> int:
        import psycopg2
        from django.conf import settings

        from benchmarks.common import BENCH_DB, psycopg_kwargs

        conn = psycopg2.connect(**psycopg_kwargs(settings.DATABASES["default"], BENCH_DB))
        try:
            with conn, conn.cursor() as cur:
                cur.execute(
                    "CREATE TEMP TABLE bench_screens (province text, city text, district text, "
                    "sort_code text, package_center_code text, package_center_name text, "
                    "short_address_code text, short_address_name text)"
                )
                cur.executemany(
                    "INSERT INTO bench_screens VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    screen_rows,
                )
                cur.execute(sql, {**params, "lo": lo, "hi": hi})
                return cur.rowcount
        finally:
            conn.close()

    from concurrent.futures import ThreadPoolExecutor

    from benchmarks.allocation import split

    # one INSERT per core: the SELECT's expressions keep a backend busy
    with ThreadPoolExecutor(max_workers=INSERT_PARTS) as pool:
        inserted = sum(pool.map(lambda r: part(*r), split(first, last, INSERT_PARTS)))
    if inserted != last - first + 1:
        raise RuntimeError(f"inserted {inserted} waybills for {last - first + 1} orders")


def _check_numbers(first: int, last: int) -> None:
    """The SQL-made numbers are valid carrier numbers, and live ones are on their order."""
    from django.db import connection

    from carriers.gateways.builtin import number_is_valid

    with connection.cursor() as cur:
        cur.execute(
            "SELECT w.waybill_no, w.status, o.tracking_no FROM waybills_waybill w "
            "JOIN shops_order o ON o.id = w.order_id "
            "WHERE w.order_id BETWEEN %s AND %s ORDER BY w.order_id LIMIT 1000",
            [first, last],
        )
        for number, status, tracking_no in cur.fetchall():
            if not number_is_valid("ZTO", number):
                raise RuntimeError(f"bench data set: {number} is no valid ZTO number")
            if status != "cancelled" and tracking_no != number:
                raise RuntimeError(f"bench data set: order tracking {tracking_no} != {number}")


def _ledger(subs) -> dict:
    """Counters and ledger entries that agree with the numbers just inserted."""
    from django.db import connection
    from django.utils import timezone

    out = {}
    with connection.cursor() as cur:
        for sub in subs:
            cur.execute(
                "SELECT count(*), count(*) FILTER (WHERE status = 'cancelled') "
                "FROM waybills_waybill WHERE subscription_id = %s",
                [sub.pk],
            )
            drawn, cancelled = cur.fetchone()
            at = timezone.now()
            cur.execute(
                "INSERT INTO carriers_ledgerentry (subscription_id, kind, amount, balance_after, "
                "at, actor, note, reference) VALUES "
                "(%(sub)s, 'recharge', %(recharge)s, %(recharge)s, %(at)s, 'system', "
                "'bench data set', ''), "
                "(%(sub)s, 'allocation', -%(drawn)s, %(spare)s, %(at)s, 'system', "
                "'bench data set', 'bench')",
                {
                    "sub": sub.pk,
                    "recharge": drawn + SPARE,
                    "drawn": drawn,
                    "spare": SPARE,
                    "at": at,
                },
            )
            cur.execute(
                "UPDATE carriers_subscription SET balance = %(spare)s, allocated_total = "
                "%(drawn)s, cancelled_total = %(cancelled)s, cancel_basis = %(drawn)s "
                "WHERE id = %(sub)s",
                {"sub": sub.pk, "spare": SPARE, "drawn": drawn, "cancelled": cancelled},
            )
            out[f"subscription {sub.pk}"] = f"{drawn:,} numbers, {cancelled:,} cancelled"
    return out


def run(args, results: Results, dataset: Dataset) -> None:
    from django.db import connection
    from django.utils import timezone

    from carriers.services import ledger_check
    from waybills.services import waybills_recycle

    header(f"recycling sweep over {dataset.total:,} waybills")
    problems = ledger_check()
    if problems:
        results.fail(f"ledger_check() before the sweep: {problems[:5]}")
    started = time.monotonic()
    counts = waybills_recycle(as_of=timezone.now(), batch_size=args.recycle_batch)
    seconds = time.monotonic() - started
    expected = {
        "cancelled": dataset.counts["cancelled_old"],
        "idle": dataset.counts["idle"],
    }
    recycled = counts["cancelled"] + counts["idle"]
    print(
        f"  waybills_recycle(batch_size={args.recycle_batch}): {seconds:.1f} s; "
        f"recycled {counts['idle']:,} idle + {counts['cancelled']:,} cancelled "
        f"= {recycled:,} ({recycled / seconds:,.0f}/s); expected {expected}"
    )
    row = results.add(
        "recycle",
        f"sweep over {dataset.total:,} numbers ({recycled:,} recycled)",
        seconds,
        "s",
        ratio=f"{recycled / seconds:,.0f}/s",
    )
    if dataset.total == FULL_SIZE:
        row.target = f"< {SWEEP_TARGET} s"
        row.verdict = verdict(seconds < SWEEP_TARGET)
    else:
        row.target = f"(< {SWEEP_TARGET} s at 1,000,000)"
    if counts.get("skipped") or {k: counts[k] for k in expected} != expected:
        results.fail(f"recycled {counts}, expected {expected}")
    problems = ledger_check()
    print(f"    {'ok ' if not problems else 'BROKEN'} ledger = counters after the sweep")
    if problems:
        results.fail(f"ledger_check() after the sweep: {problems[:5]}")
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM carriers_subscription WHERE balance < 0")
        negative = cur.fetchone()[0]
        cur.execute(
            "SELECT sum(balance) FILTER (WHERE id = ANY(%s)) FROM carriers_subscription",
            [[s.pk for s in dataset.subs]],
        )
        balance = cur.fetchone()[0]
    if negative:
        results.fail(f"{negative} subscriptions with a negative balance after the sweep")
    returned = balance == SPARE * len(dataset.subs) + recycled
    print(f"    {'ok ' if returned else 'BROKEN'} every recycled number back in the balance")
    if not returned:
        results.fail(f"balance {balance} after the sweep; expected spare + {recycled}")
