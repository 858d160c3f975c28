"""The factory's side of a dropship order, and shipping it from either side.

* **Draw** (``factory_order_draw``): the factory takes a number from its own e-waybill
  subscription for the order (its account is charged). Refused for a cancelled
  allocation, an ended binding, or an order the one order rule refuses
  (:func:`~shops.services.order_states.order_refuse_if_blocked`, ``allocate_on_behalf``:
  after-sale, under review, not paid or shipped unless another factory's part shipped).
  Drawing, printing, returning and shipping are all refused while the merchant holds its
  own live number for the order (ORDER_HAS_OWN_WAYBILL: one parcel per order; the
  merchant cancels its number first).
* **Print** (``factory_order_print``): the label through the printing app (receiver
  decrypted only there, audited); the first successful print **returns** the number to
  the merchant automatically. Printing is refused (ORDER_BLOCKED) for an order in
  after-sale or under review (the order rule, ``print``), before or after the return, and
  for a receiver changed after the number was drawn (the printing app's own rule).
* **Return** (``factory_order_return``): explicitly, with the drawn number or a number
  from the factory's own system (an outside number: a no-source-risk merchant cannot ship
  with it).
* **Ship** (``factory_order_ship``): either side, once; both lock the order row first and
  then the factory order, so of two concurrent attempts exactly one ships and the other
  gets ALREADY_SHIPPED. An order in after-sale or under review does not ship (the order
  rule, ``ship``), as on the merchant's own doors.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from carriers.models import Carrier
from dropship.errors import AllocationCancelled, NotReturned
from dropship.models import Allocation, FactoryOrder
from dropship.services import outbox
from dropship.services.identity import (
    FACTORY,
    MERCHANT,
    active_binding,
    profile_for,
    require_identity,
)
from shops.errors import AlreadyShipped, OrderBlocked, PlatformWaybillRequired
from shops.models import Address, Order
from shops.services.order_states import (
    AFTER_SALE_REASON,
    SHIPPABLE,
    UNDER_REVIEW_REASON,
    order_refuse_if_blocked,
    order_transition,
)
from waybill_console import permissions as perms
from waybill_console.errors import AppError, BatchTooLarge, NotFound, ValidationError
from waybill_console.tenancy import Actor
from waybills.models import LIVE_STATUSES, Waybill
from waybills.services.on_behalf import order_refuse_if_own_waybill

SHIP_BATCH_LIMIT = 500


def factory_order_get_for_factory(*, actor: Actor, factory_order_id: int) -> FactoryOrder:
    factory = require_identity(actor, FACTORY)
    fo = (
        FactoryOrder.objects.select_related("order", "merchant", "waybill", "waybill__carrier")
        .filter(pk=factory_order_id, factory=factory)
        .first()
    )
    if fo is None:
        raise NotFound()
    return fo


def _items_for_label(fo: FactoryOrder) -> list[dict]:
    rows = (
        Allocation.objects.filter(factory_order=fo, status=Allocation.Status.ALLOCATED)
        .select_related("order_item")
        .order_by("order_item_id")
    )
    return [
        {
            "sku": a.order_item.sku,
            "name": a.order_item.product_name,
            "spec": a.order_item.spec,
            "quantity": a.order_item.quantity,
        }
        for a in rows
    ]


def _sender_for(fo: FactoryOrder) -> dict | None:
    """The merchant's dropship sender (what it asked its factories to print); the label's
    shop name is its dropship shop name. None when the merchant gave no sender: the
    factory's own shipping address is printed."""
    profile = profile_for(fo.merchant)
    if not profile.sender_name:
        return None
    sender = dict(profile.sender)
    sender["shop_name"] = profile.display_name
    return sender


#: why an allocation was cancelled automatically, as the factory is told (ORDER_BLOCKED)
BLOCK_REASONS = {"after_sale": AFTER_SALE_REASON, "under_review": UNDER_REVIEW_REASON}


