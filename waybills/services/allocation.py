"""取号: the doors that draw numbers for a shop's own orders: one order (with its
子母件), appended sub numbers, and a batch. Each resolves what it draws for, checks the
order, screens the receiver, and goes through the one path of
:mod:`waybills.services.draw` (reserve the quota → ask the carrier → commit or release).

A refusal the merchant can act on is kept as the order's 面单异常 (exception record).
Asking again for an order that already holds live numbers returns them, drawing nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from carriers import errors as carrier_errors
from carriers.gateways import gateway_for
from carriers.gateways.base import Receiver, ScreenResult
from carriers.models import Subscription
from shops.errors import OrderBlocked
from shops.models import Order
from shops.services.order_states import order_refuse_if_blocked
from waybill_console import permissions as perms
from waybill_console import rawsql
from waybill_console.errors import AppError, NotFound, ValidationError
from waybill_console.tenancy import Actor
from waybills.errors import MultiPackageNotSupported, OrderNotAllocatable
from waybills.models import AllocationException, Waybill
from waybills.services import rows as R
from waybills.services.draw import Drawn, Package, commit_or_release, live_rows, obtain
from waybills.services.receiver import receiver_of
from waybills.services.resolve import (  # noqa: F401 (the engine's figures, imported from here)
    ALLOCATABLE,
    BATCH_LIMIT,
    CHUNK,
    MAX_PACKAGES,
    MULTI_PACKAGE_CARRIERS,
    USABLE,
    first_live_numbers,
    live_waybills,
    order_and_subscription,
    resolve_subscription,
    subscription_resolve,
)

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
    carrier_errors.GatewayUnavailable,
    carrier_errors.GatewaySignatureInvalid,
    carrier_errors.AllocationTimeout,
    carrier_errors.AllocationFailed,
    carrier_errors.BranchCustomerMismatch,
    carrier_errors.MonthlyAccountInvalid,
    carrier_errors.SecretKeyMissing,
    carrier_errors.CarrierConfigurationRequired,
    carrier_errors.MerchantCodeMismatch,
    carrier_errors.ServiceProviderCreationFailed,
    carrier_errors.SubscriptionNotActive,
    OrderBlocked,
    OrderNotAllocatable,
    MultiPackageNotSupported,
)


@dataclass
class Allocation:
    waybills: list[Waybill]
    created: bool

    @property
    def parent(self) -> Waybill:
        return self.waybills[0]


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


def _built(d: Drawn, *, sub: Subscription) -> list[Waybill]:
    """The committed waybills as model instances, from the values the commit sent (not read
    back; related objects set, so answers need no further queries)."""
    related = {"subscription": sub, "carrier": sub.carrier, "branch": sub.branch}
    by_package = {v["package_no"]: v for v in d.values}
    out = []
    parent_pk = d.rows[0][0]
    for pk, _order_id, package_no, _number in d.rows:
        values = dict(by_package[package_no])
        if package_no > 1 and not values["parent_id"]:
            values["parent_id"] = parent_pk  # 子母件: set by the commit's second statement
        waybill = rawsql.new(Waybill, values, {**related, "order": d.package.order})
        waybill.pk = pk
        waybill._state.adding, waybill._state.db = False, "default"
        out.append(waybill)
    return out


def _draw_one(*, actor: Actor, sub: Subscription, package: Package, at: datetime) -> Allocation:
    """One package set through the path; the answer is the committed numbers, or the live
    ones of the attempt that committed first."""
    actor_name = actor.describe()[:60]
    [d] = obtain(
        actor_name=actor_name,
        sub=sub,
        packages=[package],
        at=at,
        reference=f"order:{package.order.pk}",
    )
    if d.error is not None:
        raise d.error
    commit_or_release(sub=sub, drawn=[d], at=at, actor_name=actor_name)
    order = package.order
    if d.committed:
        if package.package_from == 1:
            order.has_waybill, order.carrier_code, order.tracking_no = (
                True,
                sub.carrier.code,
                d.rows[0][3],
            )
        return Allocation(_built(d, sub=sub), created=True)
    existing = live_rows(
        order_id=order.pk, shop_id=package.shop_id, first=package.package_from, count=package.count
    )
    if not existing:  # pragma: no cover - committed neither by us nor by anyone
        raise carrier_errors.AllocationFailed()
    return Allocation(existing, created=False)


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

    ``order`` may be an id: the order is then read here, scoped to the actor's shop
    (another shop's order is NOT_FOUND, as from the order selector), together with the
    named subscription in one statement."""
    prefetched = None
    if not isinstance(order, Order):
        order, prefetched = order_and_subscription(
            actor=actor, order_id=order, subscription=subscription
        )
    actor.require(perms.WAYBILL_ALLOCATE)
    if order.shop_id != actor.require_shop().pk:
        raise NotFound()
    if not isinstance(package_count, int) or not 1 <= package_count <= MAX_PACKAGES:
        raise ValidationError.for_fields(
            package_count=gettext("A whole number from 1 to %(n)s.") % {"n": MAX_PACKAGES}
        )
    sub = None
    try:
        if subscription or carrier:
            sub, has_live = subscription_resolve(
                actor=actor,
                subscription=subscription,
                carrier=carrier,
                order_id=order.pk,
                prefetched=prefetched,
            )
        else:
            has_live = True  # no service named: only an existing number can be the answer
        if has_live:
            existing = live_waybills(order.pk, order.shop_id)
            if existing:
                return Allocation(existing, created=False)
            if sub is None:
                subscription_resolve(actor=actor, subscription=subscription, carrier=carrier)
        order_refuse_if_blocked(order, purpose="allocate")
        if package_count > 1 and sub.carrier.code not in MULTI_PACKAGE_CARRIERS:
            raise MultiPackageNotSupported()
        screen = gateway_for(sub.carrier.code).screen(
            subscription=sub, receiver=receiver_of(order), services=services
        )
        package = Package(
            order=order,
            shop_id=order.shop_id,
            screen=screen,
            sender=R.sender_of(sub),
            count=package_count,
            weight_grams=weight_grams,
            services=list(services or []),
        )
        return _draw_one(actor=actor, sub=sub, package=package, at=now or timezone.now())
    except RECORDED as err:
        exception_record(
            order=order, error=err, subscription=sub, carrier=carrier, package_count=package_count
        )
        raise


