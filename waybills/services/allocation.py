"""取号: draw waybill numbers for order packages, single or in batches.

The order of work keeps the quota row's lock as short as the database allows:
screen (reads only), issue the numbers (a sequence, no lock), then one transaction that
inserts the waybills, marks the order and, last, draws the quota and writes the ledger
entry in one statement (``WITH q AS (UPDATE … RETURNING) INSERT … SELECT FROM q``)
before committing. A balance that cannot cover the draw updates no row: the
transaction rolls back (the issued numbers are burnt, as with any sequence) and the
caller gets QUOTA_INSUFFICIENT. A second draw for the same order package hits the
partial unique constraint (one live number per package) and returns the first one.
Direct carriers (月结) draw on their monthly account: no balance, no ledger entry; the
allocated counter still moves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from carriers import errors as carrier_errors
from carriers.gateways import gateway_for
from carriers.gateways.base import Receiver, ScreenResult
from carriers.models import Branch, Carrier, Subscription
from carriers.models import SubscriptionStatus as SubSt
from shops import selectors as shop_selectors
from shops.errors import OrderBlocked
from shops.models import Address, AfterSaleStatus, Order, OrderStatus
from waybill_console import permissions as perms
from waybill_console import rawsql
from waybill_console.errors import AppError, NotFound, ValidationError
from waybill_console.tenancy import Actor
from waybills.errors import MultiPackageNotSupported, OrderNotAllocatable
from waybills.models import LIVE_STATUSES, AllocationException, Waybill

#: carriers that issue parent and sub numbers for one order (子母件)
MULTI_PACKAGE_CARRIERS = frozenset({"SF", "JD", "DEPPON", "ZTO", "YTO", "JT", "EMS", "ZTOINTL"})
MAX_PACKAGES = 20
ALLOCATABLE = frozenset({OrderStatus.PAID, OrderStatus.READY_TO_SHIP})
USABLE = (SubSt.ACTIVE, SubSt.EXPIRING)
BATCH_LIMIT = 500
CHUNK = 50

#: refusals that become an exception record (面单异常); bad input and permissions do not
RECORDED = (
    carrier_errors.QuotaInsufficient,
    carrier_errors.AddressUnparseable,
    carrier_errors.ScreenNoAttribute,
    carrier_errors.ScreenPartialDelivery,
    carrier_errors.ScreenNotFullTerritory,
    carrier_errors.OutOfRange,
    carrier_errors.ServiceOutOfRange,
    carrier_errors.ServiceNotOpened,
    carrier_errors.GatewayRateLimited,
    carrier_errors.AllocationTimeout,
    carrier_errors.AllocationFailed,
    carrier_errors.BranchCustomerMismatch,
    carrier_errors.MonthlyAccountInvalid,
    carrier_errors.SecretKeyMissing,
    carrier_errors.SubscriptionNotActive,
    OrderBlocked,
    OrderNotAllocatable,
    MultiPackageNotSupported,
)

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


@dataclass
class Allocation:
    waybills: list[Waybill]
    created: bool

    @property
    def parent(self) -> Waybill:
        return self.waybills[0]


# --- resolving the subscription ---------------------------------------------------------------


_SUB_PARTS = (Subscription, Carrier, Branch, Address)
_SUBSCRIPTION_SQL = """
SELECT {s}, {c}, {b}, {a},
       EXISTS (SELECT 1 FROM waybills_waybill w
                WHERE w.order_id = %s AND w.shop_id = %s AND w.status = ANY(%s)) AS has_live,
       (s.shop_id = %s OR EXISTS (SELECT 1 FROM carriers_subscription_shared_with x
                                   WHERE x.subscription_id = s.id AND x.shop_id = %s)) AS usable
  FROM carriers_subscription s
  JOIN carriers_carrier c ON c.id = s.carrier_id
  JOIN carriers_branch b ON b.id = s.branch_id
  JOIN shops_address a ON a.id = s.address_id
 WHERE s.id = %s