def _check_workable(fo: FactoryOrder) -> None:
    if fo.status != FactoryOrder.Status.ALLOCATED:
        if fo.cancel_reason in BLOCK_REASONS:  # the after-sale took the allocation away
            raise OrderBlocked(
                reason=str(BLOCK_REASONS[fo.cancel_reason]),
                detail={"cancel_reason": fo.cancel_reason},
            )
        raise AllocationCancelled(detail={"cancel_reason": fo.cancel_reason})
    if fo.shipped_at is not None:
        raise AlreadyShipped()
    active_binding(merchant_id=fo.merchant_id, factory_id=fo.factory_id)
    # one parcel per order: not while the merchant holds its own live number for it
    order_refuse_if_own_waybill(fo.order, masked=True)


def _refuse_if_not_drawable(order: Order, fo: FactoryOrder) -> None:
    """The order's rule for a factory's 取号 (:func:`order_refuse_if_blocked`): an order
    shipped through another factory's part still takes this factory's number."""
    order_refuse_if_blocked(
        order, purpose="allocate_on_behalf", also_shipped=_other_part_shipped(fo)
    )


def _other_part_shipped(fo: FactoryOrder) -> bool:
    """Whether another factory's part of the order has shipped (the order is then shipped
    and this part still takes its own number)."""
    return (
        FactoryOrder.objects.filter(order_id=fo.order_id, shipped_at__isnull=False)
        .exclude(pk=fo.pk)
        .exists()
    )


def _live_waybill(fo: FactoryOrder) -> Waybill | None:
    if fo.waybill_id and fo.waybill and fo.waybill.status in LIVE_STATUSES:
        return fo.waybill
    return None


def factory_order_draw(
    *,
    actor: Actor,
    factory_order_id: int,
    subscription: int | None = None,
    carrier: str = "",
    now: datetime | None = None,
) -> FactoryOrder:
    """The factory draws the order's number from its own subscription (once: asking again
    returns the number it has)."""
    from waybills.services.on_behalf import (
        waybill_commit_on_behalf,
        waybill_prepare_on_behalf,
        waybill_release_on_behalf,
    )

    fo = factory_order_get_for_factory(actor=actor, factory_order_id=factory_order_id)
    _check_workable(fo)
    if _live_waybill(fo):
        return fo
    _refuse_if_not_drawable(fo.order, fo)
    items = _items_for_label(fo)
    drawn, sub = waybill_prepare_on_behalf(
        actor=actor,
        order=fo.order,
        sender=_sender_for(fo),
        items=items,
        subscription=subscription,
        carrier=carrier,
        also_shipped=_other_part_shipped(fo),
        now=now,
    )
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=fo.order_id)
        fo = (
            FactoryOrder.objects.select_for_update(of=("self",))
            .select_related("waybill")
            .get(pk=fo.pk)
        )
        try:
            _check_workable(fo)
            _refuse_if_not_drawable(order, fo)
        except AppError:
            waybill_release_on_behalf(actor=actor, drawn=drawn, subscription=sub)
            raise
        if _live_waybill(fo):  # a concurrent request drew first: give this number back
            waybill_release_on_behalf(actor=actor, drawn=drawn, subscription=sub)
            return fo
        drawn.package.order = order
        waybill = waybill_commit_on_behalf(actor=actor, drawn=drawn, subscription=sub)
        if waybill is not None:
            fo.waybill = waybill
            fo.save(update_fields=["waybill"])
    return factory_order_get_for_factory(actor=actor, factory_order_id=fo.pk)


def factory_order_link_settled(*, order_id: int, shop_id: int, waybill_ids: list[int]) -> None:
    """The settling sweep committed a factory's number whose attempt ended without an answer:
    the factory order it was drawn for gets it, if it still has none."""
    if not waybill_ids:
        return
    fo = (
        FactoryOrder.objects.filter(
            order_id=order_id, factory_id=shop_id, status=FactoryOrder.Status.ALLOCATED
        )
        .select_related("waybill")
        .order_by("id")
    )
    for row in fo:
        if _live_waybill(row) is None:
            FactoryOrder.objects.filter(pk=row.pk).update(waybill_id=waybill_ids[0])
            return


