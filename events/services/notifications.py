"""In-app notifications (the bell): what an event reads as, who may see it, read marks.

The dispatcher makes a notification from each event of a type people are told of
(``events.types``, ``notify=True``), in its own transaction (:func:`notification_for`).
The title and text are stored as they read when made (the admin, a row whose event is
gone), but the bell renders them again from the event's data in the reader's language
(:func:`render`), so the English switch reads English.

Who may see one is decided when it is made: ``permission`` is the type's (a job's: its
kind's, see ``waybill_console.jobs``), and a sub-account or a token sees only what its
permissions cover (``events.selectors_notifications``). Read marks are per person.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from events.models import Event, Notification, NotificationRead
from events.selectors_notifications import notifications_for, reader_of
from events.types import event_type
from waybill_console import permissions as perms
from waybill_console.errors import BatchTooLarge, NotFound
from waybill_console.tenancy import Actor

logger = logging.getLogger("events.notifications")

#: ids marked read in one request at most
MARK_LIMIT = 500


@dataclass(frozen=True)
class Text:
    title: str
    body: str


# --- making one ------------------------------------------------------------------------------


def permission_for(type_name: str, data: dict) -> str:
    """Who among a shop's people may see an event of this type: the type's permission; a
    finished job's is its kind's (a sub-account that may not see an export is not told it
    finished). A kind no app registered is for the main account only."""
    if type_name == "job.finished":
        from waybill_console.jobs import job_kind

        try:
            return job_kind(str(data.get("kind", ""))).permission
        except ImproperlyConfigured:
            return perms.ACCOUNT_MANAGE
    return event_type(type_name).permission


def notification_for(event: Event) -> Notification:
    """The notification an event of a told type makes (not saved: the dispatcher saves a
    batch at once)."""
    data = event.data if isinstance(event.data, dict) else {}
    text = render_text(event.type, data)
    return Notification(
        shop_id=event.shop_id,
        event=event,
        type=event.type,
        permission=permission_for(event.type, data),
        title=text.title[:200],
        body=text.body[:500],
        link=event.link,
        at=event.at,
    )


# --- what it reads as ------------------------------------------------------------------------


def render(notification: Notification) -> Text:
    """The title and text in the active language, from the event's data; the stored ones
    when the event is gone or its type unknown."""
    event = notification.event if notification.event_id else None
    if event is None or not isinstance(event.data, dict):
        return Text(notification.title, notification.body)
    try:
        return render_text(notification.type, event.data, stored_body=notification.body)
    except ValueError:  # a type no longer in events.types
        return Text(notification.title, notification.body)


def render_text(type_name: str, data: dict, *, stored_body: str = "") -> Text:
    """Title and text of an event of ``type_name`` with ``data`` (the API representation).
    A value it needs and does not find gives a generic line, never an error."""
    title = str(event_type(type_name).label)
    writer = _WRITERS.get(type_name)
    body = None
    if writer is not None:
        try:
            written = writer(data)
        except (KeyError, TypeError, ValueError):
            written = None
        if isinstance(written, Text):
            return written
        body = written
    if not body:
        body = stored_body or _("Open it to see the details.")
    return Text(title, body)


def _value(data: dict, *keys: str) -> str:
    """The first non-empty of ``keys`` in ``data`` (a nested ``{"name"}`` or ``{"code"}``
    counts), as text; KeyError when none is there."""
    for key in keys:
        value = data.get(key)
        if isinstance(value, dict):
            value = value.get("name") or value.get("code")
        if value not in (None, "", [], {}):
            return str(value)
    raise KeyError(keys[0])


def _when(value) -> str:
    """An ISO time of the data as a person reads it, in the site's time zone."""
    moment = parse_datetime(str(value)) if value else None
    if moment is None:
        raise ValueError("time")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return date_format(timezone.localtime(moment), "Y-m-d H:i")


def _carrier_name(data: dict) -> str:
    """The carrier's name as the data carries it (``carrier_name``, or a nested carrier's
    ``name``); never its code (ZTO), which people do not read."""
    nested = data.get("carrier")
    if isinstance(nested, dict):
        return str(nested.get("name") or "")
    return str(data.get("carrier_name") or "")


def _quota_low(data: dict) -> str:
    carrier = _carrier_name(data)
    branch = str(data.get("branch_name") or "")
    # a branch's name starts with its carrier's (中通快递杭州上城区网点)
    service = branch if carrier in branch else f"{carrier} {branch}".strip()
    balance = _value(data, "balance")
    if not service:
        return _("Only %(balance)s numbers left; contact the branch to recharge.") % {
            "balance": balance
        }
    return _("%(service)s: only %(balance)s numbers left; contact the branch to recharge.") % {
        "service": service,
        "balance": balance,
    }


