"""Reads for waybills, always scoped to the actor's shop: usage details (使用详情) and more."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from carriers.models import Subscription
from shops.models import Order
from shops.selectors import PrintStatus, order_list
from shops.services.order_states import order_refuse_if_blocked, order_refuse_transition
from waybill_console import inputs
from waybill_console import permissions as perms
from waybill_console.errors import AppError, NotFound, ValidationError
from waybill_console.tenancy import Actor
from waybills.errors import WaybillOrderMismatch
from waybills.models import (
    LIVE_STATUSES,
    REDEDUCTION_COUNT,
    AllocationException,
    TrackingEvent,
    Violation,
    Waybill,
    WaybillStatus,
)

if TYPE_CHECKING:  # pragma: no cover
    from shops.models import Shop

DEFAULT_DAYS = 7
MAX_DAYS = 366


@dataclass
class UsageFilters:
    """Usage details: by date range (default the last 7 days), carrier, branch,
    subscription, status, order number and waybill number."""

    date_from: date | None = None
    date_to: date | None = None
    days: int = DEFAULT_DAYS
    carrier: str = ""
    branch: str = ""
    subscription: int | None = None
    status: str = ""
    order: str = ""
    waybill_no: str = ""
    #: "no": never printed (print_count 0), "yes": printed at least once, "": either
    printed: str = ""

    @classmethod
    def from_params(cls, params) -> UsageFilters:
        errors: dict = {}

        def text(name: str) -> str:
            value = params.get(name)
            return "" if value is None else str(value).strip()

        def day(name: str) -> date | None:
            value = text(name)
            if not value:
                return None
            try:
                return inputs.parse_day(value[:10])
            except ValueError:
                errors[name] = inputs.day_message()
                return None

        def whole(name: str, default=None, low=1, high=None):
            value = text(name)
            if not value:
                return default
            try:
                number = int(value)
            except ValueError:
                errors[name] = _("A whole number.")
                return default
            if number < low or (high and number > high):
                errors[name] = (
                    _("From %(low)s to %(high)s.") % {"low": low, "high": high}
                    if high
                    else _("At least %(low)s.") % {"low": low}
                )
                return default
            return number

        printed = text("printed").lower()
        if printed not in ("", "yes", "no"):
            errors["printed"] = _("yes or no.")
            printed = ""
        status = text("status")
        if status and status not in WaybillStatus.values:
            errors["status"] = _("One of %(values)s.") % {"values": ", ".join(WaybillStatus.values)}
        f = cls(
            date_from=day("from"),
            date_to=day("to"),
            days=whole("days", DEFAULT_DAYS, 1, MAX_DAYS),
            carrier=text("carrier").upper(),
            branch=text("branch"),
            subscription=whole("subscription"),
            status=status,
            order=text("order"),
            waybill_no=text("waybill_no").upper(),
            printed=printed,
        )
        if f.date_from and f.date_to and f.date_from > f.date_to:
            errors["to"] = _("Not before the start date.")
        if f.date_from and f.date_to and (f.date_to - f.date_from).days > MAX_DAYS:
            errors["from"] = _("At most %(days)s days at a time.") % {"days": MAX_DAYS}
        if errors:
            raise ValidationError.for_fields(**errors)
        return f

    def as_params(self) -> dict:
        out = {}
        for key, value in asdict(self).items():
            if value in (None, ""):
                continue
            name = {"date_from": "from", "date_to": "to"}.get(key, key)
            out[name] = value.isoformat() if isinstance(value, date) else value
        return out

    def window(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """The allocation-time window as aware datetimes [start, end)."""
        tz = timezone.get_current_timezone()
        today = timezone.localdate(now or timezone.now())
        end_day = self.date_to or today
        start_day = self.date_from or (end_day - timedelta(days=self.days - 1))
        start = datetime.combine(start_day, time.min, tzinfo=tz)
        end = datetime.combine(end_day + timedelta(days=1), time.min, tzinfo=tz)
        return start, end


def _scoped(actor: Actor) -> QuerySet[Waybill]:
    return Waybill.objects.filter(shop=actor.require_shop())


#: Who may still act on a number a shop drew for **another shop's** order (代发: a factory
#: for its merchant). The app that owns that relationship registers a function
#: ``(shop) -> Q`` over :class:`Waybill` naming the numbers ``shop`` may act on
#: (``dropship.apps``: the allocation is live and the binding active); waybills never
#: imports it. With no rule registered such numbers are out of reach (fail closed).
ON_BEHALF_ACCESS: list[Callable[[Shop], Q]] = []


def waybill_actionable(*, actor: Actor) -> QuerySet[Waybill]:
    """The numbers ``actor`` may act on: read one, print its label, change, cancel, add
    packages. The shop's numbers for its own orders, and the numbers it drew for another
    shop's order only while a rule of :data:`ON_BEHALF_ACCESS` allows it. Every door that
    names a number goes through here (:func:`waybill_get`, :func:`waybill_check`); a
    number outside it is the same 404 as a missing one."""
    shop = actor.require_shop()
    allowed = Q(order__shop=shop)
    for rule in ON_BEHALF_ACCESS:
        allowed |= rule(shop)
    return Waybill.objects.filter(shop=shop).filter(allowed)


def waybill_check(*, actor: Actor, waybill: Waybill) -> Waybill:
    """``waybill`` as read, if ``actor`` may still act on it (see :func:`waybill_actionable`;
    re-read each time: an allocation withdrawn or a binding ended meanwhile counts)."""
    if waybill.shop_id != actor.require_shop().pk:
        raise NotFound()
    if not waybill_actionable(actor=actor).filter(pk=waybill.pk).exists():
        raise NotFound()
    return waybill


def waybill_list(
    *, actor: Actor, filters: UsageFilters | None = None, now: datetime | None = None
) -> QuerySet[Waybill]:
    f = filters or UsageFilters()
    qs = _scoped(actor)
    # a number or order named exactly is found whenever it was drawn
    if not (f.waybill_no or f.order):
        start, end = f.window(now)
        qs = qs.filter(allocated_at__gte=start, allocated_at__lt=end)
    if f.carrier:
        qs = qs.filter(carrier__code=f.carrier)
    if f.branch:
        qs = qs.filter(branch__code=f.branch)
    if f.subscription:
        qs = qs.filter(subscription_id=f.subscription)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.order:
        qs = qs.filter(order__order_no=f.order)
    if f.waybill_no:
        qs = qs.filter(waybill_no=f.waybill_no)
    if f.printed:
        qs = qs.filter(print_count=0) if f.printed == "no" else qs.filter(print_count__gt=0)
    return qs.select_related("carrier", "branch", "order").order_by("-allocated_at", "-id")


#: 未打印: numbers drawn and still waiting for their label (allocated, never printed), over
#: the longest window usage details take (an idle number is recycled after 30 days anyway)
UNPRINTED = UsageFilters(status=WaybillStatus.ALLOCATED.value, printed="no", days=MAX_DAYS)


def waybill_unprinted_count(*, actor: Actor, now: datetime | None = None) -> int:
    """概览's 未打印: the shop's numbers of :data:`UNPRINTED`, the same filter the usage
    details list with ``UNPRINTED.as_params()``. One range of the partial index
    ``waybill_shop_unprinted``."""
    return waybill_list(actor=actor, filters=UNPRINTED, now=now).count()


def waybill_get(*, actor: Actor, waybill_no: str, carrier: str = "") -> Waybill:
    """Numbers are unique per carrier: when two carriers issued the same number to this
    shop, the caller must name the carrier (``?carrier=``)."""
    qs = (
        waybill_actionable(actor=actor)
        .filter(waybill_no=(waybill_no or "").strip().upper())
        .select_related("carrier", "branch", "order", "subscription", "subscription__carrier")
    )
    if carrier:
        qs = qs.filter(carrier__code=carrier.strip().upper())
    found = list(qs[:2])
    if not found:
        raise NotFound()
    if len(found) > 1:
        raise ValidationError.for_fields(
            carrier=_("Two carriers issued this number; name the carrier.")
        )
    return found[0]


def waybills_for_order(*, actor: Actor, order_id: int) -> QuerySet[Waybill]:
    return (
        _scoped(actor)
        .filter(order_id=order_id)
        .select_related("carrier")
        .order_by("package_no", "-allocated_at")
    )


def factory_numbers_for_orders(*, actor: Actor, order_ids) -> dict[int, list[str]]:
    """The live numbers another shop (a factory, 代发) drew for the actor's orders, by
    order: a 取号 by the merchant on top of them makes one more parcel, so the pages ask
    first."""
    shop = actor.require_shop()
    found: dict[int, list[str]] = {}
    rows = (
        Waybill.objects.filter(
            order_id__in=list(order_ids), order__shop=shop, status__in=LIVE_STATUSES
        )
        .exclude(shop=shop)
        .order_by("order_id", "package_no")
        .values_list("order_id", "waybill_no")
    )
    for order_id, number in rows:
        found.setdefault(order_id, []).append(number)
    return found


def factory_numbers_for_order(*, actor: Actor, order_id: int) -> list[str]:
    """:func:`factory_numbers_for_orders` of one order."""
    return factory_numbers_for_orders(actor=actor, order_ids=[order_id]).get(order_id, [])


def tracking_for_order(*, actor: Actor, order_id: int) -> QuerySet[TrackingEvent]:
    """The tracking events of the order's numbers (carriers' pushes, branches' reports),
    newest first."""
    return (
        TrackingEvent.objects.filter(waybill__in=_scoped(actor).filter(order_id=order_id))
        .select_related("waybill")
        .order_by("-occurred_at", "-id")
    )


def usage_daily(
    *, actor: Actor, subscription: Subscription, days: int = DEFAULT_DAYS, now=None
) -> list[dict]:
    """Per day of the last ``days`` days: numbers allocated, cancelled and recycled."""
    tz = timezone.get_current_timezone()
    today = timezone.localdate(now or timezone.now())
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time.min, tzinfo=tz)
    base = Waybill.objects.filter(subscription=subscription, shop=actor.require_shop())
    table = {
        first + timedelta(days=i): {"allocated": 0, "cancelled": 0, "recycled": 0}
        for i in range(days)
    }
    for name, column in (
        ("allocated", "allocated_at"),
        ("cancelled", "cancelled_at"),
        ("recycled", "recycled_at"),
    ):
        rows = (
            base.filter(**{f"{column}__gte": start})
            .annotate(day=TruncDate(column, tzinfo=tz))
            .values("day")
            .annotate(n=Count("id"))
        )
        for row in rows:
            if row["day"] in table:
                table[row["day"]][name] = row["n"]
    return [{"day": day, **counts} for day, counts in sorted(table.items())]


def exception_list(*, actor: Actor, open_only: bool = True) -> QuerySet[AllocationException]:
    qs = AllocationException.objects.filter(shop=actor.require_shop())
    if open_only:
        qs = qs.filter(resolved_at=None)
    return qs.select_related("order", "subscription", "subscription__carrier").order_by(
        "-updated_at", "-id"
    )


def exception_get(*, actor: Actor, exception_id: int) -> AllocationException:
    row = exception_list(actor=actor, open_only=False).filter(pk=exception_id).first()
    if row is None:
        raise NotFound()
    return row


def violation_list(*, actor: Actor, filters: UsageFilters | None = None) -> QuerySet[Violation]:
    """违规记录: the shop's recycled numbers that later showed tracking, newest first.

    Reached by whoever may read the shop's usage details (any member or token of the shop,
    the same scope as :func:`waybill_list`); another shop's rows are never included.
    ``filters`` narrows by the day the tracking was detected (``from``/``to``, both
    optional, local days, inclusive) and by carrier code. ``deducted`` is the count taken
    again (:data:`~waybills.models.REDEDUCTION_COUNT` once settled, 0 while
    owed)."""
    f = filters or UsageFilters()
    tz = timezone.get_current_timezone()
    qs = Violation.objects.filter(shop=actor.require_shop())
    if f.date_from:
        qs = qs.filter(detected_at__gte=datetime.combine(f.date_from, time.min, tzinfo=tz))
    if f.date_to:
        end = datetime.combine(f.date_to + timedelta(days=1), time.min, tzinfo=tz)
        qs = qs.filter(detected_at__lt=end)
    if f.carrier:
        qs = qs.filter(subscription__carrier__code=f.carrier)
    return (
        qs.annotate(
            deducted=Case(
                When(deducted_at__isnull=False, then=Value(REDEDUCTION_COUNT)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .select_related("waybill", "subscription__carrier", "subscription__branch")
        .order_by("-detected_at", "-id")
    )


def reconciliation_list(*, actor: Actor):
    """The shop's reconciliation statements (jobs of kind ``reconciliation``), newest
    first; none for an actor without the permission the kind declares."""
    from waybill_console.jobs import job_list

    return job_list(actor=actor, kind="reconciliation")


# --- 扫描发货 and the order search ---------------------------------------------------------


def order_ids_by_waybill_no(*, shop_id: int, term: str) -> list[int]:
    """The order search's waybill numbers (registered in ``shops.selectors.
    ORDER_NUMBER_FINDERS``): the shop's own orders carrying this number, any status (a
    cancelled label still finds its order). One probe of the ``(waybill_no, carrier)``
    index; a number another shop drew finds nothing."""
    number = (term or "").strip().upper()
    if not number or len(number) > 40:
        return []
    return list(
        Waybill.objects.filter(waybill_no=number, shop_id=shop_id, order__shop_id=shop_id)
        .order_by()
        .values_list("order_id", flat=True)
        .distinct()[:20]
    )


def _order_labels(shop_id: int) -> QuerySet[Waybill]:
    """The numbers that give the shop's orders their print status: each order's live parent
    package drawn by the shop itself (the number the order's mark shows; a factory's 代发
    number and sub packages do not count)."""
    return Waybill.objects.filter(shop_id=shop_id, package_no=1, status__in=LIVE_STATUSES)


def order_ids_by_print_status(*, shop_id: int, status: str):
    """The order list's print-status filter (registered with
    ``shops.selectors.register_print_status``): the ids of the shop's orders whose number is
    in ``status``, as a subquery for the list's ``pk IN (…)``."""
    return (
        _order_labels(shop_id)
        .filter(**PrintStatus.count_lookup(status))
        .order_by()
        .values("order_id")
    )