def factory_order_print(
    *,
    actor: Actor,
    factory_order_ids: list,
    fmt: str = "pdf",
    printer_id: int | None = None,
    subscription: int | None = None,
    carrier: str = "",
    template_id: int | None = None,
) -> tuple[object, list[FactoryOrder]]:
    """Print the labels of up to 50 of the factory's orders (drawing numbers where there
    are none yet): one PDF (``fmt="pdf"``) or a print job on one of its printers. The
    numbers are returned to the merchants as soon as the labels are made."""
    from printing import print_jobs
    from printing import services as print_services
    from printing.errors import PrintTooMany
    from printing.models import Printer

    require_identity(actor, FACTORY)
    actor.require(perms.PRINT)
    try:
        ids = list(dict.fromkeys(int(i) for i in factory_order_ids))
    except (TypeError, ValueError):
        raise ValidationError.for_fields(factory_orders=_("A list of ids.")) from None
    if not ids:
        raise ValidationError.for_fields(factory_orders=_("Choose at least one order."))
    if len(ids) > print_jobs.JOB_LIMIT:
        raise PrintTooMany(limit=print_jobs.JOB_LIMIT, detail={"count": len(ids)})
    printer = None
    if fmt != "pdf":
        printer = Printer.objects.filter(pk=printer_id, shop=actor.shop).first()
        if printer is None:
            raise ValidationError.for_fields(printer=_("Not one of this shop's printers."))
    # every order is checked before any number is drawn: a refusal charges nothing
    checked = [factory_order_get_for_factory(actor=actor, factory_order_id=i) for i in ids]
    need_number = False
    carriers = set()
    for fo in checked:
        _check_workable(fo)
        order_refuse_if_blocked(fo.order, purpose="print")
        live = _live_waybill(fo)
        if live is None:
            need_number = True
            _refuse_if_not_drawable(fo.order, fo)
        else:
            print_services.printable(live)
            carriers.add(live.carrier_id)
    if need_number:
        from waybills.services.allocation import resolve_subscription

        sub = resolve_subscription(actor=actor, subscription=subscription, carrier=carrier)
        carriers.add(sub.carrier_id)
    if len(carriers) > 1:
        raise ValidationError.for_fields(
            factory_orders=_("One carrier per batch: these orders already have numbers of "
                             "another carrier.")
        )  # fmt: skip
    orders = [
        factory_order_draw(
            actor=actor, factory_order_id=fo.pk, subscription=subscription, carrier=carrier
        )
        for fo in checked
    ]
    waybills = [fo.waybill for fo in orders]
    if printer is None:
        result = print_services.labels_pdf(actor=actor, waybills=waybills, template_id=template_id)
    else:
        result = print_jobs.print_job_create(
            actor=actor,
            printer=printer,
            waybill_ids=[w.pk for w in waybills],
            template_id=template_id,
        )
    for fo in orders:
        if fo.returned_at is None:
            _return(fo, carrier_code=fo.waybill.carrier.code, tracking_no=fo.waybill.waybill_no)
    return result, orders


def _return(fo: FactoryOrder, *, carrier_code: str, tracking_no: str, at=None) -> FactoryOrder:
    """The number goes back to the merchant (once), who is told."""
    with transaction.atomic():
        returned = FactoryOrder.objects.filter(pk=fo.pk, returned_at__isnull=True).update(
            carrier_code=carrier_code, tracking_no=tracking_no, returned_at=at or timezone.now()
        )
        fo.refresh_from_db()
        if returned:
            outbox.number_returned_emit(fo)
    return fo


def factory_order_return(
    *,
    actor: Actor,
    factory_order_id: int,
    carrier: str = "",
    tracking_no: str = "",
    now: datetime | None = None,
) -> FactoryOrder:
    """回传运单号: the drawn number (no arguments) or a number from the factory's own
    system (``carrier`` + ``tracking_no``)."""
    fo = factory_order_get_for_factory(actor=actor, factory_order_id=factory_order_id)
    if fo.returned_at is not None:
        return fo
    _check_workable(fo)
    waybill = _live_waybill(fo)
    if tracking_no or carrier:
        errors = {}
        code = (carrier or "").strip().upper()
        number = re.sub(r"\s", "", tracking_no or "").upper()
        if not Carrier.objects.filter(code=code).exists():
            errors["carrier"] = str(_("A carrier code, for example ZTO."))
        if not re.fullmatch(r"[A-Z0-9]{8,30}", number):
            errors["tracking_no"] = str(_("8–30 letters and digits."))
        if errors:
            raise ValidationError.for_fields(**errors)
    elif waybill is not None:
        code, number = waybill.carrier.code, waybill.waybill_no
    else:
        raise ValidationError.for_fields(
            tracking_no=_("Draw or print a number first, or give the carrier and number.")
        )
    with transaction.atomic():
        fo = FactoryOrder.objects.select_for_update().get(pk=fo.pk)
        if fo.returned_at is None:
            if waybill is not None and number != waybill.waybill_no:
                fo.waybill = None  # an outside number replaces the drawn one
            fo.carrier_code, fo.tracking_no = code, number
            fo.returned_at = now or timezone.now()
            fo.save(update_fields=["waybill", "carrier_code", "tracking_no", "returned_at"])
            outbox.number_returned_emit(fo)
    return factory_order_get_for_factory(actor=actor, factory_order_id=fo.pk)


