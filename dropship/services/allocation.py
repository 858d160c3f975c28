"""The merchant hands order items (or whole orders) to bound factories, and takes them back.

Each order is handled in its own short transaction that locks the order row first, the
same lock the after-sale and cancellation services take (``shops.services.orders``), so
an allocation and an after-sale that opens at the same moment cannot both win: either the
allocation sees the after-sale and is refused, or the after-sale cancels it. An order that
carries the merchant's own live number is not handed over (ORDER_HAS_OWN_WAYBILL: a
factory's number would be a second parcel).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dropship.errors import AllocationNotCancellable, ItemAlreadyAllocated, OrderNotSynced
from dropship.models import Allocation, FactoryOrder
from dropship.services import outbox
from dropship.services.identity import (
    FACTORY,
    MERCHANT,
    active_binding,
    profile_for,
    require_identity,
)
from shops.models import Order, OrderItem, Shop
from shops.services.order_states import order_refuse_if_blocked
from waybill_console.errors import AppError, BatchTooLarge, NotFound, ValidationError
from waybill_console.tenancy import Actor
from waybills.services.on_behalf import order_refuse_if_own_waybill

BATCH_LIMIT = 500


def _factory_by_shop_no(shop_no) -> Shop:
    from dropship.errors import NotAFactory

    value = str(shop_no or "").strip()
    if not value:
        raise ValidationError.for_fields(factory=_("The factory's shop number."))
    shop = Shop.objects.filter(shop_no=value).first()
    if shop is None or profile_for(shop).identity != FACTORY:
        raise NotAFactory(shop_no=value, detail={"factory": value})
    return shop


def allocation_create(
    *,
    actor: Actor,
    factory: str,
    order_items: list | None = None,
    orders: list | None = None,
    now: datetime | None = None,
) -> list[dict]:
    """Hand items (``order_items``: item ids) or whole orders (``orders``: order ids, every
    item not yet with a factory) to the bound ``factory`` (its shop number). One result
    per item; a refused order never stops the others."""
    merchant = require_identity(actor, MERCHANT)
    target = _factory_by_shop_no(factory)
    if not order_items and not orders:
        raise ValidationError.for_fields(order_items=_("Choose order items or orders."))
    try:
        item_ids = [int(i) for i in (order_items or [])]
        order_ids = [int(i) for i in (orders or [])]
    except (TypeError, ValueError):
        raise ValidationError.for_fields(order_items=_("A list of ids.")) from None
    if len(item_ids) + len(order_ids) > BATCH_LIMIT:
        raise BatchTooLarge(limit=BATCH_LIMIT, detail={"count": len(item_ids) + len(order_ids)})
    binding = active_binding(merchant_id=merchant.pk, factory_id=target.pk)

    # which items of which orders (scoped to the merchant: others' ids are simply not found)
    wanted: dict[int, list[int] | None] = defaultdict(list)
    found_items = dict(
        OrderItem.objects.filter(pk__in=item_ids, order__shop=merchant).values_list(
            "pk", "order_id"
        )
    )
    results: list[dict] = []
    for item_id in item_ids:
        if item_id not in found_items:
            results.append(_fail(item_id, None, NotFound()))
        else:
            lst = wanted[found_items[item_id]]
            if lst is not None:
                lst.append(item_id)
    found_orders = set(
        Order.objects.filter(pk__in=order_ids, shop=merchant).values_list("pk", flat=True)
    )
    for order_id in order_ids:
        if order_id not in found_orders:
            results.append({"order": order_id, "ok": False, "error": NotFound().as_dict()})
        else:
            wanted[order_id] = None  # the whole order
    at = now or timezone.now()
    for order_id, items in wanted.items():
        results += _allocate_order(
            actor=actor, binding=binding, order_id=order_id, item_ids=items, at=at
        )
    return results


def _fail(item_id, order_id, err: AppError) -> dict:
    return {"order_item": item_id, "order": order_id, "ok": False, "error": err.as_dict()}


def _allocate_order(
    *, actor: Actor, binding, order_id: int, item_ids: list[int] | None, at: datetime
) -> list[dict]:
    try:
        with transaction.atomic():
            order = Order.objects.select_for_update().get(pk=order_id)
            if order.created_at < binding.confirmed_at:
                raise OrderNotSynced(order_no=order.order_no, detail={"order": order.pk})
            order_refuse_if_blocked(order, purpose="hand_to_factory")
            order_refuse_if_own_waybill(order, masked=False)  # one parcel per order
            items = list(OrderItem.objects.filter(order=order).order_by("pk"))
            live = dict(
                Allocation.objects.filter(
                    order=order, status=Allocation.Status.ALLOCATED
                ).values_list("order_item_id", "factory_id")
            )
            if item_ids is None:  # the whole order: every item not yet with a factory
                chosen = [
                    i for i in items if live.get(i.pk, binding.factory_id) == binding.factory_id
                ]
                if not chosen:
                    raise ItemAlreadyAllocated(detail={"order": order.pk})
            else:
                chosen = [i for i in items if i.pk in set(item_ids)]
            fo, _created = FactoryOrder.objects.select_for_update().get_or_create(
                factory_id=binding.factory_id,
                order=order,
                defaults={"merchant_id": binding.merchant_id, "allocated_at": at},
            )
            if fo.shipped_at is not None:
                from shops.errors import AlreadyShipped

                raise AlreadyShipped()
            results = []
            handed = False
            for item in chosen:
                holder = live.get(item.pk)
                if holder == binding.factory_id:  # asked again: already there
                    allocation = Allocation.objects.get(
                        order_item=item, status=Allocation.Status.ALLOCATED
                    )
                elif holder is not None:
                    results.append(_fail(item.pk, order.pk, ItemAlreadyAllocated()))
                    continue
                else:
                    allocation = Allocation.objects.create(
                        factory_order=fo,
                        merchant_id=binding.merchant_id,
                        factory_id=binding.factory_id,
                        order=order,
                        order_item=item,
                        allocated_at=at,
                        actor=actor.describe()[:60],
                    )
                    handed = True
                results.append(
                    {
                        "order_item": item.pk,
                        "order": order.pk,
                        "ok": True,
                        "allocation": allocation.pk,
                        "factory_order": fo.pk,
                    }
                )
            if any(r["ok"] for r in results) and fo.status != FactoryOrder.Status.ALLOCATED:
                fo.status, fo.cancel_reason, fo.cancelled_at = (
                    FactoryOrder.Status.ALLOCATED,
                    "",
                    None,
                )
                fo.allocated_at = at
                fo.save(update_fields=["status", "cancel_reason", "cancelled_at", "allocated_at"])
            if not order.is_dropship:
                Order.objects.filter(pk=order.pk).update(is_dropship=True)
            if handed:
                outbox.factory_orders_emit(outbox.ALLOCATION_CREATED, [fo.pk])
            return results
    except IntegrityError:  # a concurrent request took one of the items first
        return [_fail(i, order_id, ItemAlreadyAllocated()) for i in (item_ids or [])] or [
            {"order": order_id, "ok": False, "error": ItemAlreadyAllocated().as_dict()}
        ]
    except AppError as err:
        if item_ids is None:
            return [{"order": order_id, "ok": False, "error": err.as_dict()}]
        return [_fail(i, order_id, err) for i in item_ids]


def allocation_cancel(
    *, actor: Actor, allocation_id: int, now: datetime | None = None
) -> Allocation:
    """The merchant takes an item back, unless the factory already returned its number."""
    merchant = require_identity(actor, MERCHANT)
    at = now or timezone.now()
    allocation = Allocation.objects.filter(pk=allocation_id, merchant=merchant).first()
    if allocation is None:
        raise NotFound()
    with transaction.atomic():
        Order.objects.select_for_update().filter(pk=allocation.order_id).first()
        allocation = Allocation.objects.select_for_update().get(pk=allocation.pk)
        fo = FactoryOrder.objects.select_for_update().get(pk=allocation.factory_order_id)
        if allocation.status != Allocation.Status.ALLOCATED:
            raise AllocationNotCancellable(reason=str(_("it is already cancelled")))
        if fo.returned_at is not None or fo.shipped_at is not None:
            raise AllocationNotCancellable(
                reason=str(_("the factory has already returned a tracking number"))
            )
        _cancel([allocation.pk], reason="merchant", at=at)
        allocation.refresh_from_db()
    return allocation


def _cancel(allocation_ids: list[int], *, reason: str, at: datetime) -> int:
    """Cancel live allocations; a factory order left without any is cancelled too. Each
    factory order touched tells its factory (``dropship.allocation.cancelled``)."""
    if not allocation_ids:
        return 0
    changed = Allocation.objects.filter(
        pk__in=allocation_ids, status=Allocation.Status.ALLOCATED
    ).update(status=Allocation.Status.CANCELLED, cancelled_at=at, cancel_reason=reason)
    fo_ids = set(
        Allocation.objects.filter(pk__in=allocation_ids).values_list("factory_order_id", flat=True)
    )
    emptied = FactoryOrder.objects.filter(
        pk__in=fo_ids, status=FactoryOrder.Status.ALLOCATED
    ).exclude(allocations__status=Allocation.Status.ALLOCATED)
    emptied.update(status=FactoryOrder.Status.CANCELLED, cancelled_at=at, cancel_reason=reason)
    if changed:
        outbox.factory_orders_emit(outbox.ALLOCATION_CANCELLED, fo_ids)
    return changed


def _open_allocations(**scope) -> list[int]:
    """Live allocations whose factory has not returned a number yet."""
    return list(
        Allocation.objects.filter(
            status=Allocation.Status.ALLOCATED,
            factory_order__returned_at__isnull=True,
            factory_order__shipped_at__isnull=True,
            **scope,
        ).values_list("pk", flat=True)
    )


def allocations_cancel_for_order(*, order: Order, reason: str, at: datetime) -> int:
    """Registered with ``shops.services.order_states.ORDER_BLOCK_HANDLERS``: after-sale opened, a
    cancellation requested or the order cancelled (the caller holds the order's lock)."""
    return _cancel(_open_allocations(order_id=order.pk), reason=reason, at=at)


def allocations_cancel_for_pair(
    *, merchant_id: int, factory_id: int, reason: str, at: datetime
) -> int:
    return _cancel(
        _open_allocations(merchant_id=merchant_id, factory_id=factory_id), reason=reason, at=at
    )
