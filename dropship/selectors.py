"""Dropship reads, always scoped to the actor's shop and its side (merchant or factory).

A factory never gets the merchant's :class:`~shops.models.Order` through these: its rows
are :class:`FactoryOrder` values with masked ids and masked consumer data only.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from dropship.models import (
    Allocation,
    Binding,
    BindingStatus,
    FactoryOrder,
    SettlementPrice,
    Statement,
)
from dropship.services.identity import FACTORY, MERCHANT, profile_for, require_identity
from shops.models import Order, OrderItem, Shop
from waybill_console import permissions as perms
from waybill_console.crypto import mask_code
from waybill_console.errors import NotFound, ValidationError
from waybill_console.tenancy import Actor


def on_behalf_waybills(shop) -> Q:
    """The numbers ``shop`` drew as a factory for merchants' orders that it may still act
    on through any door (registered with ``waybills.selectors.ON_BEHALF_ACCESS``): its
    factory order still holds the number, the allocation is live, and the binding with
    the merchant is active. Withdrawn, cancelled (an after-sale or a cancellation request
    takes the allocation back) or unbound: the number is out of the factory's reach (404),
    its label included. Printing an order blocked since the draw is refused by the
    printing rule (ORDER_BLOCKED)."""
    live_binding = Binding.objects.filter(
        merchant=OuterRef("merchant"), factory=OuterRef("factory"), status=BindingStatus.ACTIVE
    )
    holder = FactoryOrder.objects.filter(
        waybill=OuterRef("pk"), factory=shop, status=FactoryOrder.Status.ALLOCATED
    ).filter(Exists(live_binding))
    return Q(Exists(holder))


def binding_list(*, actor: Actor) -> QuerySet[Binding]:
    actor.require(perms.DROPSHIP_MANAGE)
    shop = actor.require_shop()
    side = profile_for(shop).identity
    scope = {"merchant": shop} if side == MERCHANT else {"factory": shop}
    return Binding.objects.filter(**scope).select_related(
        "merchant", "factory", "merchant__dropship_profile"
    )


def binding_get(*, actor: Actor, binding_id: int) -> Binding:
    binding = binding_list(actor=actor).filter(pk=binding_id).first()
    if binding is None:
        raise NotFound()
    return binding


def bound_factories(*, actor: Actor):
    """The merchant's active bindings (for the allocate menu)."""
    return (
        binding_list(actor=actor).filter(status=BindingStatus.ACTIVE).order_by("factory__shop_no")
    )


# --- the merchant's side --------------------------------------------------------------------

DROPSHIP_STATES = ("unallocated", "allocated", "returned", "shipped", "cancelled")


@dataclass(frozen=True)
class MerchantFilters:
    state: str = ""  # one of DROPSHIP_STATES
    factory: str = ""  # shop number
    q: str = ""  # order number

    @classmethod
    def from_params(cls, params) -> MerchantFilters:
        state = (params.get("state") or "").strip()
        if state and state not in DROPSHIP_STATES:
            raise ValidationError.for_fields(
                state=_("One of %(values)s.") % {"values": ", ".join(DROPSHIP_STATES)}
            )
        return cls(
            state=state,
            factory=(params.get("factory") or "").strip(),
            q=(params.get("q") or "").strip(),
        )


def dropship_order_list(*, actor: Actor, filters: MerchantFilters | None = None) -> QuerySet[Order]:
    """The merchant's dropship list: orders created after its first binding was confirmed
    (older ones are not synced), with their items' allocations."""
    shop = require_identity(actor, MERCHANT)
    f = filters or MerchantFilters()
    first = (
        Binding.objects.filter(merchant=shop, confirmed_at__isnull=False)
        .order_by("confirmed_at")
        .values_list("confirmed_at", flat=True)
        .first()
    )
    if first is None:
        return Order.objects.none()
    qs = Order.objects.filter(shop=shop, created_at__gte=first)
    live = Allocation.objects.filter(order=OuterRef("pk"), status=Allocation.Status.ALLOCATED)
    fo = FactoryOrder.objects.filter(order=OuterRef("pk"), status=FactoryOrder.Status.ALLOCATED)
    if f.state == "unallocated":
        qs = qs.filter(status__in=("paid", "ready_to_ship")).exclude(Exists(live))
    elif f.state == "allocated":
        qs = qs.filter(Exists(fo.filter(returned_at__isnull=True)))
    elif f.state == "returned":
        qs = qs.filter(Exists(fo.filter(returned_at__isnull=False, shipped_at__isnull=True)))
    elif f.state == "shipped":
        qs = qs.filter(Exists(fo.filter(shipped_at__isnull=False)))
    elif f.state == "cancelled":
        qs = qs.filter(
            Exists(FactoryOrder.objects.filter(order=OuterRef("pk"), status="cancelled"))
        )
    if f.factory:
        qs = qs.filter(Exists(fo.filter(factory__shop_no=f.factory)))
    if f.q:
        qs = qs.filter(order_no__startswith=f.q)
    return qs.prefetch_related(
        Prefetch("items", queryset=OrderItem.objects.order_by("pk")),
        Prefetch(
            "factory_orders",
            queryset=FactoryOrder.objects.select_related("factory").order_by("pk"),
        ),
    ).order_by("-created_at", "-id")


