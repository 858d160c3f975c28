"""Webhook endpoints (推送设置): create, change, delete, rotate the secret, send a test;
their delivery log and 重发.

One door for the page, the API and code: each function checks ``webhook.manage`` and
reads the actor's shop only (another shop's endpoint or delivery is a 404). The signing
secret is returned by :func:`endpoint_create` and :func:`endpoint_rotate_secret` only,
once: it is stored encrypted and never shown again.

A URL is checked when it is saved (:func:`events.outbound.url_check`: http(s), a host,
no user info, a public address unless the operator allowed its network) and again by the
sender at connect time. The host is resolved before any transaction opens (no
transaction is held across a network call).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from events import outbound, signing
from events.errors import (
    WebhookEndpointDisabled,
    WebhookEndpointLimit,
    WebhookEventTypeUnknown,
    WebhookUrlInvalid,
    WebhookUrlNotAllowed,
)
from events.models import Delivery, DeliveryStatus, Endpoint, Event
from events.services.outbox import new_msg_id
from events.types import TEST_TYPE, TYPES
from shops.models import Shop
from waybill_console import permissions as perms
from waybill_console.errors import NotFound, ValidationError
from waybill_console.tenancy import Actor

#: endpoints per shop: each event makes one delivery per endpoint
ENDPOINT_LIMIT = 20
URL_MAX = 500
DESCRIPTION_MAX = 100


# --- checks ------------------------------------------------------------------------------------


def _clean_url(url: str) -> str:
    """The URL as saved, or a refusal naming the ``url`` field."""
    url = (url or "").strip()
    if not url:
        raise WebhookUrlInvalid(detail={"url": [_("This field is required.")]})
    if len(url) > URL_MAX:
        raise WebhookUrlInvalid(detail={"url": [_("At most %(n)s characters.") % {"n": URL_MAX}]})
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise WebhookUrlInvalid(detail={"url": [_("Not a valid URL.")]}) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookUrlInvalid(
            detail={"url": [_("Enter a full address starting with http:// or https://.")]}
        )
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlInvalid(
            detail={"url": [_("The address may not carry a user name or password.")]}
        )
    try:
        outbound.url_check(url)
    except outbound.AddressRefused as refused:
        raise WebhookUrlNotAllowed(
            detail={
                "url": [
                    _(
                        "It points to an internal or reserved address (%(address)s): "
                        "webhooks go to public addresses only. To allow an internal network, "
                        "the operator lists it in WEBHOOK_ALLOWED_NETWORKS."
                    )
                    % {"address": refused.address}
                ],
                "address": refused.address,
            }
        ) from None
    except OSError:
        raise WebhookUrlNotAllowed(
            detail={"url": [_("The host does not resolve: check the address.")]}
        ) from None
    return url


def _clean_event_types(event_types) -> list[str]:
    """The types in the table's order, each once; an empty list is every type."""
    if event_types is None:
        return []
    if isinstance(event_types, str) or not isinstance(event_types, list | tuple):
        raise WebhookEventTypeUnknown(detail={"event_types": [_("Expected a list.")]})
    wanted = {str(t).strip() for t in event_types if str(t).strip()}
    unknown = sorted(wanted - set(TYPES))
    if unknown:
        raise WebhookEventTypeUnknown(
            detail={
                "event_types": [_("Unknown event type: %(types)s") % {"types": ", ".join(unknown)}]
            }
        )
    return [name for name in TYPES if name in wanted]


