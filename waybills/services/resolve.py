"""Resolving what a draw is for: the order (scoped to the actor's shop), the subscription
(own or shared with the shop, else the carrier's default) and whether the order already
holds live numbers, in as few round trips as the hot path allows."""

from __future__ import annotations

from django.db import connection
from django.utils.translation import gettext_lazy as _

from carriers import errors as carrier_errors
from carriers.models import Branch, Carrier, Subscription
from carriers.quota.reservations import USABLE
from events.services.outbox_sql import LISTENING_SQL, listening_seen
from shops import selectors as shop_selectors
from shops.models import Address, Order
from shops.services.order_states import ALLOCATABLE  # noqa: F401 (the engine imports it here)
from waybill_console import rawsql
from waybill_console.errors import NotFound, ValidationError
from waybill_console.tenancy import Actor
from waybills.models import LIVE_STATUSES, Waybill

#: carriers that issue parent and sub numbers for one order (子母件)
MULTI_PACKAGE_CARRIERS = frozenset({"SF", "JD", "DEPPON", "ZTO", "YTO", "JT", "EMS", "ZTOINTL"})
MAX_PACKAGES = 20
BATCH_LIMIT = 500
CHUNK = 50


# --- resolving the subscription ---------------------------------------------------------------


_SUB_PARTS = (Subscription, Carrier, Branch, Address)
_SUBSCRIPTION_SQL = """
SELECT {s}, {c}, {b}, {a},
       EXISTS (SELECT 1 FROM waybills_waybill w
                WHERE w.order_id = %s AND w.shop_id = %s AND w.status = ANY(%s)) AS has_live,
       (s.shop_id = %s OR EXISTS (SELECT 1 FROM carriers_subscription_shared_with x
                                   WHERE x.subscription_id = s.id AND x.shop_id = %s)) AS usable,
       {listening} AS listening
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
    listening=LISTENING_SQL,
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
            [order_id or 0, shop_id, live, shop_id, shop_id, shop_id, sub_id],
        )
        row = cur.fetchone()
    if row is None:
        return None, False
    (sub, carrier, branch, address), at = rawsql.split(row, list(_SUB_PARTS))
    sub.carrier, sub.branch, sub.address = carrier, branch, address
    branch.carrier = carrier
    has_live, usable = row[at], row[at + 1]
    listening_seen(shop_id, row[at + 2])
    return (sub if usable else None), has_live


_ORDER_SUBSCRIPTION_SQL = """
SELECT {o}, {s}, {c}, {b}, {a},
       EXISTS (SELECT 1 FROM waybills_waybill w
                WHERE w.order_id = o.id AND w.shop_id = o.shop_id
                  AND w.status = ANY(%s)) AS has_live,
       (s.shop_id = %s OR EXISTS (SELECT 1 FROM carriers_subscription_shared_with x
                                   WHERE x.subscription_id = s.id AND x.shop_id = %s)) AS usable,
       {listening} AS listening
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
    listening=LISTENING_SQL,
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


def order_and_subscription(
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
            [live, shop.pk, shop.pk, shop.pk, order_id, shop.pk, sub_id],
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
    listening_seen(shop.pk, row[at + 2])
    return order, ((sub if usable else None), has_live)


def resolve_subscription(
    *, actor: Actor, subscription: int | Subscription | None = None, carrier: str = ""
) -> Subscription:
    """The given subscription (own or shared with this shop), else the carrier's default."""
    sub, _live_number = subscription_resolve(
        actor=actor, subscription=subscription, carrier=carrier
    )
    return sub


def subscription_resolve(
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
        has_live = bool(order_id) and bool(live_waybills(order_id, shop.pk))
    else:
        raise ValidationError.for_fields(subscription=_("Choose a subscription or a carrier."))
    if sub.status not in USABLE and not has_live:
        raise carrier_errors.SubscriptionNotActive(status=sub.get_status_display())
    return sub, has_live


def live_waybills(order_id: int, shop_id: int) -> list[Waybill]:
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


_FIRST_NUMBERS_SQL = """
SELECT order_id, waybill_no, sort_code FROM waybills_waybill
 WHERE order_id = ANY(%s::bigint[]) AND shop_id = %s::bigint AND status = ANY(%s::text[])
   AND package_no = 1
"""


def first_live_numbers(order_ids: list[int], shop_id: int) -> dict[int, tuple[str, str]]:
    """The orders' live first numbers drawn by this shop, for many orders in one prepared
    statement (a batch's probe): ``{order: (number, sort code)}``."""
    with connection.cursor() as cur:
        rawsql.execute_prepared(
            cur,
            "wbc_first_numbers",
            _FIRST_NUMBERS_SQL,
            [order_ids, shop_id, [st.value for st in LIVE_STATUSES]],
        )
        return {order_id: (number, sort_code) for order_id, number, sort_code in cur.fetchall()}