def allocation_list(*, actor: Actor, order_id: int | None = None) -> QuerySet[Allocation]:
    shop = require_identity(actor, MERCHANT)
    qs = Allocation.objects.filter(merchant=shop).select_related(
        "order", "order_item", "factory", "factory_order"
    )
    if order_id is not None:
        qs = qs.filter(order_id=order_id)
    return qs


def factory_order_for_merchant(*, actor: Actor, factory_order_id: int) -> FactoryOrder:
    shop = require_identity(actor, MERCHANT)
    fo = (
        FactoryOrder.objects.filter(pk=factory_order_id, merchant=shop)
        .select_related("order", "factory")
        .first()
    )
    if fo is None:
        raise NotFound()
    return fo


# --- the factory's side ---------------------------------------------------------------------


@dataclass(frozen=True)
class FactoryFilters:
    merchant: str = ""  # the masked merchant id the factory sees (never a shop number)
    merchant_id: int | None = None  # the factory pages' own choice (from a binding)
    status: str = ""  # allocated / cancelled
    returned: bool | None = None
    after_sale: bool | None = None
    shipped: bool | None = None

    @classmethod
    def from_params(cls, params) -> FactoryFilters:
        def yes_no(name):
            value = (params.get(name) or "").strip().lower()
            if value in ("", "all"):
                return None
            if value in ("yes", "true", "1"):
                return True
            if value in ("no", "false", "0"):
                return False
            raise ValidationError.for_fields(**{name: _("yes or no.")})

        status = (params.get("status") or "").strip()
        if status and status not in FactoryOrder.Status.values:
            raise ValidationError.for_fields(status=_("allocated or cancelled."))
        return cls(
            merchant=(params.get("merchant") or "").strip(),
            status=status,
            returned=yes_no("returned"),
            after_sale=yes_no("after_sale"),
            shipped=yes_no("shipped"),
        )


def merchants_by_masked_id(*, factory, masked: str) -> list[int]:
    """The merchants that asked ``factory`` to bind (whatever became of it) whose masked id
    (``mask_code`` of the shop number, all a factory ever sees) is ``masked``: the only way
    a factory names a merchant. A shop number matches nothing, so no filter or request
    can tell a factory which shop numbers exist."""
    masked = str(masked or "").strip()
    if not masked:
        return []
    pairs = (
        Binding.objects.filter(factory=factory)
        .values_list("merchant_id", "merchant__shop_no")
        .distinct()
    )
    return sorted({pk for pk, shop_no in pairs if mask_code(shop_no) == masked})


def merchant_for_masked_id(*, actor: Actor, masked) -> Shop | None:
    """The one merchant (a :class:`~shops.models.Shop`, for the server's use only) the
    factory names by its masked id, or None: no such merchant, a shop number, or two of
    its merchants sharing that masked id (the pages, which name merchants by binding,
    tell those apart)."""
    factory = require_identity(actor, FACTORY)
    found = merchants_by_masked_id(factory=factory, masked=masked)
    return Shop.objects.get(pk=found[0]) if len(found) == 1 else None


MASKED_MERCHANT_HELP = _("The masked ID of a merchant bound to your factory, as shown to you.")


def factory_order_list(
    *, actor: Actor, filters: FactoryFilters | None = None
) -> QuerySet[FactoryOrder]:
    """The factory's orders (the only door through which it sees a merchant's order)."""
    factory = require_identity(actor, FACTORY)
    f = filters or FactoryFilters()
    qs = FactoryOrder.objects.filter(factory=factory)
    if f.merchant_id is not None:
        qs = qs.filter(merchant_id=f.merchant_id)
    if f.merchant:
        qs = qs.filter(merchant_id__in=merchants_by_masked_id(factory=factory, masked=f.merchant))
    if f.status:
        qs = qs.filter(status=f.status)
    if f.returned is not None:
        qs = qs.filter(returned_at__isnull=not f.returned)
    if f.shipped is not None:
        qs = qs.filter(shipped_at__isnull=not f.shipped)
    if f.after_sale is not None:
        cond = Q(order__after_sale_status="in_progress")
        qs = qs.filter(cond) if f.after_sale else qs.exclude(cond)
    return with_factory_view(qs)