""".format(  # nosec B608
    s=rawsql.columns(Subscription, "s"),
    c=rawsql.columns(Carrier, "c"),
    b=rawsql.columns(Branch, "b"),
    a=rawsql.columns(Address, "a"),
)


def _subscription_row(
    sub_id: int, shop_id: int, order_id: int | None
) -> tuple[Subscription | None, bool]:
    """The subscription with its carrier, branch and address, whether this shop may use
    it, and whether the order already holds a live number: one round trip, no ORM
    compilation (this runs on every allocation)."""
    live = [st.value for st in LIVE_STATUSES]
    with connection.cursor() as cur:
        rawsql.execute_prepared(
            cur,
            "wbc_subscription",
            _SUBSCRIPTION_SQL,
            [order_id or 0, shop_id, live, shop_id, shop_id, sub_id],
        )
        row = cur.fetchone()
    if row is None:
        return None, False
    (sub, carrier, branch, address), at = rawsql.split(row, list(_SUB_PARTS))
    sub.carrier, sub.branch, sub.address = carrier, branch, address
    branch.carrier = carrier
    has_live, usable = row[at], row[at + 1]
    return (sub if usable else None), has_live


_ORDER_SUBSCRIPTION_SQL = """
SELECT {o}, {s}, {c}, {b}, {a},
       EXISTS (SELECT 1 FROM waybills_waybill w
                WHERE w.order_id = o.id AND w.shop_id = o.shop_id
                  AND w.status = ANY(%s)) AS has_live,
       (s.shop_id = %s OR EXISTS (SELECT 1 FROM carriers_subscription_shared_with x
                                   WHERE x.subscription_id = s.id AND x.shop_id = %s)) AS usable
  FROM (SELECT 1) AS one
  LEFT JOIN shops_order o ON o.id = %s AND o.shop_id = %s
  LEFT JOIN carriers_subscription s ON s.id = %s
  LEFT JOIN carriers_carrier c ON c.id = s.carrier_id
  LEFT JOIN carriers_branch b ON b.id = s.branch_id
  LEFT JOIN shops_address a ON a.id = s.address_id