# --- shipping (either side) --------------------------------------------------------------


def factory_order_ship(
    *,
    actor: Actor,
    factory_order_id: int,
    return_address_id: int | None = None,
    now: datetime | None = None,
) -> FactoryOrder:
    """Ship the factory's part of the order with the returned number. The merchant may
    choose its return address. The second attempt, from either side, gets
    ALREADY_SHIPPED."""
    actor.require(perms.DROPSHIP_MANAGE)
    shop = actor.require_shop()
    side = profile_for(shop).identity
    scope = {"merchant": shop} if side == MERCHANT else {"factory": shop}
    fo = FactoryOrder.objects.filter(pk=factory_order_id, **scope).first()
    if fo is None:
        raise NotFound()
    address = None
    if return_address_id:
        if side != MERCHANT:
            raise ValidationError.for_fields(
                return_address=_("Only the merchant chooses a return address.")
            )
        address = Address.objects.filter(shop=shop, pk=return_address_id).first()
        if address is None:
            raise ValidationError.for_fields(return_address=_("Not one of this shop's addresses."))
    at = now or timezone.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=fo.order_id)
        fo = FactoryOrder.objects.select_for_update().get(pk=fo.pk)
        if fo.shipped_at is not None:
            raise AlreadyShipped(detail={"shipped_by": fo.shipped_by})
        if fo.status != FactoryOrder.Status.ALLOCATED:
            raise AllocationCancelled(detail={"cancel_reason": fo.cancel_reason})
        if fo.returned_at is None:
            raise NotReturned()
        order_refuse_if_blocked(order, purpose="ship")
        order_refuse_if_own_waybill(order, masked=side == FACTORY)
        platform = fo.waybill_id is not None
        if not platform and order.shop.no_source_risk:
            raise PlatformWaybillRequired()
        fo.shipped_at, fo.shipped_by = at, side
        fo.return_address = address
        fo.save(update_fields=["shipped_at", "shipped_by", "return_address"])
        if order.status in SHIPPABLE:
            order.carrier_code, order.tracking_no = fo.carrier_code, fo.tracking_no
            order.has_waybill, order.shipped_by_hand = platform, not platform
            order.return_address = address or order.return_address
            order_transition(
                order,
                "ship",
                actor=actor,
                at=at,
                carrier=fo.carrier_code,
                waybill_no=fo.tracking_no,
                dropship_factory=fo.factory.shop_no,
            )
    return fo


def factory_order_ship_batch(
    *, actor: Actor, factory_order_ids: list, return_address_id: int | None = None
) -> list[dict]:
    """Up to 500 at once; one result each, a refusal never stops the others."""
    if not isinstance(factory_order_ids, list) or not factory_order_ids:
        raise ValidationError.for_fields(factory_orders=_("A list of ids."))
    if len(factory_order_ids) > SHIP_BATCH_LIMIT:
        raise BatchTooLarge(limit=SHIP_BATCH_LIMIT, detail={"count": len(factory_order_ids)})
    results = []
    for raw in factory_order_ids:
        try:
            fo = factory_order_ship(
                actor=actor, factory_order_id=int(raw), return_address_id=return_address_id
            )
            results.append({"factory_order": fo.pk, "ok": True, "tracking_no": fo.tracking_no})
        except AppError as err:
            results.append({"factory_order": raw, "ok": False, "error": err.as_dict()})
        except (TypeError, ValueError):
            err = ValidationError.for_fields(factory_orders=_("A list of ids."))
            results.append({"factory_order": raw, "ok": False, "error": err.as_dict()})
    return results
