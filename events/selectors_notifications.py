"""Reads of the bell: the notifications an actor sees, whether its reader read them.

Always scoped to the actor's shop. A main account sees every notification of its shop; a
sub-account, and an API token (its scopes are its permissions), only those whose
``permission`` is empty or one it holds. Read marks are per person: a token reads as the
account that created it, else as the shop's main account (a token is not a person).
"""

from __future__ import annotations

import logging

from django.db.models import Exists, OuterRef, Q, QuerySet

from events.models import Notification, NotificationRead
from waybill_console.errors import NotFound, PermissionDenied
from waybill_console.tenancy import Actor

logger = logging.getLogger("events.notifications")

#: the bell counts up to this many unread (it shows 99+ beyond): the count stays one
#: short indexed query however many a shop never read
UNREAD_CAP = 100


def reader_of(actor: Actor):
    """The person whose read marks the actor reads and writes."""
    user = actor.user
    if user is not None and getattr(user, "pk", None):
        return user
    token = actor.token
    if token is not None and actor.shop is not None:
        if token.created_by_id:
            return token.created_by
        main = actor.shop.memberships.filter(role="main").select_related("user").first()
        if main is not None:
            return main.user
    raise PermissionDenied()


def notifications_for(actor: Actor, *, reader=None) -> QuerySet[Notification]:
    """The shop's notifications the actor may see, newest first, each with ``is_read``
    (for ``reader``, the actor's reader by default)."""
    shop = actor.require_shop()
    qs = Notification.objects.filter(shop=shop)
    if not actor.is_main:
        qs = qs.filter(Q(permission="") | Q(permission__in=sorted(actor.permissions)))
    reads = NotificationRead.objects.filter(
        notification=OuterRef("pk"), user=reader if reader is not None else reader_of(actor)
    )
    return qs.annotate(is_read=Exists(reads)).order_by("-id")


def notification_list(actor: Actor, *, unread: bool = False) -> QuerySet[Notification]:
    """What the list page and the API page through: with their events (the text is
    rendered from the event's data), unread only if asked."""
    qs = notifications_for(actor).select_related("event")
    return qs.filter(is_read=False) if unread else qs


def notification_get(actor: Actor, notification_id: int) -> Notification:
    """One notification the actor may see; another shop's, or one its permissions do
    not cover, is a 404."""
    found = notifications_for(actor).select_related("event").filter(pk=notification_id).first()
    if found is None:
        logger.info("notification %s refused to %s", notification_id, actor.describe())
        raise NotFound()
    return found


def unread_count(actor: Actor) -> int:
    """How many the actor's reader has not read, up to :data:`UNREAD_CAP` (one query)."""
    return notifications_for(actor).filter(is_read=False).values("pk")[:UNREAD_CAP].count()