""".format(  # nosec B608
    o=rawsql.columns(Order, "o"),
    s=rawsql.columns(Subscription, "s"),
    c=rawsql.columns(Carrier, "c"),
    b=rawsql.columns(Branch, "b"),
    a=rawsql.columns(Address, "a"),
)
_BIGINT = 2**63 - 1


def _subscription_id(subscription) -> int:
    """The id the caller named (0 when it names none or nothing valid)."""
    if isinstance(subscription, Subscription):
        return subscription.pk
    try:
        return int(subscription) if subscription else 0
    except (TypeError, ValueError):
        return 0


def _order_and_subscription(
    *, actor: Actor, order_id, subscription
) -> tuple[Order, tuple[Subscription | None, bool] | None]:
    """The shop's order by id (NOT_FOUND for another shop's or a missing one) and, when the
    caller names a subscription, what :func:`_subscription_row` would answer for it: one
    round trip for the API's hot path instead of two."""
    shop = actor.require_shop()
    try:
        order_id = int(order_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    if not 0 < order_id <= _BIGINT:  # no such id (and no 500 from the database)
        raise NotFound()
    if not subscription:
        order = shop_selectors.order_get(actor=actor, order_id=order_id, with_items=False)
        return order, None
    sub_id = _subscription_id(subscription)
    if not 0 < sub_id <= _BIGINT:
        sub_id = 0  # no such subscription: _resolve refuses it where it always did
    live = [st.value for st in LIVE_STATUSES]
    with connection.cursor() as cur:
        rawsql.execute_prepared(
            cur,
            "wbc_order_subscription",
            _ORDER_SUBSCRIPTION_SQL,
            [live, shop.pk, shop.pk, order_id, shop.pk, sub_id],
        )
        row = cur.fetchone()
    (order, sub, carrier, branch, address), at = rawsql.split(
        row, [Order, Subscription, Carrier, Branch, Address]
    )
    if order is None:
        raise NotFound()
    order.shop = shop
    if sub is None:
        return order, (None, False)
    sub.carrier, sub.branch, sub.address = carrier, branch, address
    branch.carrier = carrier
    has_live, usable = row[at], row[at + 1]
    return order, ((sub if usable else None), has_live)


def resolve_subscription(
    *, actor: Actor, subscription: int | Subscription | None = None, carrier: str = ""
) -> Subscription:
    """The given subscription (own or shared with this shop), else the carrier's default."""
    sub, _live_number = _resolve(actor=actor, subscription=subscription, carrier=carrier)
    return sub


def _resolve(
    *,
    actor: Actor,
    subscription: int | Subscription | None,
    carrier: str,
    order_id: int | None = None,
    prefetched: tuple[Subscription | None, bool] | None = None,
) -> tuple[Subscription, bool]:
    shop = actor.require_shop()
    has_live = False
    if subscription:
        sub_id = _subscription_id(subscription)
        if prefetched is not None:  # read with the order (same statement, same answer)
            sub, has_live = prefetched
        else:
            sub, has_live = (
                _subscription_row(sub_id, shop.pk, order_id) if sub_id else (None, False)
            )
        if sub is None:
            raise ValidationError.for_fields(subscription=_("Not one of this shop's services."))
    elif carrier:
        code = carrier.strip().upper()
        qs = Subscription.objects.select_related("carrier", "branch", "address").order_by()
        sub = (
            qs.filter(shop=shop, carrier__code=code, is_default=True).first()
            or qs.filter(shared_with=shop, carrier__code=code, is_default=True).first()
        )
        if sub is None:
            raise ValidationError.for_fields(
                carrier=_("No default e-waybill service for this carrier; choose a subscription.")
            )
        has_live = bool(order_id) and bool(_live(order_id, shop.pk))
    else:
        raise ValidationError.for_fields(subscription=_("Choose a subscription or a carrier."))
    if sub.status not in USABLE and not has_live:
        raise carrier_errors.SubscriptionNotActive(status=sub.get_status_display())
    return sub, has_live


def _receiver(order: Order) -> Receiver:
    # The division is what screening needs; the street stays sealed (validated at intake).
    return Receiver(
        province=order.receiver_province,
        city=order.receiver_city,
        district=order.receiver_district,
        detail=None,
    )


def _sender(sub: Subscription) -> dict:
    a = sub.address
    return {
        "name": sub.contact_name or a.contact_name,
        "phone": sub.contact_phone or a.phone,
        "province": a.province,
        "city": a.city,
        "district": a.district,
        "detail": f"{a.street}{a.detail}",
    }


def _check_order(order: Order) -> None:
    if order.status not in ALLOCATABLE:
        raise OrderNotAllocatable(status=order.get_status_display())
    if order.after_sale_status == AfterSaleStatus.IN_PROGRESS:
        raise OrderBlocked(reason=str(AfterSaleStatus.IN_PROGRESS.label))


def _build(
    *,
    order: Order,
    sub: Subscription,
    screen: ScreenResult,
    number: str,
    package_no: int,
    at: datetime,
    actor: Actor,
    sender: dict,
    items: list | None = None,
    weight_grams: int | None = None,
) -> Waybill:
    values = dict(
        shop_id=order.shop_id,
        package_no=package_no,
        waybill_no=number,
        sort_code=screen.sort_code,
        package_center_code=screen.package_center_code,
        package_center_name=screen.package_center_name,
        short_address_code=screen.short_address_code,
        short_address_name=screen.short_address_name,
        services=screen.services,
        sender=sender,
        receiver_name=order.receiver_name,
        receiver_phone=order.receiver_phone,
        receiver_detail=order.receiver_detail,
        receiver_name_masked=order.receiver_name_masked,
        receiver_phone_masked=order.receiver_phone_masked,
        receiver_province=order.receiver_province,
        receiver_city=order.receiver_city,
        receiver_district=order.receiver_district,
        weight_grams=weight_grams,
        items=items or [],
        allocated_at=at,
        last_changed_at=at,
        actor=actor.describe()[:60],
    )
    # related objects, not ids: answers need no further queries
    related = {"subscription": sub, "carrier": sub.carrier, "branch": sub.branch, "order": order}
    return rawsql.new(Waybill, values, related)


# --- raw rows for the batch path (no model instances: 50 per chunk, thousands a second) -------

_DEFAULTS = {f.attname: f.get_default() for f in Waybill._meta.concrete_fields if not f.primary_key}


def _converter(field):
    from django.db import models as m

    from waybill_console.crypto import EncryptedTextField, Sealed, encrypt

    if isinstance(field, EncryptedTextField):
        return lambda v: v.token if isinstance(v, Sealed) else (encrypt(v) if v else v)
    if isinstance(field, m.JSONField):
        return lambda v: json.dumps(v, ensure_ascii=False)
    return None


@dataclass
class Row:
    """A waybill as the batch inserts it: what the results need."""

    order_id: int
    waybill_no: str
    sort_code: str
    pk: int | None = None


def _row_values(
    *, order: Order, sub: Subscription, screen: ScreenResult, number: str, at: datetime,
    actor_name: str, sender: dict,
) -> dict:  # fmt: skip
    return {
        **_DEFAULTS,
        "shop_id": order.shop_id,
        "subscription_id": sub.pk,
        "carrier_id": sub.carrier_id,
        "branch_id": sub.branch_id,
        "order_id": order.pk,
        "package_no": 1,
        "waybill_no": number,
        "sort_code": screen.sort_code,
        "package_center_code": screen.package_center_code,
        "package_center_name": screen.package_center_name,
        "short_address_code": screen.short_address_code,
        "short_address_name": screen.short_address_name,
        "services": screen.services,
        "sender": sender,
        "receiver_name": order.receiver_name,
        "receiver_phone": order.receiver_phone,
        "receiver_detail": order.receiver_detail,
        "receiver_name_masked": order.receiver_name_masked,
        "receiver_phone_masked": order.receiver_phone_masked,
        "receiver_province": order.receiver_province,
        "receiver_city": order.receiver_city,
        "receiver_district": order.receiver_district,
        "items": [],
        "allocated_at": at,
        "last_changed_at": at,
        "actor": actor_name,
    }


def _insert_rows(values: list[dict]) -> list[int]:
    """One multi-row INSERT; returns the new ids in order."""
    converters = [(f.attname, _converter(f)) for f in _WAYBILL_FIELDS]
    params: list = []
    for row in values:
        for name, convert in converters:
            value = row[name]
            params.append(convert(value) if convert and value is not None else value)
    one = "(" + ", ".join(["%s"] * len(converters)) + ")"
    columns = ", ".join(f.column for f in _WAYBILL_FIELDS)
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO waybills_waybill ({columns}) VALUES "  # nosec B608
            + ", ".join([one] * len(values))
            + " RETURNING id",
            params,
        )
        return [r[0] for r in cur.fetchall()]


