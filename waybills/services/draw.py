"""The one allocation path: every door that draws numbers (the order page, the API, the
batch job, appended sub numbers, a factory drawing on a merchant's behalf) ends here.

1. The caller has resolved the order, its package and the subscription, checked the order
   (``order_refuse_if_blocked(order, purpose=…)``) and screened the receiver.
2. :func:`obtain` reserves the quota (:mod:`carriers.quota`: one statement, the quota
   row's lock held only by it; the subscription's status is checked by the same statement,
   so a service suspended mid-request is refused on every door), then asks the carrier
   for the numbers with the reservation's carrier-side order id. No transaction and no
   row lock is held while the carrier is asked.
3. :func:`commit` turns the answered reservations into waybills in one statement (the
   reservations' state, the waybills, the order's mark, its open 面单异常); a definite
   refusal releases the reservation at once; an unknown outcome (a time-out after the
   request left) keeps it: the next attempt for the package continues it with the same
   carrier-side order id, and ``settle.reservations_settle`` (beat) asks the carrier
   about any left open, so a package never gets two numbers and no quota is lost.

A gateway that issues without a network call (the built-in sandbox) takes the same steps
in one round trip: its numbers first, then the quota drawn and the numbers committed by
one statement, with nothing left to settle (:func:`_obtain_local`).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import partial

from django.db import IntegrityError, OperationalError, connection, transaction

from carriers import quota
from carriers.gateways import gateway_for
from carriers.gateways.base import Issued, IssueRequest, ScreenResult, cancel_calls
from carriers.models import Subscription
from carriers.quota.reservations import COMMIT_CTE, Held, Want
from events.services.outbox_sql import Batch, insert_cte
from shops.models import Order
from shops.services.order_events import WAYBILL_ALLOCATED_CTE
from shops.services.order_marks import MARK_NUMBERED_CTE
from waybill_console import rawsql
from waybill_console.errors import AppError
from waybills.models import LIVE_STATUSES, Waybill
from waybills.services import rows as R
from waybills.services import waybill_outbox
from waybills.services.receiver import receiver_of, receiver_reveal_for_carrier

log = logging.getLogger(__name__)
#: PostgreSQL's SQLSTATE for a transaction chosen to end a lock cycle
DEADLOCK_DETECTED = "40P01"


@dataclass
class Package:
    """One order package set to number: packages ``package_from`` … ``+count-1``."""

    order: Order
    shop_id: int  # the drawing shop (a factory's for 代发)
    screen: ScreenResult
    sender: dict
    package_from: int = 1
    count: int = 1
    items: list = field(default_factory=list)
    weight_grams: int | None = None
    services: list[str] = field(default_factory=list)
    parent_id: int | None = None  # appended sub numbers: their parent waybill
    purpose: str = "allocate"
    #: the package number the first row gets (a factory's: decided under its lock)
    first_package_no: int | None = None


@dataclass
class Drawn:
    package: Package
    held: Held | None = None
    issued: Issued | None = None
    error: AppError | None = None
    #: committed rows ``(id, order_id, package_no, waybill_no)``; empty when another attempt
    #: committed the reservation first
    rows: list[tuple] = field(default_factory=list)
    committed: bool = False
    #: the waybills' values as the commit sent them (answers are built from them, unread)
    values: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.issued is not None and self.error is None


def _want(p: Package, *, settle: bool = True) -> Want:
    """What to reserve for ``p``; with ``settle`` the reservation keeps what settling it
    would ask the carrier again with."""
    if not settle:
        return Want(p.shop_id, p.order.pk, p.package_from, p.count, {"purpose": p.purpose})
    return Want(
        shop_id=p.shop_id,
        order_id=p.order.pk,
        package_from=p.package_from,
        count=p.count,
        params={
            "purpose": p.purpose,
            "screen": asdict(p.screen),
            "sender": p.sender,
            "items": p.items,
            "weight_grams": p.weight_grams,
            "services": p.services,
            "parent_id": p.parent_id,
        },
    )


def obtain(
    *,
    actor_name: str,
    sub: Subscription,
    packages: list[Package],
    at: datetime,
    reference: str,
    upto: bool = False,
) -> list[Drawn]:
    """Reserve and ask the carrier; nothing is committed yet. Without ``upto`` the quota
    covers every package or QUOTA_INSUFFICIENT / SUBSCRIPTION_NOT_ACTIVE is raised with
    nothing charged; with it the first packages the balance covers are reserved and the
    rest come back with QUOTA_INSUFFICIENT."""
    from carriers.errors import QuotaInsufficient

    gateway = gateway_for(sub.carrier.code)
    local = _obtain_local(
        gateway,
        actor_name=actor_name,
        sub=sub,
        packages=packages,
        at=at,
        reference=reference,
    )
    if local is not None:
        return local
    wants = [_want(p) for p in packages]
    if upto:
        held, refused = quota.reserve_upto(
            sub=sub, wants=wants, at=at, actor=actor_name, reference=reference
        )
    else:
        held = quota.reserve_or_continue(
            sub=sub, wants=wants, at=at, actor=actor_name, reference=reference
        )
        refused = []
    drawn = [Drawn(p, h) for p, h in zip(packages, held, strict=False)]
    short = QuotaInsufficient()
    drawn += [Drawn(p, error=short) for p in packages[len(held) :]]
    assert len(refused) == len(packages) - len(held)
    asking = [d for d in drawn if d.held is not None]
    requests = [
        issue_request(
            d.package, sub=sub, carrier_order_id=d.held.carrier_order_id, count=d.held.count
        )
        for d in asking
    ]
    answers = gateway.issue_many(requests) if requests else []
    release, unknown = [], []
    for d, answer in zip(asking, answers, strict=True):
        if isinstance(answer, AppError):
            d.error = answer
            (unknown if answer.outcome_unknown else release).append(d)
        elif isinstance(answer, Exception):  # pragma: no cover - an adapter's bug
            raise answer
        else:
            d.issued = answer
    if release:
        quota.release(
            ids=[d.held.id for d in release],
            at=at,
            why=release[0].error.render_message(),
            actor=actor_name,
            reference=reference,
        )
    if unknown:
        quota.note_error(ids=[d.held.id for d in unknown], message=unknown[0].error.code)
    return drawn


def issue_request(
    p: Package, *, sub: Subscription, carrier_order_id: str, count: int
) -> IssueRequest:
    return IssueRequest(
        carrier_order_id=carrier_order_id,
        subscription=sub,
        sender=p.sender,
        receiver=receiver_of(p.order),
        items=p.items,
        weight_grams=p.weight_grams,
        package_count=count,
        services=p.services or p.screen.services,
        screen=p.screen,
        reveal_receiver=partial(receiver_reveal_for_carrier, p.order),
    )


#: the orders first: waiting for an order row someone else holds (an edit, another draw)
#: must happen before the quota row is taken, never while holding it
_LOCK_ORDERS_SQL = "SELECT id FROM shops_order WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE"


def _obtain_local(
    gateway,
    *,
    actor_name: str,
    sub: Subscription,
    packages: list[Package],
    at: datetime,
    reference: str,
) -> list[Drawn] | None:
    """The same path in one round trip for a gateway that issues without a network call
    (the built-in sandbox, ``issue_local``): the numbers are taken first (no lock held),
    then the orders' rows are locked and one statement draws the quota and commits the
    numbers (:data:`carriers.quota.DRAW_CTE`), as one transaction: the quota row is locked
    only while PostgreSQL runs that statement. Nothing can be left unknown between the
    carrier's answer and the commit, so no reservation is kept and the sandbox records
    nothing (it has nothing to be asked again about).

    All packages or none: None (nothing written, the numbers unused) sends the caller down
    the general path, which sorts out what this one does not (the service not usable or
    the balance short: it says which; an open reservation or a live number for a package,
    a balance that covers only part of a batch, 子母件 whose sub numbers the commit links
    in a second statement, a caller's transaction, a draw that may take a prepaid balance
    under the warning line: ``quota.low`` is then written with the reservation, in its
    transaction).

    The ``waybill.allocated`` events go in the same statement (:func:`_commit_sql`), which
    also returns the balance the draw left, so a crossing of the warning line that the read
    balance did not foresee is still told (:func:`carriers.quota.low_balance_drawn`)."""
    issue_local = getattr(gateway, "issue_local", None)
    if issue_local is None or connection.in_atomic_block:
        return None
    if any(p.count > 1 and p.package_from == 1 for p in packages):
        return None
    count = sum(p.count for p in packages)
    if quota.low_balance_near(sub=sub, count=count):
        return None  # this draw may take the balance under the warning line: see reserve()
    coids = [quota.carrier_order_id(p.order.pk, p.package_from) for p in packages]
    requests = [
        issue_request(p, sub=sub, carrier_order_id=coid, count=p.count)
        for p, coid in zip(packages, coids, strict=True)
    ]
    issued = issue_local(requests)
    if issued is None:
        return None
    wants = [_want(p, settle=False) for p in packages]
    drawn = [
        Drawn(p, Held(0, p.order.pk, p.package_from, p.count, coid, params=w.params), i)
        for p, coid, w, i in zip(packages, coids, wants, issued, strict=True)
    ]
    draw = quota.draw_params(
        sub=sub, wants=wants, coids=coids, at=at, actor=actor_name, reference=reference
    )
    params, events = _commit_params(sub=sub, ready=drawn, at=at, actor_name=actor_name, head=draw)
    try:
        with connection.cursor() as cur:
            rawsql.execute_prepared_together(
                cur,
                [
                    ("wbc_lock_orders", _LOCK_ORDERS_SQL, [[p.order.pk for p in packages]]),
                    ("wbc_commit_local", _COMMIT_LOCAL_SQL, params),
                ],
            )
            inserted = cur.fetchall()
    except IntegrityError:
        return None
    except OperationalError as exc:
        # PostgreSQL broke a lock cycle with another draw of the same package: the whole
        # implicit transaction rolled back (nothing written), the general path decides
        if getattr(exc.__cause__, "pgcode", None) != DEADLOCK_DETECTED:
            raise
        log.info("local draw of %s rolled back by a deadlock; the general path decides", coids)
        return None
    if not inserted:  # the draw took nothing: not usable, the balance short, or an open
        return None  # reservation for one of the orders: the general path says which
    events.written()
    quota.low_balance_drawn(sub=sub, balance=inserted[0][4], count=count)
    _take_rows(drawn, [row[:4] for row in inserted])
    return drawn


def _rows_for(d: Drawn, *, sub: Subscription, at: datetime, actor_name: str) -> list[dict]:
    p, issued = d.package, d.issued
    screen = issued.routing or p.screen
    first = p.first_package_no or p.package_from
    rows = []
    for i, number in enumerate(issued.numbers):
        rows.append(
            R.row_values(
                shop_id=p.shop_id,
                order=p.order,
                sub=sub,
                screen=screen,
                number=number,
                package_no=first + i,
                at=at,
                actor_name=actor_name,
                sender=p.sender,
                items=p.items if i == 0 else [],
                weight_grams=p.weight_grams if i == 0 else None,
                parent_id=p.parent_id,
                carrier_order_id=issued.carrier_order_id,
                print_data=issued.print_data,
            )
        )
    return rows


def _commit_sql(*, local: bool) -> str:
    """The commit statement: the reservations, the waybills, the order's mark, its open
    面单异常, its history event and the ``waybill.allocated`` events of the numbers it
    inserts (:func:`waybill_outbox.allocated_batch`). ``local``: the quota is drawn by the
    statement itself (:data:`carriers.quota.DRAW_CTE`, :func:`_obtain_local`) instead of
    committing reservations, and each row also carries the balance the draw left."""
    head = quota.DRAW_CTE if local else COMMIT_CTE
    after = ", (SELECT balance FROM q)" if local else ""
    return f"""
