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
   carrier-side order id, and :func:`reservations_settle` (beat) asks the carrier about
   any left open, so a package never gets two numbers and no quota is lost.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from carriers import quota
from carriers.gateways import gateway_for
from carriers.gateways.base import Issued, IssueRequest, Receiver, ScreenResult
from carriers.models import Reservation, Subscription
from carriers.quota.reservations import COMMIT_CTE, Held, Want
from shops.models import Order
from shops.services.order_marks import MARK_NUMBERED_CTE
from waybill_console import rawsql
from waybill_console.errors import AppError
from waybill_console.locks import advisory_lock
from waybills.models import LIVE_STATUSES, Waybill
from waybills.services import rows as R

log = logging.getLogger(__name__)


def settle_after() -> timedelta:
    """An attempt older than this with no answer is settled by asking the carrier (longer
    than any gateway's time-outs and retries, so a slow request is never raced)."""
    return timedelta(seconds=settings.RESERVATION_SETTLE_AFTER_SECONDS)


#: purpose -> ``handler(order_id=…, shop_id=…, waybill_ids=…)`` called after the settling
#: sweep committed a reservation another app started (dropship links its factory order)
SETTLED_HANDLERS: dict[str, object] = {}


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


def _want(p: Package) -> Want:
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


def receiver_of(order: Order) -> Receiver:
    """What the carrier is told of the receiver. The street stays sealed here (the
    built-in gateway screens on the division); a real carrier's adapter opens it when it
    builds its request."""
    return Receiver(
        province=order.receiver_province,
        city=order.receiver_city,
        district=order.receiver_district,
        detail=None,
    )


def receiver_reveal_for_carrier(order: Order) -> dict:
    """The receiver in full for the carrier's request (decrypted here, audited as
    ``carrier_order``)."""
    from waybill_console.crypto import reveal
    from waybill_console.tenancy import Actor

    values = reveal(
        order,
        ["receiver_name", "receiver_phone", "receiver_detail"],
        actor=Actor.system(shop=order.shop),
        purpose="carrier_order",
    )
    return {
        "name": values["receiver_name"],
        "phone": values["receiver_phone"],
        "detail": values["receiver_detail"],
    }


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
        IssueRequest(
            carrier_order_id=d.held.carrier_order_id,
            subscription=sub,
            sender=d.package.sender,
            receiver=receiver_of(d.package.order),
            items=d.package.items,
            weight_grams=d.package.weight_grams,
            package_count=d.held.count,
            services=d.package.services or d.package.screen.services,
            screen=d.package.screen,
            reveal_receiver=partial(receiver_reveal_for_carrier, d.package.order),
        )
        for d in asking
    ]
    answers = gateway_for(sub.carrier.code).issue_many(requests) if requests else []
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


_COMMIT_SQL = f"""
WITH {COMMIT_CTE},
v AS (SELECT * FROM {R.unnest_sql()}),
w AS (
    INSERT INTO waybills_waybill ({R.COLUMNS})
    SELECT {R.select_sql()} FROM v WHERE v.reservation_id::bigint IN (SELECT id FROM r)
 RETURNING id, order_id, shop_id, package_no, waybill_no
),
{MARK_NUMBERED_CTE},
e AS (
    UPDATE waybills_allocationexception x SET resolved_at = %s
     WHERE x.resolved_at IS NULL AND x.order_id IN (SELECT order_id FROM w)
       AND x.shop_id IN (SELECT shop_id FROM w)
)
SELECT w.id, w.order_id, w.package_no, w.waybill_no FROM w
"""  # nosec B608


def commit(*, sub: Subscription, drawn: list[Drawn], at: datetime, actor_name: str) -> None:
    """Commit every answered reservation of ``drawn`` in one statement (in the caller's
    transaction if there is one, where it runs in a savepoint). A reservation committed
    meanwhile by another attempt inserts nothing: its ``rows`` stay empty. Raises
    IntegrityError when a package already holds a live number from another reservation
    (see :func:`commit_or_release`)."""
    ready = [d for d in drawn if d.ok]
    if not ready:
        return
    rows: list[list] = []
    for d in ready:
        d.values = _rows_for(d, sub=sub, at=at, actor_name=actor_name)
        for row in d.values:
            rows.append(R.params_of(row) + [d.held.id])
    params = quota.commit_params(ids=[d.held.id for d in ready], at=at)
    params += R.column_arrays(rows) + [sub.carrier.code, at]
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
        if len([d for d in drawn if d.ok]) == 1:
            lost_race(sub, [d for d in drawn if d.ok], at=at, actor_name=actor_name)
            return
    for d in drawn:
        if not d.ok:
            continue
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
        for number in d.issued.numbers:
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


