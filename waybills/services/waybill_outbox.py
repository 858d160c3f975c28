"""What the waybill engine tells the shops that listen (``events``): a number drawn
(``waybill.allocated``), cancelled, recycled, its tracking (``tracking.updated``) and a
recycled number that showed tracking (``violation.recorded``).

Each event is written in the transaction of its change (the transactional outbox): the
numbers drawn in the engine's commit statement itself (:func:`allocated_batch`, placed by
``draw.commit`` through ``events.services.outbox_sql``), the others by ``emit`` inside the
service's transaction. The data is the number as ``GET /api/v1/waybills/{waybill_no}/``
shows it to the shop that holds it (receiver masked; a factory's number for a merchant's
order shows the order number masked and no order id). Nothing is built for a shop nobody
listens to: ``waybill.*`` and ``tracking.updated`` go to endpoints only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.urls import reverse

from events.services.outbox import emit, emit_many, wanted
from events.services.outbox_sql import Batch, api_json, batch_for
from waybill_console import rawsql
from waybills.models import REDEDUCTION_COUNT, Violation, Waybill

ALLOCATED = "waybill.allocated"
CANCELLED = "waybill.cancelled"
RECYCLED = "waybill.recycled"
TRACKING = "tracking.updated"
VIOLATION = "violation.recorded"


def waybill_data(waybill: Waybill, *, parent_waybill_no: str | None = None) -> dict:
    """The number as the API shows it to its shop. ``parent_waybill_no``: a sub number's
    parent when the row does not point at it yet (a 子母件 being committed)."""
    return waybills_data([waybill], parents=[parent_waybill_no])[0]


def waybills_data(waybills: list[Waybill], *, parents: list | None = None) -> list[dict]:
    """:func:`waybill_data` of many numbers, through one serializer (DRF builds a model
    serializer's fields per instance: once for the list, not once per number)."""
    from waybills.api.serializers import WaybillSerializer

    if not waybills:
        return []
    out = api_json(WaybillSerializer(waybills, many=True).data)
    for data, parent_no in zip(out, parents or [None] * len(out), strict=True):
        if parent_no is not None:
            data["parent_waybill_no"] = parent_no
    return out


def waybill_link(waybill: Waybill) -> str:
    """Where the shop sees the number: its order's page; a factory, its portal's orders."""
    if waybill.shop_id != waybill.order.shop_id:
        return reverse("factory:orders")
    return reverse("console:order_detail", args=[waybill.order_id])


def allocated_batch(drawn: Iterable, *, sub, at: datetime) -> Batch:
    """The ``waybill.allocated`` events of the numbers ``drawn`` (``draw.Drawn`` whose
    ``values`` the commit is about to insert), one per number, for the drawing shops that
    listen; the commit statement writes those of the numbers it really inserts."""
    drawn = list(drawn)
    batch, listening = batch_for(ALLOCATED, at, (d.package.shop_id for d in drawn))
    if not listening:
        return batch
    related = {"subscription": sub, "carrier": sub.carrier, "branch": sub.branch}
    waybills, parents, shops = [], [], []
    for d in drawn:
        p = d.package
        if p.shop_id not in listening:
            continue
        first = p.first_package_no or p.package_from
        appended_to = None
        if p.parent_id:  # sub numbers appended to a parent drawn before
            appended_to = (
                Waybill.objects.filter(pk=p.parent_id).values_list("waybill_no", flat=True).first()
            )
        for values in d.values:
            parent_no = appended_to
            if parent_no is None and values["package_no"] > first:
                parent_no = d.issued.numbers[0]  # 子母件: the parent is drawn with them
            waybills.append(
                rawsql.new(Waybill, {**values, "parent_id": None}, {**related, "order": p.order})
            )
            parents.append(parent_no)
            shops.append(p.shop_id)
    datas = waybills_data(waybills, parents=parents)
    for waybill, shop_id, data in zip(waybills, shops, datas, strict=True):
        batch.add(
            shop_id,
            ALLOCATED,
            data,
            link=waybill_link(waybill),
            key=waybill.waybill_no,
        )
    return batch


def waybills_emit(type_name: str, waybills: list[Waybill]) -> int:
    """One event per number (cancelled, tracking) for the shops holding them that listen,
    in the caller's transaction."""
    listening = {s for s in {w.shop_id for w in waybills} if wanted(s, type_name)}
    told = [w for w in waybills if w.shop_id in listening]
    return emit_many(
        type_name,
        [
            (w.shop_id, data, waybill_link(w))
            for w, data in zip(told, waybills_data(told), strict=True)
        ],
    )


def recycled_emit(*, ids: list[int], shop_ids: Iterable[int]) -> int:
    """``waybill.recycled`` for the numbers a recycling chunk just marked (``ids``, held by
    ``shop_ids``), in the chunk's transaction: the numbers of the shops that listen are
    read once and written in one INSERT (a sweep recycles thousands)."""
    listening = [s for s in set(shop_ids) if wanted(s, RECYCLED)]
    if not listening or not ids:
        return 0
    rows = (
        Waybill.objects.filter(pk__in=ids, shop_id__in=listening)
        .select_related("carrier", "branch", "order", "parent")
        .order_by("pk")
    )
    rows = list(rows)
    return emit_many(
        RECYCLED,
        [
            (w.shop_id, data, waybill_link(w))
            for w, data in zip(rows, waybills_data(rows), strict=True)
        ],
    )


def violation_emit(violation: Violation) -> bool:
    """``violation.recorded`` (people are told: 违规记录), as the violations API shows it."""
    from waybills.api.serializers import ViolationSerializer

    violation.deducted = REDEDUCTION_COUNT if violation.deducted_at else 0
    return emit(
        violation.shop_id,
        VIOLATION,
        api_json(ViolationSerializer(violation).data),
        link=reverse("console:waybill_violations"),
    )