def _sla_at_risk(data: dict) -> str:
    return _("Order %(order_no)s must ship by %(due)s.") % {
        "order_no": _value(data, "order_no"),
        "due": _when(data.get("sla_due_at")),
    }


def _sla_missed(data: dict) -> str:
    return _("Order %(order_no)s was due to ship by %(due)s and has not shipped.") % {
        "order_no": _value(data, "order_no"),
        "due": _when(data.get("sla_due_at")),
    }


def _cancel_requested(data: dict) -> str:
    return _("The buyer asked to cancel order %(order_no)s; please answer the request.") % {
        "order_no": _value(data, "order_no")
    }


def _after_sale(data: dict) -> str:
    return _("Order %(order_no)s is under after-sale.") % {"order_no": _value(data, "order_no")}


def _merchant(data: dict) -> str:
    return _value(data, "merchant_name", "merchant")


def _allocation_created(data: dict) -> str:
    return _("%(merchant)s handed you order %(order_no)s to ship.") % {
        "merchant": _merchant(data),
        "order_no": _value(data, "order_no"),
    }


def _allocation_cancelled(data: dict) -> str:
    return _("%(merchant)s withdrew dropship order %(order_no)s.") % {
        "merchant": _merchant(data),
        "order_no": _value(data, "order_no"),
    }


def _number_returned(data: dict) -> str:
    return _("The factory returned tracking number %(number)s for order %(order_no)s.") % {
        "number": _value(data, "waybill_no", "tracking_no"),
        "order_no": _value(data, "order_no"),
    }


def _binding_requested(data: dict) -> str:
    return _("%(merchant)s asked to bind with you for dropshipping.") % {
        "merchant": _merchant(data)
    }


def _violation(data: dict) -> str:
    return _(
        "Waybill number %(waybill_no)s showed tracking after it was recycled; "
        "it is deducted from the balance again."
    ) % {"waybill_no": _value(data, "waybill_no")}


def _job_finished(data: dict) -> Text:
    from waybill_console.jobs import KINDS

    kind = str(data.get("kind") or "")
    registered = KINDS.get(kind)
    # the kind's own label reads in the reader's language; one in the data does not
    name = str((registered.label if registered else "") or data.get("label") or "")
    name = name or _("Background job")
    if data.get("status") == "failed":
        return Text(_("Background job failed"), _("%(job)s failed.") % {"job": name})
    return Text(str(event_type("job.finished").label), _("%(job)s is done.") % {"job": name})


def _endpoint_disabled(data: dict) -> str:
    return _(
        "The push address %(url)s has failed since %(since)s and was disabled; "
        "fix it and enable it again."
    ) % {"url": _value(data, "url"), "since": _when(data.get("failing_since"))}


_WRITERS: dict[str, Callable[[dict], str | Text]] = {
    "quota.low": _quota_low,
    "sla.at_risk": _sla_at_risk,
    "sla.missed": _sla_missed,
    "order.cancel_requested": _cancel_requested,
    "order.after_sale": _after_sale,
    "dropship.allocation.created": _allocation_created,
    "dropship.allocation.cancelled": _allocation_cancelled,
    "dropship.number.returned": _number_returned,
    "dropship.binding.requested": _binding_requested,
    "violation.recorded": _violation,
    "job.finished": _job_finished,
    "webhook.endpoint.disabled": _endpoint_disabled,
}


# --- read marks ------------------------------------------------------------------------------


def notification_mark_read(*, actor: Actor, ids: Iterable[int]) -> int:
    """Mark the notifications ``ids`` read for the actor's reader; the number newly marked.
    An id that is not one of the shop's notifications the actor may see is a 404 and
    nothing is marked (another shop's id reads like one that does not exist)."""
    wanted = sorted({int(i) for i in ids})
    if len(wanted) > MARK_LIMIT:
        raise BatchTooLarge(limit=MARK_LIMIT)
    if not wanted:
        return 0
    user = reader_of(actor)
    found = dict(
        notifications_for(actor, reader=user).filter(pk__in=wanted).values_list("pk", "is_read")
    )
    if len(found) != len(wanted):
        missing = sorted(set(wanted) - set(found))[:10]
        logger.info("notifications %s refused to %s", missing, actor.describe())
        raise NotFound()
    return _mark(user, [pk for pk, is_read in found.items() if not is_read])


def notification_mark_all_read(*, actor: Actor) -> int:
    """Mark every notification the actor sees read; the number newly marked."""
    user = reader_of(actor)
    ids = list(
        notifications_for(actor, reader=user).filter(is_read=False).values_list("pk", flat=True)
    )
    return _mark(user, ids)


def _mark(user, ids: list[int]) -> int:
    """One INSERT; a mark made meanwhile by another request of the same person is kept."""
    if ids:
        NotificationRead.objects.bulk_create(
            [NotificationRead(notification_id=i, user=user) for i in ids],
            ignore_conflicts=True,
            batch_size=1000,
        )
    return len(ids)