def _mark_orders(rows: list, carrier_code: str) -> None:
    """One statement marks every order of the chunk with its number."""
    if not rows:
        return
    values = ", ".join(["(%s, %s)"] * len(rows))
    params: list = [carrier_code]
    for row in rows:
        params += [row.order_id, row.waybill_no]
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE shops_order o SET has_waybill = true, carrier_code = %s, tracking_no = v.no "  # nosec B608
            f"FROM (VALUES {values}) AS v(id, no) WHERE o.id = v.id",
            params,
        )


def _draw_upto(*, sub: Subscription, count: int, at: datetime, actor: Actor, reference: str) -> int:
    """Draw ``count`` numbers, or as many as the balance still holds; returns how many.
    Inside the caller's transaction (the quota row stays locked until it commits)."""
    try:
        _draw(sub=sub, count=count, at=at, actor=actor, reference=reference)
        return count
    except carrier_errors.QuotaInsufficient:
        locked = Subscription.objects.select_for_update().only("balance", "status").get(pk=sub.pk)
        if locked.status not in USABLE:
            raise carrier_errors.SubscriptionNotActive(status=locked.get_status_display()) from None
        if locked.balance:
            _draw(sub=sub, count=locked.balance, at=at, actor=actor, reference=reference)
        return locked.balance


def _draw(*, sub: Subscription, count: int, at: datetime, actor: Actor, reference: str) -> None:
    """Take ``count`` numbers from the quota (inside the caller's transaction, last)."""
    if sub.carrier.network_type != "franchise":
        Subscription.objects.filter(pk=sub.pk).update(allocated_total=F("allocated_total") + count)
        return
    with connection.cursor() as cur:
        cur.execute(
            _DRAW_SQL,
            {"n": count, "sub": sub.pk, "at": at, "actor": actor.describe()[:60], "ref": reference},
        )
        row = cur.fetchone()
    if row is None:
        raise carrier_errors.QuotaInsufficient()
    sub.balance = row[0]


def _live(order_id: int, shop_id: int) -> list[Waybill]:
    """The order's live numbers drawn by its own shop (a factory's numbers for the same
    order, 代发, are the factory's), one cheap probe first: usually there are none."""
    with connection.cursor() as cur:
        cur.execute(_LIVE_PROBE_SQL, [order_id, shop_id, [st.value for st in LIVE_STATUSES]])
        if cur.fetchone() is None:
            return []
    return list(
        Waybill.objects.filter(order_id=order_id, shop_id=shop_id, status__in=LIVE_STATUSES)
        .select_related("carrier", "branch", "subscription", "order")
        .order_by("package_no")
    )


