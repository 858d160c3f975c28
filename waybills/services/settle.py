"""Settling what no attempt finished: a reservation left open by a crash or a time-out
is resolved by asking the carrier again with the same carrier-side order id (beat:
``waybills.tasks.settle_reservations``); and the package numbers a factory's numbers take.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from carriers import quota
from carriers.gateways import gateway_for
from carriers.gateways.base import IssueRequest, ScreenResult
from carriers.models import Reservation, Subscription
from carriers.quota.reservations import Held
from shops.models import Order
from waybill_console.errors import AppError
from waybill_console.locks import advisory_lock
from waybills.models import LIVE_STATUSES, Waybill
from waybills.services import rows as R
from waybills.services.draw import Drawn, Package, commit_or_release, issue_request


def settle_after() -> timedelta:
    """An attempt older than this with no answer is settled by asking the carrier (longer
    than any gateway's time-outs and retries, so a slow request is never raced)."""
    return timedelta(seconds=settings.RESERVATION_SETTLE_AFTER_SECONDS)


#: purpose -> ``handler(order_id=…, shop_id=…, waybill_ids=…)`` called after the settling
#: sweep committed a reservation another app started (dropship links its factory order)
SETTLED_HANDLERS: dict[str, object] = {}


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
    return issue_request(package, sub=sub, carrier_order_id=res.carrier_order_id, count=res.count)


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