def order_print_statuses(*, shop_id: int, order_ids: list[int]) -> dict[int, str]:
    """{order id: print status} of the given orders that hold a live number (one query
    over the ``(order, package_no)`` index)."""
    rows = (
        _order_labels(shop_id).filter(order_id__in=order_ids).values_list("order_id", "print_count")
    )
    return {order_id: PrintStatus.for_count(count).value for order_id, count in rows}


@dataclass
class ScanMatch:
    """What a scan found: the order with its items, the shop's own numbers for it (by
    package), the number scanned (when it was a waybill number), the number it ships under
    (its live parent package; "" when it has none) and why shipping it would be refused
    now (``None``: Enter ships it). The ship itself re-checks everything (``waybill_ship``)."""

    order: Order
    waybills: list[Waybill]
    scanned: Waybill | None
    waybill_no: str
    refusal: AppError | None


def scan_find(*, actor: Actor, code: str) -> ScanMatch:
    """扫描发货: the shop's order a scanned label names, by its waybill number (the shop's own
    numbers, a live one first when two carriers issued it) or, failing that, by its exact
    order number. Another shop's number or order is NOT_FOUND, like a missing one.

    The refusal is the ship's own rules, asked in the ship's order: the status move
    (ALREADY_SHIPPED…), the number (a cancelled label, or no number drawn yet:
    WAYBILL_ORDER_MISMATCH), then ``order_refuse_if_blocked`` (ORDER_BLOCKED: after-sale,
    a cancellation request waiting for its answer)."""
    actor.require(perms.SHIP)
    shop = actor.require_shop()
    code = (code or "").strip()
    if not code or len(code) > 64:
        raise ValidationError.for_fields(code=_("Scan a waybill number or an order number."))
    scanned = min(
        Waybill.objects.filter(waybill_no=code.upper(), shop=shop, order__shop=shop),
        key=lambda w: (w.status not in LIVE_STATUSES, -w.pk),
        default=None,
    )
    orders = order_list(actor=actor).prefetch_related("items")
    if scanned is not None:
        order = orders.filter(pk=scanned.order_id).first()
    else:
        order = orders.filter(order_no=code).first()
    if order is None:
        raise NotFound(
            _("No order or waybill number of this shop matches “%(scanned)s”."), scanned=code
        )
    waybills = list(waybills_for_order(actor=actor, order_id=order.pk))
    live = [w for w in waybills if w.status in LIVE_STATUSES]
    refusal = None
    try:
        order_refuse_transition(order, "ship")
        if scanned is not None and scanned.status not in LIVE_STATUSES:
            raise WaybillOrderMismatch(detail={"waybill_no": scanned.waybill_no})
        if not live:
            raise WaybillOrderMismatch(
                _("This order has no waybill number yet: allocate one first."),
                detail={"waybill_no": ""},
            )
        order_refuse_if_blocked(order, purpose="ship")
    except AppError as err:
        refusal = err
    return ScanMatch(
        order=order,
        waybills=waybills,
        scanned=scanned,
        waybill_no=live[0].waybill_no if live else "",
        refusal=refusal,
    )