def waybill_append_packages(
    *, actor: Actor, order: Order, count: int = 1, now: datetime | None = None
) -> list[Waybill]:
    """Add sub numbers to an order that already has its parent number (子母件, later)."""
    actor.require(perms.WAYBILL_ALLOCATE)
    if order.shop_id != actor.require_shop().pk:
        raise NotFound()
    if not isinstance(count, int) or not 1 <= count <= MAX_PACKAGES:
        raise ValidationError.for_fields(
            count=gettext("A whole number from 1 to %(n)s.") % {"n": MAX_PACKAGES}
        )
    existing = live_waybills(order.pk, order.shop_id)
    if not existing:
        raise ValidationError.for_fields(order=gettext("The order has no waybill number yet."))
    parent = existing[0]
    if parent.package_no != 1 or len(existing) + count > MAX_PACKAGES:
        raise ValidationError.for_fields(
            count=gettext("At most %(n)s packages per order.") % {"n": MAX_PACKAGES}
        )
    sub = parent.subscription
    if sub.carrier.code not in MULTI_PACKAGE_CARRIERS:
        raise MultiPackageNotSupported()
    order_refuse_if_blocked(order, purpose="allocate")
    screen = ScreenResult(
        sort_code=parent.sort_code,
        package_center_code=parent.package_center_code,
        package_center_name=parent.package_center_name,
        short_address_code=parent.short_address_code,
        short_address_name=parent.short_address_name,
        region_code="",
        services=parent.services,
    )
    package = Package(
        order=order,
        shop_id=order.shop_id,
        screen=screen,
        sender=parent.sender,
        package_from=max(w.package_no for w in existing) + 1,
        count=count,
        parent_id=parent.pk,
    )
    return _draw_one(actor=actor, sub=sub, package=package, at=now or timezone.now()).waybills


# --- many orders (the batch job) -------------------------------------------------------------


def waybill_allocate_many(
    *,
    actor: Actor,
    orders: list[Order],
    subscription: int | Subscription | None = None,
    carrier: str = "",
    now: datetime | None = None,
) -> list[dict]:
    """Allocate one number for each order, one quota reservation (one lock) per chunk.

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
    sender = R.sender_of(sub)
    live = first_live_numbers([o.pk for o in orders], shop.pk)
    ready: list[Package] = []
    for order in orders:
        if order.shop_id != shop.pk:
            results[order.pk] = _fail(order.pk, NotFound())
            continue
        if order.pk in live:
            results[order.pk] = _ok(order.pk, *live[order.pk], False)
            continue
        try:
            order_refuse_if_blocked(order, purpose="allocate")
            screen = gateway.screen(subscription=sub, receiver=receiver_of(order))
            ready.append(Package(order=order, shop_id=shop.pk, screen=screen, sender=sender))
        except RECORDED as err:
            exception_record(order=order, error=err, subscription=sub)
            results[order.pk] = _fail(order.pk, err)
    for start in range(0, len(ready), CHUNK):
        chunk = ready[start : start + CHUNK]
        results.update(_allocate_chunk(actor=actor, sub=sub, chunk=chunk, now=now))
    return [results[o.pk] for o in orders]


def _allocate_chunk(
    *, actor: Actor, sub: Subscription, chunk: list[Package], now: datetime | None
) -> dict[int, dict]:
    results: dict[int, dict] = {}
    at = now or timezone.now()
    actor_name = actor.describe()[:60]
    try:
        drawn = obtain(
            actor_name=actor_name,
            sub=sub,
            packages=chunk,
            at=at,
            reference=f"batch:{chunk[0].order.pk}-{chunk[-1].order.pk}",
            upto=True,
        )
    except RECORDED as err:  # suspended (or emptied) while the batch ran
        for p in chunk:
            exception_record(order=p.order, error=err, subscription=sub)
            results[p.order.pk] = _fail(p.order.pk, err)
        return results
    commit_or_release(sub=sub, drawn=drawn, at=at, actor_name=actor_name)
    for d in drawn:
        order = d.package.order
        if d.committed:
            screen = d.issued.routing or d.package.screen
            results[order.pk] = _ok(order.pk, d.rows[0][3], screen.sort_code, True)
        elif d.error is not None:
            exception_record(order=order, error=d.error, subscription=sub)
            results[order.pk] = _fail(order.pk, d.error)
        else:  # another attempt committed this order's number first
            existing = live_waybills(order.pk, order.shop_id)
            if existing:
                results[order.pk] = _ok(
                    order.pk, existing[0].waybill_no, existing[0].sort_code, False
                )
            else:  # pragma: no cover - released by a lost race and nothing live
                err = carrier_errors.AllocationFailed()
                results[order.pk] = _fail(order.pk, err)
    return results


def _ok(order_id: int, waybill_no: str, sort_code: str, created: bool) -> dict:
    return {
        "order": order_id,
        "ok": True,
        "waybill_no": waybill_no,
        "sort_code": sort_code,
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