_LIVE_PROBE_SQL = (
    "SELECT 1 FROM waybills_waybill WHERE order_id = %s AND shop_id = %s AND status = ANY(%s) "
    "LIMIT 1"
)


def _mark_order(order: Order, parent: Waybill, carrier_code: str) -> None:
    Order.objects.filter(pk=order.pk).update(
        has_waybill=True, carrier_code=carrier_code, tracking_no=parent.waybill_no
    )
    order.has_waybill, order.carrier_code, order.tracking_no = True, carrier_code, parent.waybill_no


def _resolve_exception(order_id: int) -> None:
    AllocationException.objects.filter(order_id=order_id, resolved_at=None).update(
        resolved_at=timezone.now()
    )


def exception_record(
    *,
    order: Order,
    error: AppError,
    subscription: Subscription | None = None,
    carrier: str = "",
    package_count: int = 1,
) -> None:
    """Keep (or refresh) the order's open exception record with the latest error."""
    fields = {
        "shop_id": order.shop_id,
        "subscription": subscription,
        "carrier_code": (subscription.carrier.code if subscription else carrier or "")[:16],
        "package_count": package_count,
        "code": error.code,
        "message": error.render_message()[:200],
        "detail": error.detail,
    }
    with transaction.atomic():
        updated = AllocationException.objects.filter(order_id=order.pk, resolved_at=None).update(
            attempts=F("attempts") + 1, updated_at=timezone.now(), **fields
        )
        if not updated:
            try:
                with transaction.atomic():
                    AllocationException.objects.create(order_id=order.pk, **fields)
            except IntegrityError:  # a concurrent failure recorded it first
                AllocationException.objects.filter(order_id=order.pk, resolved_at=None).update(
                    attempts=F("attempts") + 1, updated_at=timezone.now(), **fields
                )


# --- the one-statement draw ------------------------------------------------------------------

_WAYBILL_FIELDS = [f for f in Waybill._meta.concrete_fields if not f.primary_key]
_WAYBILL_ATTNAMES = tuple(f.attname for f in _WAYBILL_FIELDS)
_DRAW_ONE_SQL = """
WITH q AS (
    UPDATE carriers_subscription
       SET balance = balance - %s, allocated_total = allocated_total + 1
     WHERE id = %s AND status IN ('active', 'expiring') AND balance >= %s
 RETURNING id, balance
), w AS (
    INSERT INTO waybills_waybill ({columns})
    SELECT {values} FROM q
 RETURNING id
), l AS (
    INSERT INTO carriers_ledgerentry (subscription_id, kind, amount, balance_after, at, actor,
                                      note, reference)
    SELECT q.id, 'allocation', -1, q.balance, %s, %s, '', %s FROM q WHERE %s
), o AS (
    UPDATE shops_order SET has_waybill = true, carrier_code = %s, tracking_no = %s
     WHERE id = %s AND EXISTS (SELECT 1 FROM q)
), e AS (
    UPDATE waybills_allocationexception SET resolved_at = %s
     WHERE order_id = %s AND resolved_at IS NULL AND EXISTS (SELECT 1 FROM q)
)
SELECT q.balance, w.id FROM q, w
""".format(  # nosec B608
    columns=", ".join(f.column for f in _WAYBILL_FIELDS),
    values=", ".join(["%s"] * len(_WAYBILL_FIELDS)),
)