# --- settling what no attempt finished ---------------------------------------------------------


def _package_from_params(res: Reservation, order: Order) -> Package:
    params = res.params or {}
    return Package(
        order=order,
        shop_id=res.shop_id,
        screen=ScreenResult(**params["screen"]),
        sender=params.get("sender") or R.sender_of(res.subscription),
        package_from=res.package_from,
        count=res.count,
        items=params.get("items") or [],
        weight_grams=params.get("weight_grams"),
        services=params.get("services") or [],
        parent_id=params.get("parent_id"),
        purpose=params.get("purpose") or "allocate",
    )


def _request_for(res: Reservation, package: Package, sub: Subscription) -> IssueRequest:
    return IssueRequest(
        carrier_order_id=res.carrier_order_id,
        subscription=sub,
        sender=package.sender,
        receiver=receiver_of(package.order),
        items=package.items,
        weight_grams=package.weight_grams,
        package_count=res.count,
        services=package.services or package.screen.services,
        screen=package.screen,
        reveal_receiver=partial(receiver_reveal_for_carrier, package.order),
    )


def reservations_settle(
    *, now: datetime | None = None, older_than: timedelta | None = None
) -> dict:
    """Ask the carrier about every reservation left open by an attempt that ended without
    an answer (a crash, a time-out): what it issued is committed, with the same numbers;
    what it never issued is released. One sweep at a time (advisory lock)."""
    at = now or timezone.now()
    counts = {"committed": 0, "released": 0, "waiting": 0}
    with advisory_lock("waybills.settle") as acquired:
        if not acquired:
            return {**counts, "skipped": True}
        for res in quota.reservations_due(before=at - (older_than or settle_after())):
            sub = res.subscription
            order = Order.objects.get(pk=res.order_id)
            package = _package_from_params(res, order)
            gateway = gateway_for(sub.carrier.code)
            try:
                settle = getattr(gateway, "settle", None)
                if settle is not None:  # a carrier that answers a replay of the same order id
                    issued = settle(_request_for(res, package, sub))
                else:
                    issued = gateway.query(subscription=sub, carrier_order_id=res.carrier_order_id)
            except AppError as err:  # the carrier cannot answer now: next sweep
                quota.note_error(ids=[res.pk], message=err.code)
                counts["waiting"] += 1
                continue
            if issued is None:
                quota.release(
                    ids=[res.pk], at=at, why="the carrier issued no number", reference="settle"
                )
                counts["released"] += 1
                continue
            if package.purpose == "allocate_on_behalf":
                package.first_package_no = next_on_behalf_no(order.pk)
            held = Held(res.pk, res.order_id, res.package_from, res.count, res.carrier_order_id)
            drawn = [Drawn(package, held, issued)]
            commit_or_release(sub=sub, drawn=drawn, at=at, actor_name="system")
            if drawn[0].committed:
                counts["committed"] += 1
                handler = SETTLED_HANDLERS.get(package.purpose)
                if handler:
                    handler(
                        order_id=order.pk,
                        shop_id=res.shop_id,
                        waybill_ids=[r[0] for r in drawn[0].rows],
                    )
            else:
                counts["released"] += 1
    return counts


#: a factory's numbers for an order are its packages 101, 102, … (one per factory part),
#: apart from the merchant's own 1…20, so neither ever takes the other's package slot
ON_BEHALF_PACKAGE_BASE = 100


def next_on_behalf_no(order_id: int) -> int:
    from django.db.models import Max

    top = (
        Waybill.objects.filter(
            order_id=order_id, status__in=LIVE_STATUSES, package_no__gt=ON_BEHALF_PACKAGE_BASE
        )
        .aggregate(top=Max("package_no"))
        .get("top")
    )
    return (top or ON_BEHALF_PACKAGE_BASE) + 1
