"""In-app notifications (the bell): what an event reads as, who may see it."""

from __future__ import annotations

from events.models import Event, Notification
from events.types import event_type


def notification_for(event: Event) -> Notification:
    """The notification an event of a told type makes."""
    kind = event_type(event.type)
    return Notification(
        shop_id=event.shop_id,
        event=event,
        type=event.type,
        permission=kind.permission,
        title=str(kind.label)[:200],
        body=str(event.data.get("summary", ""))[:500],
        link=event.link,
        at=event.at,
    )