def _draw_one(
    *, actor: Actor, order: Order, sub: Subscription, waybill: Waybill, at: datetime
) -> Allocation:
    """Draw one number in a single statement: the quota (conditional), the waybill, the
    ledger entry, the order's mark and its open exception, all or nothing. Outside a
    transaction the statement commits on its own, so the quota row is locked only for
    the statement's own execution."""
    prepaid = sub.carrier.network_type == "franchise"
    params = [1 if prepaid else 0, sub.pk, 1 if prepaid else 0]
    params += rawsql.db_values(waybill, _WAYBILL_ATTNAMES)
    params += [at, actor.describe()[:60], f"order:{order.pk}", prepaid]
    params += [sub.carrier.code, waybill.waybill_no, order.pk, at, order.pk]
    try:
        if connection.in_atomic_block:  # keep the caller's transaction usable on a refusal
            with transaction.atomic(), connection.cursor() as cur:
                rawsql.execute_prepared(cur, "wbc_draw_one", _DRAW_ONE_SQL, params)
                row = cur.fetchone()
        else:
            with connection.cursor() as cur:
                rawsql.execute_prepared(cur, "wbc_draw_one", _DRAW_ONE_SQL, params)
                row = cur.fetchone()
    except IntegrityError:
        # a concurrent request drew for this order package first: its number is the answer
        existing = _live(order.pk, order.shop_id)
        if not existing:
            raise
        return Allocation(existing, created=False)
    if row is None:
        current = Subscription.objects.filter(pk=sub.pk).values_list("status", flat=True).first()
        if current not in USABLE:
            sub.status = current
            raise carrier_errors.SubscriptionNotActive(status=sub.get_status_display())
        raise carrier_errors.QuotaInsufficient()
    sub.balance, waybill.pk = row
    waybill._state.adding, waybill._state.db = False, connection.alias
    order.has_waybill, order.carrier_code, order.tracking_no = (
        True,
        sub.carrier.code,
        waybill.waybill_no,
    )
    return Allocation([waybill], created=True)


# --- one order --------------------------------------------------------------------------------


def waybill_allocate(
    *,
    actor: Actor,
    order: Order | int,
    subscription: int | Subscription | None = None,
    carrier: str = "",
    package_count: int = 1,
    services: list[str] | None = None,
    weight_grams: int | None = None,
    now: datetime | None = None,
) -> Allocation:
    """Draw numbers for the order's packages (1 = parent, 2… = sub numbers).

    Asking again for an order that already holds live numbers returns them, drawing
    nothing. A domain refusal is kept as the order's exception record and re-raised.
    ``order`` may be an id: the order is then read here, scoped to the actor's shop
    (another shop's order is NOT_FOUND, as from the order selector), together with the
    named subscription in one statement."""
    prefetched = None
    if not isinstance(order, Order):
        order, prefetched = _order_and_subscription(
            actor=actor, order_id=order, subscription=subscription
        )
    actor.require(perms.WAYBILL_ALLOCATE)
    if order.shop_id != actor.require_shop().pk:
        raise NotFound()
    if not isinstance(package_count, int) or not 1 <= package_count <= MAX_PACKAGES:
        raise ValidationError.for_fields(package_count=f"A whole number from 1 to {MAX_PACKAGES}.")
    sub = None
    try:
        if subscription or carrier:
            sub, has_live = _resolve(
                actor=actor,
                subscription=subscription,
                carrier=carrier,
                order_id=order.pk,
                prefetched=prefetched,
            )
        else:
            has_live = True  # no service named: only an existing number can be the answer
        if has_live:
            existing = _live(order.pk, order.shop_id)
            if existing:
                return Allocation(existing, created=False)
            if sub is None:
                _resolve(actor=actor, subscription=subscription, carrier=carrier)  # raises
        return _allocate_new(
            actor=actor,
            order=order,
            sub=sub,
            package_count=package_count,
            services=services,
            weight_grams=weight_grams,
            now=now,
        )
    except RECORDED as err:
        exception_record(
            order=order, error=err, subscription=sub, carrier=carrier, package_count=package_count
        )
        raise


def _allocate_new(
    *,
    actor: Actor,
    order: Order,
    sub: Subscription,
    package_count: int,
    services: list[str] | None,
    weight_grams: int | None,
    now: datetime | None,
) -> Allocation:
    _check_order(order)
    if package_count > 1 and sub.carrier.code not in MULTI_PACKAGE_CARRIERS:
        raise MultiPackageNotSupported()
    gateway = gateway_for(sub.carrier.code)
    screen = gateway.screen(subscription=sub, receiver=_receiver(order), services=services)
    numbers = gateway.issue_numbers(subscription=sub, count=package_count)
    at = now or timezone.now()
    sender = _sender(sub)
    parent = _build(
        order=order,
        sub=sub,
        screen=screen,
        number=numbers[0],
        package_no=1,
        at=at,
        actor=actor,
        sender=sender,
        weight_grams=weight_grams,
    )
    if package_count == 1:
        return _draw_one(actor=actor, order=order, sub=sub, waybill=parent, at=at)
    try:
        with transaction.atomic():
            parent.save(force_insert=True)
            rows = [parent]
            if package_count > 1:
                children = [
                    _build(
                        order=order,
                        sub=sub,
                        screen=screen,
                        number=no,
                        package_no=i,
                        at=at,
                        actor=actor,
                        sender=sender,
                    )
                    for i, no in enumerate(numbers[1:], start=2)
                ]
                for child in children:
                    child.parent_id = parent.pk
                rows += Waybill.objects.bulk_create(children)
            _mark_order(order, parent, sub.carrier.code)
            _resolve_exception(order.pk)
            _draw(sub=sub, count=package_count, at=at, actor=actor, reference=f"order:{order.pk}")
    except IntegrityError:
        # a concurrent request drew for this order package first: its numbers are the answer
        existing = _live(order.pk, order.shop_id)
        if not existing:
            raise
        return Allocation(existing, created=False)
    return Allocation(rows, created=True)