WITH {head},
v AS (SELECT * FROM {R.unnest_sql()}),
w AS (
    INSERT INTO waybills_waybill ({R.COLUMNS})
    SELECT {R.select_sql()} FROM v WHERE v.reservation_key IN (SELECT carrier_order_id FROM r)
 RETURNING id, order_id, shop_id, package_no, waybill_no
),
{MARK_NUMBERED_CTE},
e AS (
    UPDATE waybills_allocationexception x SET resolved_at = %s
     WHERE x.resolved_at IS NULL AND x.order_id IN (SELECT order_id FROM w)
       AND x.shop_id IN (SELECT shop_id FROM w)
),
{WAYBILL_ALLOCATED_CTE},
{insert_cte("wev", source="w", key="waybill_no")}
SELECT w.id, w.order_id, w.package_no, w.waybill_no{after} FROM w
"""  # nosec B608


_COMMIT_SQL = _commit_sql(local=False)
_COMMIT_LOCAL_SQL = _commit_sql(local=True)


def commit(*, sub: Subscription, drawn: list[Drawn], at: datetime, actor_name: str) -> None:
    """Commit every answered reservation of ``drawn`` in one statement (in the caller's
    transaction if there is one, where it runs in a savepoint). A reservation committed
    meanwhile by another attempt inserts nothing: its ``rows`` stay empty. Raises
    IntegrityError when a package already holds a live number from another reservation
    (see :func:`commit_or_release`)."""
    ready = _pending(drawn)
    if not ready:
        return
    params, events = _commit_params(sub=sub, ready=ready, at=at, actor_name=actor_name)
    children = any(d.held.count > 1 and d.package.package_from == 1 for d in ready)
    if not children and not connection.in_atomic_block:
        # one prepared statement that commits on its own (one round trip, one or fifty rows)
        with connection.cursor() as cur:
            rawsql.execute_prepared(cur, "wbc_commit", _COMMIT_SQL, params)
            inserted = cur.fetchall()
    else:
        with transaction.atomic(), connection.cursor() as cur:
            rawsql.execute_prepared(cur, "wbc_commit", _COMMIT_SQL, params)
            inserted = cur.fetchall()
            if children:  # 子母件: the sub numbers point at the parent inserted with them
                ids = [r[0] for r in inserted]
                cur.execute(
                    """UPDATE waybills_waybill c SET parent_id = p.id
                         FROM waybills_waybill p
                        WHERE c.id = ANY(%s) AND c.package_no > 1 AND c.parent_id IS NULL
                          AND p.id = ANY(%s) AND p.order_id = c.order_id
                          AND p.shop_id = c.shop_id AND p.package_no = 1""",
                    [ids, ids],
                )
    events.written()
    _take_rows(ready, inserted)


def _pending(drawn: list[Drawn]) -> list[Drawn]:
    """The answered packages not committed yet."""
    return [d for d in drawn if d.ok and not d.committed]


def _commit_params(
    *,
    sub: Subscription,
    ready: list[Drawn],
    at: datetime,
    actor_name: str,
    head: list | None = None,
) -> tuple[list, Batch]:
    """The commit statement's parameters, and the events it writes (told once it ran).
    ``head``: the local statement's draw (:func:`carriers.quota.draw_params`); else the
    reservations committed."""
    rows: list[dict] = []
    keys: list[str] = []
    for d in ready:
        d.values = _rows_for(d, sub=sub, at=at, actor_name=actor_name)
        rows += d.values
        keys += [d.held.carrier_order_id] * len(d.values)
    if head is None:
        coids = [d.held.carrier_order_id for d in ready]
        head = quota.commit_params(carrier_order_ids=coids, at=at)
    events = waybill_outbox.allocated_batch(ready, sub=sub, at=at)
    # the order mark (carrier), the exceptions resolved (at), the history event, the events
    return (
        head
        + R.column_arrays(rows, keys)
        + [sub.carrier.code, at, at, actor_name, sub.carrier.code]
        + events.params()
    ), events


def _take_rows(ready: list[Drawn], inserted: list[tuple]) -> None:
    """Hand each package the rows the commit inserted for it."""
    by_order: dict[int, list] = {}
    for row in inserted:
        by_order.setdefault(row[1], []).append(row)
    for d in ready:
        first = d.package.first_package_no or d.package.package_from
        mine = [
            r for r in by_order.get(d.package.order.pk, []) if first <= r[2] < first + d.held.count
        ]
        d.rows, d.committed = sorted(mine, key=lambda r: r[2]), bool(mine)


def commit_or_release(
    *, sub: Subscription, drawn: list[Drawn], at: datetime, actor_name: str
) -> None:
    """:func:`commit`; when a package already holds a live number from another attempt
    (a race the caller lost), commit the others one by one and release the loser's quota
    and its number at the carrier."""
    try:
        commit(sub=sub, drawn=drawn, at=at, actor_name=actor_name)
        return
    except IntegrityError:
        if len(_pending(drawn)) == 1:
            lost_race(sub, _pending(drawn), at=at, actor_name=actor_name)
            return
    for d in _pending(drawn):
        try:
            commit(sub=sub, drawn=[d], at=at, actor_name=actor_name)
        except IntegrityError:
            lost_race(sub, [d], at=at, actor_name=actor_name)


def lost_race(sub: Subscription, drawn: list[Drawn], *, at: datetime, actor_name: str) -> None:
    quota.release(
        ids=[d.held.id for d in drawn],
        at=at,
        why="the package already had a live number",
        actor=actor_name,
    )
    gateway = gateway_for(sub.carrier.code)
    for d in drawn:
        # one call where the carrier cancels the whole order (SF), else one per number
        for number in cancel_calls(gateway, d.issued.numbers):
            try:
                gateway.cancel(
                    subscription=sub, waybill_no=number, carrier_order_id=d.held.carrier_order_id
                )
            except AppError:
                log.warning(
                    "could not cancel an unused number at the carrier (%s)", sub.carrier.code
                )
        d.issued, d.rows = None, []


def live_rows(*, order_id: int, shop_id: int, first: int, count: int) -> list[Waybill]:
    return list(
        Waybill.objects.filter(
            order_id=order_id,
            shop_id=shop_id,
            status__in=LIVE_STATUSES,
            package_no__gte=first,
            package_no__lt=first + count,
        )
        .select_related("carrier", "branch", "subscription", "order")
        .order_by("package_no")
    )