def with_factory_view(qs: QuerySet[FactoryOrder]) -> QuerySet[FactoryOrder]:
    """``qs`` with what :func:`factory_view` reads (no query per order)."""
    return qs.select_related(
        "order", "merchant", "merchant__dropship_profile", "waybill", "waybill__carrier"
    ).prefetch_related(
        Prefetch(
            "allocations",
            queryset=Allocation.objects.select_related("order_item").order_by("order_item_id"),
        )
    )


def factory_order_get(*, actor: Actor, factory_order_id: int) -> FactoryOrder:
    fo = factory_order_list(actor=actor).filter(pk=factory_order_id).first()
    if fo is None:
        raise NotFound()
    return fo


def prices_for(factory_orders) -> dict:
    """``{(merchant_id, sku): price}`` for these factory orders (one query)."""
    fos = list(factory_orders)
    if not fos:
        return {}
    merchants = {fo.merchant_id for fo in fos}
    return {
        (m, sku): price
        for m, sku, price in SettlementPrice.objects.filter(
            factory_id=fos[0].factory_id, merchant_id__in=merchants
        ).values_list("merchant_id", "sku", "price")
    }


def factory_view(fo: FactoryOrder, prices: dict | None = None) -> dict:
    """What the factory may see of one order: no plaintext consumer data, no real merchant
    id or order number. Pages, the API and exports all use this. ``prices`` (from
    :func:`prices_for`) adds each item's settlement price."""
    if prices is None:
        prices = prices_for([fo])
    order = fo.order
    profile = getattr(fo.merchant, "dropship_profile", None)
    items = [a for a in fo.allocations.all()]
    return {
        "id": fo.pk,
        "merchant": mask_code(fo.merchant.shop_no),
        "merchant_name": (profile.display_name if profile else "") or "",
        "order_no": mask_code(order.order_no),
        "created_at": order.created_at,
        "status": fo.status,
        "status_display": fo.get_status_display(),
        "cancel_reason": fo.cancel_reason,
        "allocated_at": fo.allocated_at,
        "return_status": "returned" if fo.returned_at else "not_returned",
        "returned_at": fo.returned_at,
        "after_sale_status": order.after_sale_status,
        "after_sale_display": order.get_after_sale_status_display(),
        "address_changed": order.address_changed_at is not None,
        "receiver_name": order.receiver_name_masked,
        "receiver_phone": order.receiver_phone_masked,
        "receiver_address": order.receiver_address_masked,
        "carrier": fo.carrier_code or (fo.waybill.carrier.code if fo.waybill_id else ""),
        "waybill_no": fo.waybill.waybill_no if fo.waybill_id else "",
        "tracking_no": fo.tracking_no,
        "shipped_at": fo.shipped_at,
        "items": [
            {
                "allocation": a.pk,
                "sku": a.order_item.sku,
                "product_name": a.order_item.product_name,
                "spec": a.order_item.spec,
                "quantity": a.order_item.quantity,
                "status": a.status,
                "settlement_price": prices.get((fo.merchant_id, a.order_item.sku)),
            }
            for a in items
        ],
    }


def price_list(*, actor: Actor) -> QuerySet[SettlementPrice]:
    factory = require_identity(actor, FACTORY)
    return SettlementPrice.objects.filter(factory=factory).select_related("merchant")


def statement_list(*, actor: Actor) -> QuerySet[Statement]:
    actor.require(perms.DROPSHIP_MANAGE)
    shop = actor.require_shop()
    side = profile_for(shop).identity
    scope = {"merchant": shop} if side == MERCHANT else {"factory": shop}
    return Statement.objects.filter(**scope).select_related("merchant", "factory", "job")


def statement_get(*, actor: Actor, statement_id: int) -> Statement:
    statement = statement_list(actor=actor).filter(pk=statement_id).first()
    if statement is None:
        raise NotFound()
    return statement


def statement_job(*, actor: Actor, statement_id: int):
    """The job of a statement this shop asked for (the other side's copy is not its to
    download: 404), or None while the file is not written yet."""
    statement = statement_get(actor=actor, statement_id=statement_id)
    job = statement.job
    if job is None or statement.requested_by_id != actor.shop_id:
        raise NotFound()
    return job if job.file_path else None
