"""Reservations: quota held for an order package while its carrier is asked for numbers.

``reserve`` moves the balance (prepaid carriers), the drawn count and the ledger in one
statement that holds the quota row's lock only for itself; ``commit`` is a fragment of the
caller's statement that turns the reservation into waybills (so the waybills, the order's
mark and the reservation's state change together); ``release`` gives the quota back with
a ledger entry when the carrier issued nothing. A reservation whose outcome is unknown
stays ``reserved`` until a retry or the settling sweep asks the carrier again with the same
``carrier_order_id``.

One open reservation per (shop, order, first package): a concurrent draw for the same
package hits the partial unique constraint and continues the open one instead.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction

from carriers.errors import QuotaInsufficient, SubscriptionNotActive
from carriers.models import Reservation, Subscription, SubscriptionStatus
from carriers.quota.low_balance import low_balance_drawn, low_balance_near
from waybill_console import rawsql

USABLE = (SubscriptionStatus.ACTIVE, SubscriptionStatus.EXPIRING)


@dataclass
class Held:
    """One reservation as the engine uses it."""

    id: int
    order_id: int
    package_from: int
    count: int
    carrier_order_id: str
    continued: bool = False  # an earlier attempt's reservation, asked again
    params: dict | None = None


@dataclass(frozen=True)
class Want:
    """What to reserve for one order package."""

    shop_id: int
    order_id: int
    package_from: int
    count: int
    params: dict


def carrier_order_id(order_id: int, package_from: int) -> str:
    """The id the carrier knows the package by: ours, unique, at most 32 characters."""
    return f"WB{order_id}P{package_from}{secrets.token_hex(5).upper()}"[:32]


_RESERVE_SQL = """
WITH q AS (
    UPDATE carriers_subscription
       SET balance = balance - %(charge)s::int,
           allocated_total = allocated_total + %(n)s::int
     WHERE id = %(sub)s::bigint AND status IN ('active', 'expiring')
       AND balance >= %(charge)s::int
 RETURNING id, balance
), r AS (
    INSERT INTO carriers_reservation (subscription_id, shop_id, order_id, package_from, count,
                                      charge, carrier_order_id, state, params, actor,
                                      last_error, created_at)
    SELECT q.id, v.shop_id, v.order_id, v.package_from, v.count,
           CASE WHEN %(prepaid)s::boolean THEN v.count ELSE 0 END, v.coid, 'reserved',
           v.params::jsonb, %(actor)s::text, '', %(at)s::timestamptz
      FROM q, unnest(%(shops)s::bigint[], %(orders)s::bigint[], %(froms)s::int[],
                     %(counts)s::int[], %(coids)s::text[], %(params)s::text[])
           AS v(shop_id, order_id, package_from, count, coid, params)
 RETURNING id, order_id, package_from, count, carrier_order_id
), l AS (
    INSERT INTO carriers_ledgerentry (subscription_id, kind, amount, balance_after, at, actor,
                                      note, reference)
    SELECT q.id, 'allocation', -%(charge)s::int, q.balance, %(at)s::timestamptz,
           %(actor)s::text, '', %(ref)s::text
      FROM q WHERE %(prepaid)s::boolean
)
SELECT r.id, r.order_id, r.package_from, r.count, r.carrier_order_id, q.balance FROM q, r
"""


def _positional(sql: str) -> tuple[str, list[str]]:
    """``%(name)s`` placeholders as ``%s`` and the names in order (prepared statements take
    positional parameters)."""
    names = re.findall(r"%\((\w+)\)s", sql)
    return re.sub(r"%\((\w+)\)s", "%s", sql), names


_RESERVE_POSITIONAL, _RESERVE_NAMES = _positional(_RESERVE_SQL)


def _prepaid(sub: Subscription) -> bool:
    return sub.carrier.network_type == "franchise"


def reserve(
    *, sub: Subscription, wants: list[Want], at: datetime, actor: str, reference: str
) -> list[Held]:
    """Reserve every package or none (QUOTA_INSUFFICIENT / SUBSCRIPTION_NOT_ACTIVE).

    The statement commits on its own outside a transaction (the lock lasts one statement);
    inside one it runs in a savepoint so a refusal leaves the caller's transaction usable.
    A draw that may take a prepaid balance under the warning line
    (:func:`~carriers.quota.low_balance.low_balance_near`) runs in a transaction too, so
    that ``quota.low`` commits with it. A package that already has an open reservation
    raises IntegrityError: see :func:`reserve_or_continue`."""
    name, sql, values = reserve_statement(
        sub=sub, wants=wants, at=at, actor=actor, reference=reference
    )
    count = sum(w.count for w in wants)
    if connection.in_atomic_block or low_balance_near(sub=sub, count=count):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(_RESERVE_SQL, values[1])
            rows = cur.fetchall()
            if rows:
                low_balance_drawn(sub=sub, balance=rows[0][5], count=count)
    else:  # the hot path: one prepared statement that commits on its own
        with connection.cursor() as cur:
            rawsql.execute_prepared(cur, name, sql, values[0])
            rows = cur.fetchall()
        if rows:
            low_balance_drawn(sub=sub, balance=rows[0][5], count=count)
    if not rows:
        refuse(sub)
    by_key = {(w.order_id, w.package_from): w for w in wants}
    return [
        Held(
            pk, order_id, package_from, count, coid, params=by_key[(order_id, package_from)].params
        )
        for pk, order_id, package_from, count, coid, _balance in rows
    ]


def reserve_statement(
    *,
    sub: Subscription,
    wants: list[Want],
    at: datetime,
    actor: str,
    reference: str,
) -> tuple[str, str, tuple[list, dict]]:
    """The reserving statement as ``(name, positional sql, (positional params, named
    params))``."""
    n = sum(w.count for w in wants)
    prepaid = _prepaid(sub)
    params = {
        "charge": n if prepaid else 0,
        "n": n,
        "sub": sub.pk,
        "prepaid": prepaid,
        "actor": actor[:60],
        "at": at,
        "ref": reference[:64],
        "shops": [w.shop_id for w in wants],
        "orders": [w.order_id for w in wants],
        "froms": [w.package_from for w in wants],
        "counts": [w.count for w in wants],
        "coids": [carrier_order_id(w.order_id, w.package_from) for w in wants],
        "params": [json.dumps(w.params, ensure_ascii=False) for w in wants],
    }
    return "wbc_reserve", _RESERVE_POSITIONAL, ([params[n] for n in _RESERVE_NAMES], params)


def refuse(sub: Subscription) -> None:
    """Raise why the reserving statement took nothing: the service is not usable now, or
    its balance does not cover the packages."""
    current = Subscription.objects.filter(pk=sub.pk).values_list("status", "balance").first()
    status, balance = current or (None, 0)
    if status not in USABLE:
        sub.status = status
        raise SubscriptionNotActive(status=sub.get_status_display())
    raise QuotaInsufficient(detail={"balance": balance})


def balance_of(sub: Subscription) -> int:
    return Subscription.objects.values_list("balance", flat=True).get(pk=sub.pk)


def open_reservations(*, shop_id: int, keys: list[tuple[int, int]]) -> dict[tuple, Held]:
    """The open reservations of these (order, first package) keys, by key."""
    if not keys:
        return {}
    rows = Reservation.objects.filter(
        shop_id=shop_id,
        state=Reservation.State.RESERVED,
        order_id__in={k[0] for k in keys},
    ).values_list("id", "order_id", "package_from", "count", "carrier_order_id", "params")
    wanted = set(keys)
    return {
        (o, p): Held(pk, o, p, c, coid, continued=True, params=params)
        for pk, o, p, c, coid, params in rows
        if (o, p) in wanted
    }


def reserve_or_continue(
    *, sub: Subscription, wants: list[Want], at: datetime, actor: str, reference: str
) -> list[Held]:
    """Reserve, except for packages whose earlier attempt is still open: those continue
    it (same carrier-side order id, nothing charged again). All or nothing for the new
    ones."""
    held: dict[tuple, Held] = {}
    for _attempt in range(3):
        fresh = [w for w in wants if (w.order_id, w.package_from) not in held]
        try:
            if fresh:
                for h in reserve(sub=sub, wants=fresh, at=at, actor=actor, reference=reference):
                    held[(h.order_id, h.package_from)] = h
            return [held[(w.order_id, w.package_from)] for w in wants]
        except IntegrityError:
            # an earlier attempt's reservation is still open for some of them (rare: only
            # then is it looked up): those continue it
            for shop_id in {w.shop_id for w in fresh}:
                held.update(
                    open_reservations(
                        shop_id=shop_id,
                        keys=[(w.order_id, w.package_from) for w in fresh if w.shop_id == shop_id],
                    )
                )
    raise QuotaInsufficient()  # pragma: no cover - three races in a row


def reserve_upto(
    *, sub: Subscription, wants: list[Want], at: datetime, actor: str, reference: str
) -> tuple[list[Held], list[Want]]:
    """As many of ``wants`` (in order) as the balance still covers: (held, refused)."""
    try:
        return reserve_or_continue(
            sub=sub, wants=wants, at=at, actor=actor, reference=reference
        ), []
    except QuotaInsufficient:
        if not _prepaid(sub):
            raise
    available = balance_of(sub)
    take, total = [], 0
    for want in wants:
        if total + want.count > available:
            break
        take.append(want)
        total += want.count
    if not take:
        return [], list(wants)
    try:
        held = reserve_or_continue(sub=sub, wants=take, at=at, actor=actor, reference=reference)
    except QuotaInsufficient:  # spent meanwhile by someone else
        return [], list(wants)
    return held, wants[len(take) :]


#: the caller's statement commits the reservations with this fragment (CTE ``r``): only the
#: ones still open become waybills, so a reservation is committed at most once
COMMIT_CTE = """r AS (
    UPDATE carriers_reservation SET state = 'committed', resolved_at = %s, last_error = ''
     WHERE carrier_order_id = ANY(%s) AND state = 'reserved'
 RETURNING carrier_order_id
)"""


#: a draw whose numbers the same statement inserts (a gateway that issues without a network
#: call, so nothing can be left unknown and no reservation is kept): CTE ``q`` moves the
#: counters (and the balance, prepaid), ``l`` writes the ledger entry, ``r`` lists the
#: packages' carrier-side order ids when the draw was taken, for the caller's insert. It
#: takes nothing when the service is not usable now, the balance is short, or an order of
#: the draw has an open reservation (an earlier attempt's: the general path continues it).
#: Parameters: :func:`draw_params`.
DRAW_CTE = """q AS (
    UPDATE carriers_subscription
       SET balance = balance - %s::int, allocated_total = allocated_total + %s::int
     WHERE id = %s::bigint AND status IN ('active', 'expiring') AND balance >= %s::int
       AND NOT EXISTS (SELECT 1 FROM carriers_reservation o
                        WHERE o.shop_id = ANY(%s::bigint[]) AND o.order_id = ANY(%s::bigint[])
                          AND o.state = 'reserved')
 RETURNING id, balance
), l AS (
    INSERT INTO carriers_ledgerentry (subscription_id, kind, amount, balance_after, at, actor,
                                      note, reference)
    SELECT q.id, 'allocation', -%s::int, q.balance, %s::timestamptz, %s::text, '', %s::text
      FROM q WHERE %s::boolean
), r AS (
    SELECT x.coid AS carrier_order_id FROM q, unnest(%s::text[]) AS x(coid)
)"""


def draw_params(
    *,
    sub: Subscription,
    wants: list[Want],
    coids: list[str],
    at: datetime,
    actor: str,
    reference: str,
) -> list:
    """The parameters of :data:`DRAW_CTE`."""
    n = sum(w.count for w in wants)
    prepaid = _prepaid(sub)
    charge = n if prepaid else 0
    return [
        charge,
        n,
        sub.pk,
        charge,
        sorted({w.shop_id for w in wants}),
        [w.order_id for w in wants],
        charge,
        at,
        actor[:60],
        reference[:64],
        prepaid,
        coids,
    ]


def commit_params(*, carrier_order_ids: list[str], at: datetime) -> list:
    """The parameters of :data:`COMMIT_CTE`: the reservations by their carrier-side order
    ids (known before the reservation's own id, so the commit can follow the reserving
    statement in the same round trip)."""
    return [at, carrier_order_ids]


_RELEASE_SQL = """
WITH r AS (
    UPDATE carriers_reservation SET state = 'released', resolved_at = %(at)s,
           last_error = %(why)s
     WHERE id = ANY(%(ids)s) AND state = 'reserved'
 RETURNING subscription_id, count, charge
), per AS (
    SELECT subscription_id, sum(count) AS n, sum(charge) AS c FROM r GROUP BY subscription_id
), s AS (
    UPDATE carriers_subscription s
       SET balance = s.balance + per.c, allocated_total = s.allocated_total - per.n
      FROM per
     WHERE s.id = per.subscription_id
 RETURNING s.id, s.balance, per.c
), l AS (
    INSERT INTO carriers_ledgerentry (subscription_id, kind, amount, balance_after, at, actor,
                                      note, reference)
    SELECT id, 'release', c, balance, %(at)s, %(actor)s, %(why)s, %(ref)s FROM s WHERE c > 0
)
SELECT coalesce(sum(n), 0) FROM per
"""


#: the quota rows first, as the reserving statement takes them (the quota row, then the
#: reservation's unique index): a release taking the reservation first would wait for a
#: reserve of the same package that waits for it (a deadlock PostgreSQL ends by failing one)
_RELEASE_LOCK_SQL = """
SELECT s.id FROM carriers_subscription s
 WHERE s.id IN (SELECT subscription_id FROM carriers_reservation
                 WHERE id = ANY(%s) AND state = 'reserved')
 ORDER BY s.id FOR UPDATE
"""


def release(
    *, ids: list[int], at: datetime, why: str, actor: str = "system", reference: str = ""
) -> int:
    """Give back what these open reservations hold (the carrier issued nothing); returns the
    numbers released. One already committed or released is left alone."""
    if not ids:
        return 0
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(_RELEASE_LOCK_SQL, [ids])
        cur.execute(
            _RELEASE_SQL,
            {"ids": ids, "at": at, "why": why[:200], "actor": actor[:60], "ref": reference[:64]},
        )
        return cur.fetchone()[0]


def note_error(*, ids: list[int], message: str) -> None:
    """An unknown outcome: the reservation stays open, with what happened."""
    Reservation.objects.filter(pk__in=ids, state=Reservation.State.RESERVED).update(
        last_error=message[:200]
    )


def reservations_due(*, before: datetime, limit: int = 200) -> list[Reservation]:
    """Open reservations older than ``before`` (their attempt ended without an answer)."""
    return list(
        Reservation.objects.filter(state=Reservation.State.RESERVED, created_at__lt=before)
        .select_related("subscription__carrier", "subscription__branch", "subscription__address")
        .order_by("created_at", "id")[:limit]
    )
