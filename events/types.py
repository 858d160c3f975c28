"""The event types: what each is called, who among a shop's people is told of it in the
bell, and whether it is sent to factories or merchants.

One table, used by the emitter (an unknown type is a programming error), the endpoint
form and API (the choices), the dispatcher (which types make a notification) and the
bell (who may see it).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from waybill_console import permissions as perms


@dataclass(frozen=True)
class EventType:
    name: str
    label: object
    #: a sub-account is told in the bell only with this permission
    permission: str
    #: people are told of it in the bell (the frequent types, one per order, are not:
    #: an endpoint takes those)
    notify: bool = False


TYPES: dict[str, EventType] = {
    t.name: t
    for t in (
        EventType("order.created", _("Order created"), perms.ORDER_MANAGE),
        EventType(
            "order.cancel_requested",
            _("Buyer asked to cancel an order"),
            perms.ORDER_MANAGE,
            notify=True,
        ),
        EventType("order.after_sale", _("Order under after-sale"), perms.ORDER_MANAGE, notify=True),
        EventType("waybill.allocated", _("Waybill number allocated"), perms.WAYBILL_ALLOCATE),
        EventType("waybill.cancelled", _("Waybill number cancelled"), perms.WAYBILL_CANCEL),
        EventType("waybill.recycled", _("Waybill number recycled"), perms.WAYBILL_CANCEL),
        EventType("tracking.updated", _("Tracking updated"), perms.SHIP),
        EventType(
            "dropship.allocation.created",
            _("Order handed to the factory"),
            perms.DROPSHIP_MANAGE,
            notify=True,
        ),
        EventType(
            "dropship.allocation.cancelled",
            _("Dropship order withdrawn"),
            perms.DROPSHIP_MANAGE,
            notify=True,
        ),
        EventType(
            "dropship.number.returned",
            _("Factory returned a tracking number"),
            perms.DROPSHIP_MANAGE,
        ),
        EventType(
            "dropship.binding.requested",
            _("Binding request"),
            perms.DROPSHIP_MANAGE,
            notify=True,
        ),
        EventType("quota.low", _("Waybill balance low"), perms.WAYBILL_OPEN, notify=True),
        EventType("sla.at_risk", _("Shipping deadline near"), perms.SHIP, notify=True),
        EventType("sla.missed", _("Shipping deadline missed"), perms.SHIP, notify=True),
        EventType(
            "violation.recorded",
            _("Violation recorded (recycled number re-deducted)"),
            perms.WAYBILL_OPEN,
            notify=True,
        ),
        EventType("job.finished", _("Background job finished"), "", notify=True),
        EventType(
            "webhook.endpoint.disabled",
            _("Webhook endpoint disabled"),
            perms.WEBHOOK_MANAGE,
            notify=True,
        ),
    )
}

#: the test message (发送测试): delivered to the one endpoint that asked, never emitted
TEST_TYPE = "webhook.test"


def event_type(name: str) -> EventType:
    try:
        return TYPES[name]
    except KeyError:
        raise ValueError(f"unknown event type {name!r}: add it to events/types.py") from None


def label(name: str) -> str:
    """What a person reads for a type name (the test message too; never the name)."""
    if name == TEST_TYPE:
        return str(_("Test message"))
    kind = TYPES.get(name)
    return str(kind.label) if kind else str(_("Other event"))


def choices() -> list[tuple[str, str]]:
    """``(name, label)`` of every type an endpoint may subscribe to."""
    return [(t.name, str(t.label)) for t in TYPES.values()]
