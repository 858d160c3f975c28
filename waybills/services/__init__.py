"""The waybill engine's services (see each module's docstring for its rules)."""

from waybills.services.allocation import (
    Allocation,
    resolve_subscription,
    waybill_allocate,
    waybill_allocate_many,
    waybill_append_packages,
    waybill_screen,
)
from waybills.services.changes import waybill_cancel, waybill_update
from waybills.services.exceptions import exception_retry, exception_retry_all
from waybills.services.jobs import reconciliation_start, waybill_batch_start
from waybills.services.recycling import waybills_recycle
from waybills.services.shipping import waybill_ship, waybill_ship_batch
from waybills.services.tracking import tracking_record

__all__ = [
    "Allocation",
    "exception_retry",
    "exception_retry_all",
    "reconciliation_start",
    "resolve_subscription",
    "tracking_record",
    "waybill_allocate",
    "waybill_allocate_many",
    "waybill_append_packages",
    "waybill_batch_start",
    "waybill_screen",
    "waybill_cancel",
    "waybill_ship",
    "waybill_ship_batch",
    "waybill_update",
    "waybills_recycle",
]
