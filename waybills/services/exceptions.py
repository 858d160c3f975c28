"""面单异常: retry a failed allocation, one by one or all at once."""

from __future__ import annotations

from waybill_console import permissions as perms
from waybill_console.errors import AppError
from waybill_console.tenancy import Actor
from waybills.models import AllocationException
from waybills.selectors import exception_list
from waybills.services.allocation import waybill_allocate


def exception_retry(*, actor: Actor, exception: AllocationException) -> dict:
    """Allocate again with what the failed attempt asked for; the record closes on success."""
    actor.require(perms.WAYBILL_ALLOCATE)
    try:
        allocation = waybill_allocate(
            actor=actor,
            order=exception.order,
            subscription=exception.subscription_id,
            carrier=exception.carrier_code if not exception.subscription_id else "",
            package_count=exception.package_count,
        )
    except AppError as err:
        return {"exception": exception.pk, "order": exception.order_id, "ok": False,
                "error": err.as_dict()}  # fmt: skip
    if exception.resolved_at is None:  # the order had its number already
        AllocationException.objects.filter(pk=exception.pk, resolved_at=None).update(
            resolved_at=allocation.parent.allocated_at
        )
    return {
        "exception": exception.pk,
        "order": exception.order_id,
        "ok": True,
        "waybill_no": allocation.parent.waybill_no,
    }


def exception_retry_all(*, actor: Actor, limit: int = 500) -> list[dict]:
    actor.require(perms.WAYBILL_ALLOCATE)
    rows = list(exception_list(actor=actor)[:limit])
    return [exception_retry(actor=actor, exception=row) for row in rows]