def _clean_description(description) -> str:
    description = str(description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise ValidationError.for_fields(
            description=_("At most %(n)s characters.") % {"n": DESCRIPTION_MAX}
        )
    return description


def _get(actor: Actor, endpoint_id, *, lock: bool = False) -> Endpoint:
    qs = Endpoint.objects.filter(shop=actor.require_shop(), pk=_as_id(endpoint_id))
    endpoint = (qs.select_for_update() if lock else qs).first()
    if endpoint is None:
        raise NotFound()
    return endpoint


def _as_id(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFound() from None


def _healthy(endpoint: Endpoint) -> None:
    """Forget a run of failures (re-enabled, or pointed elsewhere)."""
    endpoint.failing_since = None
    endpoint.consecutive_failures = 0
    endpoint.retry_at = None
    endpoint.disabled_reason = ""


# --- endpoints -----------------------------------------------------------------------------


def endpoint_list(*, actor: Actor) -> QuerySet[Endpoint]:
    actor.require(perms.WEBHOOK_MANAGE)
    return Endpoint.objects.filter(shop=actor.require_shop()).order_by("id")


def endpoint_get(*, actor: Actor, endpoint_id: int) -> Endpoint:
    actor.require(perms.WEBHOOK_MANAGE)
    return _get(actor, endpoint_id)


def endpoint_create(
    *, actor: Actor, url: str, event_types=None, description: str = "", is_enabled: bool = True
) -> tuple[Endpoint, str]:
    """A new endpoint and its signing secret (the one time the secret is returned). At
    most :data:`ENDPOINT_LIMIT` per shop, held under concurrency by the shop row's lock."""
    actor.require(perms.WEBHOOK_MANAGE)
    shop = actor.require_shop()
    description = _clean_description(description)
    event_types = _clean_event_types(event_types)
    url = _clean_url(url)  # resolves the host: before the transaction
    secret = signing.new_secret()
    with transaction.atomic():
        Shop.objects.select_for_update().filter(pk=shop.pk).first()
        count = Endpoint.objects.filter(shop=shop).count()
        if count >= ENDPOINT_LIMIT:
            raise WebhookEndpointLimit(limit=ENDPOINT_LIMIT, detail={"limit": ENDPOINT_LIMIT})
        endpoint = Endpoint.objects.create(
            shop=shop,
            url=url,
            description=description,
            event_types=event_types,
            secret=secret,
            is_enabled=bool(is_enabled),
            created_by=actor.user if actor.membership is not None else None,
        )
    return endpoint, secret


def endpoint_update(
    *,
    actor: Actor,
    endpoint_id: int,
    url: str | None = None,
    event_types=None,
    description: str | None = None,
    is_enabled: bool | None = None,
) -> Endpoint:
    """Change what is given (None: unchanged). Re-enabling, or a new URL, forgets the run
    of failures: the endpoint is tried at once."""
    actor.require(perms.WEBHOOK_MANAGE)
    _get(actor, endpoint_id)  # another shop's endpoint: 404 before any 400
    changes: dict = {}
    if description is not None:
        changes["description"] = _clean_description(description)
    if event_types is not None:
        changes["event_types"] = _clean_event_types(event_types)
    if url is not None:
        changes["url"] = _clean_url(url)
    with transaction.atomic():
        endpoint = _get(actor, endpoint_id, lock=True)
        url_changed = "url" in changes and changes["url"] != endpoint.url
        for name, value in changes.items():
            setattr(endpoint, name, value)
        if is_enabled is not None:
            enable = bool(is_enabled) and not endpoint.is_enabled
            endpoint.is_enabled = bool(is_enabled)
            if enable:
                _healthy(endpoint)
        if url_changed:
            _healthy(endpoint)
        endpoint.save()
    return endpoint


def endpoint_delete(*, actor: Actor, endpoint_id: int) -> None:
    """The endpoint and its delivery log go (its events stay in the outbox)."""
    actor.require(perms.WEBHOOK_MANAGE)
    with transaction.atomic():
        _get(actor, endpoint_id, lock=True).delete()


def endpoint_rotate_secret(*, actor: Actor, endpoint_id: int) -> tuple[Endpoint, str]:
    """A new signing secret, returned this once; deliveries from now on are signed with it
    (a retry of an older event too: signatures are made when a request is sent)."""
    actor.require(perms.WEBHOOK_MANAGE)
    secret = signing.new_secret()
    with transaction.atomic():
        endpoint = _get(actor, endpoint_id, lock=True)
        endpoint.secret = secret
        endpoint.save(update_fields=["secret", "updated_at"])
    return endpoint, secret


def endpoint_send_test(*, actor: Actor, endpoint_id: int) -> Delivery:
    """发送测试: a ``webhook.test`` message to this endpoint only. The event is written
    already dispatched (the dispatcher never sees it) with its one delivery, due now; a
    worker is asked to send once the transaction commits."""
    actor.require(perms.WEBHOOK_MANAGE)
    now = timezone.now()
    with transaction.atomic():
        endpoint = _get(actor, endpoint_id, lock=True)
        if not endpoint.is_enabled:
            raise WebhookEndpointDisabled()
        event = Event.objects.create(
            msg_id=new_msg_id(),
            shop_id=endpoint.shop_id,
            type=TEST_TYPE,
            at=now,
            data={"endpoint_id": endpoint.pk, "message": "test"},
            dispatched_at=now,
        )
        delivery = Delivery.objects.create(
            endpoint=endpoint, event=event, next_attempt_at=now, created_at=now
        )
        # a person is waiting: the endpoint's own rest after failures does not hold it
        Endpoint.objects.filter(pk=endpoint.pk).update(retry_at=None)
        transaction.on_commit(_deliver_kick)
    delivery.event = event
    return delivery


# --- deliveries ------------------------------------------------------------------------------


def delivery_list(
    *, actor: Actor, endpoint_id: int, status: str | None = None
) -> QuerySet[Delivery]:
    """An endpoint's delivery log, newest first, with each event's type and id."""
    actor.require(perms.WEBHOOK_MANAGE)
    endpoint = _get(actor, endpoint_id)
    qs = Delivery.objects.filter(endpoint=endpoint).select_related("event").order_by("-id")
    if status:
        if status not in DeliveryStatus.values:
            raise ValidationError.for_fields(status=_("Not a delivery status."))
        qs = qs.filter(status=status)
    return qs


def delivery_get(*, actor: Actor, endpoint_id: int, delivery_id: int) -> Delivery:
    """One delivery of the endpoint (its attempt log prefetched, newest first)."""
    actor.require(perms.WEBHOOK_MANAGE)
    endpoint = _get(actor, endpoint_id)
    delivery = (
        Delivery.objects.filter(endpoint=endpoint, pk=_as_id(delivery_id))
        .select_related("event", "endpoint")
        .prefetch_related("attempt_log")
        .first()
    )
    if delivery is None:
        raise NotFound()
    return delivery


def delivery_resend(*, actor: Actor, delivery_id: int, endpoint_id: int | None = None) -> Delivery:
    """重发: the delivery is due again now, whatever its status; its attempts go on counting
    (the sender logs the next one as resent by hand), with the same ``webhook-id``."""
    actor.require(perms.WEBHOOK_MANAGE)
    shop = actor.require_shop()
    now = timezone.now()
    with transaction.atomic():
        found = Delivery.objects.select_for_update().filter(
            pk=_as_id(delivery_id), endpoint__shop=shop
        )
        if endpoint_id is not None:
            found = found.filter(endpoint_id=_as_id(endpoint_id))
        delivery = found.first()
        if delivery is None:
            raise NotFound()
        endpoint = Endpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        if not endpoint.is_enabled:
            raise WebhookEndpointDisabled()
        delivery.status = DeliveryStatus.PENDING
        delivery.next_attempt_at = now
        delivery.resend_requested = True
        delivery.save(update_fields=["status", "next_attempt_at", "resend_requested"])
        # a person is waiting: the endpoint's own rest after failures does not hold it
        Endpoint.objects.filter(pk=endpoint.pk).update(retry_at=None)
        transaction.on_commit(_deliver_kick)
    return Delivery.objects.select_related("event").get(pk=delivery.pk)


def _deliver_kick() -> None:
    from events.services.delivery import deliver_kick

    deliver_kick()
