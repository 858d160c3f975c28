"""重打: printing the label of a number that was printed before.

A console page asks first: :func:`reprint_check` refuses with REPRINT_NOT_CONFIRMED (the
numbers in ``detail.waybill_nos``) when its door asks for confirmation and the request
does not carry it; the page answers with the confirmation step, and its confirmed request
prints. The API and the factory portal print as asked (their callers confirm on their own
side). Every reprint, whatever its door, is written to its order's history by
:func:`reprints_record` when it is asked for (the number, the carrier, who).
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext

from printing.errors import ReprintNotConfirmed
from shops.services.order_events import LABEL_PRINTED, order_waybill_events_record
from waybill_console.tenancy import Actor
from waybills.models import Waybill


def reprint_check(*, waybills: list[Waybill], ask: bool) -> list[Waybill]:
    """The numbers among ``waybills`` printed before (their labels carry 重打). With ``ask``
    any such number is refused until the request is confirmed."""
    again = [w for w in waybills if w.print_count > 0]
    if again and ask:
        numbers = [w.waybill_no for w in again]
        raise ReprintNotConfirmed(
            numbers=gettext(", ").join(numbers[:10]) + ("…" if len(numbers) > 10 else ""),
            detail={"waybill_nos": numbers},
        )
    return again


def reprints_record(*, actor: Actor, waybills: list[Waybill], at: datetime | None = None) -> None:
    """Each reprint in its order's history (``label_printed`` marked ``reprint``: the
    number, the carrier, who asked for it), written by the app that owns the history."""
    order_waybill_events_record(
        kind=LABEL_PRINTED,
        waybills=[
            {
                "order_id": w.order_id,
                "shop_id": w.shop_id,
                "waybill_no": w.waybill_no,
                "carrier": w.carrier.code,
                "reprint": True,
            }
            for w in waybills
        ],
        actor_name=actor.describe(),
        at=at or timezone.now(),
    )