def waybill_append_packages(
    *, actor: Actor, order: Order, count: int = 1, now: datetime | None = None
) -> list[Waybill]:
    """Add sub numbers to an order that already has its parent number (子母件, later)."""
    actor.require(perms.WAYBILL_ALLOCATE)
    if order.shop_id != actor.require_shop().pk:
        raise NotFound()
    if not isinstance(count, int) or not 1 <= count <= MAX_PACKAGES:
        raise ValidationError.for_fields(count=f"A whole number from 1 to {MAX_PACKAGES}.")
    existing = _live(order.pk, order.shop_id)
    if not existing:
        raise ValidationError.for_fields(order="The order has no waybill number yet.")
    parent = existing[0]
    if parent.package_no != 1 or len(existing) + count > MAX_PACKAGES:
        raise ValidationError.for_fields(count=f"At most {MAX_PACKAGES} packages per order.")
    sub = parent.subscription
    if sub.carrier.code not in MULTI_PACKAGE_CARRIERS:
        raise MultiPackageNotSupported()
    if sub.status not in USABLE:
        raise carrier_errors.SubscriptionNotActive(status=sub.get_status_display())
    _check_order(order)
    numbers = gateway_for(sub.carrier.code).issue_numbers(subscription=sub, count=count)
    at = now or timezone.now()
    screen = ScreenResult(
        sort_code=parent.sort_code,
        package_center_code=parent.package_center_code,
        package_center_name=parent.package_center_name,
        short_address_code=parent.short_address_code,
        short_address_name=parent.short_address_name,
        region_code="",
        services=parent.services,
    )
    start = max(w.package_no for w in existing) + 1
    rows = [
        _build(
            order=order,
            sub=sub,
            screen=screen,
            number=no,
            package_no=start + i,
            at=at,
            actor=actor,
            sender=parent.sender,
        )
        for i, no in enumerate(numbers)
    ]
    for row in rows:
        row.parent_id = parent.pk
    with transaction.atomic():
        Waybill.objects.bulk_create(rows)
        _draw(sub=sub, count=count, at=at, actor=actor, reference=f"order:{order.pk}")
    return rows


# --- many orders (the batch job) -------------------------------------------------------------


def waybill_allocate_many(
    *,
    actor: Actor,
    orders: list[Order],
    subscription: int | Subscription | None = None,
    carrier: str = "",
    now: datetime | None = None,
) -> list[dict]:
    """Allocate one number for each order with one quota draw (one lock) per chunk.

    Each order gets its own result; a refusal for one (screening, quota…) is recorded as
    its exception and never stops the others. When the balance covers only part of a
    chunk, the first orders get numbers and the rest QUOTA_INSUFFICIENT."""
    actor.require(perms.WAYBILL_ALLOCATE)
    shop = actor.require_shop()
    results: dict[int, dict] = {}
    try:
        sub = resolve_subscription(actor=actor, subscription=subscription, carrier=carrier)
    except RECORDED as err:
        for order in orders:
            exception_record(order=order, error=err, carrier=carrier)
        return [_fail(o.pk, err) for o in orders]
    gateway = gateway_for(sub.carrier.code)
    sender = _sender(sub)
    live = {
        w.order_id: w
        for w in Waybill.objects.filter(
            order_id__in=[o.pk for o in orders],
            shop=shop,
            status__in=LIVE_STATUSES,
            package_no=1,
        )
    }
    ready: list[tuple[Order, ScreenResult]] = []
    for order in orders:
        if order.shop_id != shop.pk:
            results[order.pk] = _fail(order.pk, NotFound())
            continue
        if order.pk in live:
            results[order.pk] = _ok(order.pk, live[order.pk], created=False)
            continue
        try:
            _check_order(order)
            ready.append((order, gateway.screen(subscription=sub, receiver=_receiver(order))))
        except RECORDED as err:
            exception_record(order=order, error=err, subscription=sub)
            results[order.pk] = _fail(order.pk, err)
    for start in range(0, len(ready), CHUNK):
        chunk = ready[start : start + CHUNK]
        results.update(_allocate_chunk(actor=actor, sub=sub, chunk=chunk, sender=sender, now=now))
    return [results[o.pk] for o in orders]


def _allocate_chunk(
    *, actor: Actor, sub: Subscription, chunk: list, sender: dict, now: datetime | None
) -> dict[int, dict]:
    results: dict[int, dict] = {}
    gateway = gateway_for(sub.carrier.code)
    try:
        numbers = gateway.issue_numbers(subscription=sub, count=len(chunk))
    except RECORDED as err:
        for order, _ in chunk:
            exception_record(order=order, error=err, subscription=sub)
            results[order.pk] = _fail(order.pk, err)
        return results
    at = now or timezone.now()
    actor_name = actor.describe()[:60]
    values = [
        _row_values(
            order=order,
            sub=sub,
            screen=screen,
            number=numbers[i],
            at=at,
            actor_name=actor_name,
            sender=sender,
        )  # fmt: skip
        for i, (order, screen) in enumerate(chunk)
    ]
    rows = [Row(v["order_id"], v["waybill_no"], v["sort_code"]) for v in values]
    refused: list[Row] = []
    try:
        with transaction.atomic():
            for row, pk in zip(rows, _insert_rows(values), strict=True):
                row.pk = pk
            _mark_orders(rows, sub.carrier.code)
            AllocationException.objects.filter(
                order_id__in=[r.order_id for r in rows], resolved_at=None
            ).update(resolved_at=at)
            reference = f"batch:{rows[0].order_id}-{rows[-1].order_id}"
            # the quota row's lock last: the draw, then the commit
            drawn = _draw_upto(sub=sub, count=len(rows), at=at, actor=actor, reference=reference)
            if drawn < len(rows):  # the balance covers only the first ones
                rows, refused = rows[:drawn], rows[drawn:]
                Waybill.objects.filter(pk__in=[r.pk for r in refused]).delete()
                Order.objects.filter(pk__in=[r.order_id for r in refused]).update(
                    has_waybill=False, carrier_code="", tracking_no=""
                )
    except carrier_errors.SubscriptionNotActive as err:  # suspended while the batch ran
        for order, _ in chunk:
            exception_record(order=order, error=err, subscription=sub)
            results[order.pk] = _fail(order.pk, err)
        return results
    except IntegrityError:
        # another request drew for one of these orders meanwhile: go one by one
        for order, _ in chunk:
            try:
                allocation = waybill_allocate(actor=actor, order=order, subscription=sub, now=now)
                results[order.pk] = _ok(order.pk, allocation.parent, allocation.created)
            except AppError as err:
                results[order.pk] = _fail(order.pk, err)
        return results
    by_id = {order.pk: order for order, _ in chunk}
    quota = carrier_errors.QuotaInsufficient()
    for row in refused:
        exception_record(order=by_id[row.order_id], error=quota, subscription=sub)
        results[row.order_id] = _fail(row.order_id, quota)
    for row in rows:
        results[row.order_id] = _ok(row.order_id, row, created=True)
    return results


def _ok(order_id: int, waybill, created: bool) -> dict:
    return {
        "order": order_id,
        "ok": True,
        "waybill_no": waybill.waybill_no,
        "sort_code": waybill.sort_code,
        "created": created,
    }


def _fail(order_id: int, err: AppError) -> dict:
    return {"order": order_id, "ok": False, "error": err.as_dict()}


def waybill_screen(*, actor: Actor, subscription: int | None, receiver: dict, services=None):
    """筛单 (getOutRange) alone: screen a receiver against a subscription's branch."""
    from shops.services.order_intake import clean_receiver

    errors: dict = {}
    cleaned = clean_receiver(receiver, errors, check_region=False)
    if errors:
        raise ValidationError.for_fields(**errors)
    sub = resolve_subscription(actor=actor, subscription=subscription)
    return gateway_for(sub.carrier.code).screen(
        subscription=sub,
        receiver=Receiver(cleaned.province, cleaned.city, cleaned.district, cleaned.detail),
        services=services,
    )
