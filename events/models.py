"""Events out: the outbox, webhook endpoints and their deliveries, in-app notifications.

An :class:`Event` is written in the same transaction as the change it tells of (the
transactional outbox, ``events.services.outbox.emit``): a change that rolls back leaves no
event, and an event that is committed is delivered at least once. The dispatcher turns each
event into one :class:`Delivery` per subscribed :class:`Endpoint` and one
:class:`Notification` when the type is one people are told of; the delivery engine
(``events.services.delivery``) sends deliveries with Standard Webhooks signatures and
retries them with backoff.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from waybill_console.crypto import EncryptedTextField


class Event(models.Model):
    """One thing that happened to a shop, waiting to be told (the outbox)."""

    #: the Standard Webhooks ``webhook-id``: stable across retries and resends
    msg_id = models.CharField(max_length=40, unique=True, verbose_name=_("message id"))
    shop = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="+", verbose_name=_("shop")
    )
    type = models.CharField(max_length=48, verbose_name=_("event type"))
    at = models.DateTimeField(verbose_name=_("time"))
    #: the object as the API shows it to this shop (consumer data masked)
    data = models.JSONField(default=dict, verbose_name=_("data"))
    #: where a person sees the object (a console or factory-portal path), "" for none
    link = models.CharField(max_length=200, blank=True, verbose_name=_("link"))
    #: set once the dispatcher made its deliveries and notification
    dispatched_at = models.DateTimeField(null=True, blank=True, verbose_name=_("dispatched at"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(
                fields=["id"],
                name="events_event_pending",
                condition=models.Q(dispatched_at__isnull=True),
            ),
            models.Index(fields=["shop", "type", "-id"], name="events_event_shop_type"),
        ]

    def __str__(self) -> str:
        from events.types import label

        return f"{label(self.type)} {self.msg_id}"


class Endpoint(models.Model):
    """A URL a shop (a merchant or a factory) wants its events posted to."""

    shop = models.ForeignKey(
        "shops.Shop",
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        verbose_name=_("shop"),
    )
    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=100, blank=True)
    #: the event types it receives; empty: every type
    event_types = models.JSONField(default=list, blank=True, verbose_name=_("event types"))
    #: ``whsec_`` + base64 of 24 random bytes, encrypted at rest; shown once
    secret = EncryptedTextField(verbose_name=_("signing secret"))
    is_enabled = models.BooleanField(_("enabled"), default=True)
    disabled_reason = models.CharField(_("why disabled"), max_length=200, blank=True)
    #: the first failure of the current run of failures (None while it answers)
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0, verbose_name=_("failures"))
    #: while it fails, no delivery is tried before this (the endpoint's own backoff)
    retry_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next try"))
    #: a sender holds the endpoint until this time (one sender per endpoint at a time)
    leased_until = models.DateTimeField(null=True, blank=True, verbose_name=_("held until"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class DeliveryStatus(models.TextChoices):
    # a context of their own: a parcel's "Delivered" is 已签收, a webhook's 已送达
    PENDING = "pending", pgettext_lazy("webhook delivery", "Pending")
    SUCCEEDED = "succeeded", pgettext_lazy("webhook delivery", "Delivered")
    FAILED = "failed", pgettext_lazy("webhook delivery", "Failed")


class Delivery(models.Model):
    """One event to one endpoint: its attempts, its last answer."""

    endpoint = models.ForeignKey(
        Endpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("endpoint")
    )
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("event")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(_("latency (ms)"), null=True, blank=True)
    last_error = models.CharField(_("error"), max_length=200, blank=True)
    #: a person asked to send it again (重发): its next attempt is logged as resent by hand
    resend_requested = models.BooleanField(_("resend asked"), default=False)
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        ordering = ["-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="events_delivery_once")
        ]
        indexes = [
            models.Index(
                fields=["endpoint", "next_attempt_at", "id"],
                name="events_delivery_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["endpoint", "-id"], name="events_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} → {self.endpoint_id} ({self.get_status_display()})"


class DeliveryAttempt(models.Model):
    """One HTTP request of a delivery: what the endpoint answered, how fast."""

    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="attempt_log", verbose_name=_("delivery")
    )
    at = models.DateTimeField(verbose_name=_("time"))
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), default=0)
    error = models.CharField(_("error"), max_length=200, blank=True)
    #: sent again by a person (重发), not by the retry schedule
    manual = models.BooleanField(_("resent by hand"), default=False)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")

    def __str__(self) -> str:
        return f"#{self.pk}"


class Notification(models.Model):
    """What the bell shows the people of a shop who may see it."""

    shop = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="+", verbose_name=_("shop")
    )
    event = models.OneToOneField(
        Event,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notification",
        verbose_name=_("event"),
    )
    type = models.CharField(max_length=48, verbose_name=_("event type"))
    #: a sub-account sees it only with this permission ("" : everyone of the shop)
    permission = models.CharField(max_length=40, blank=True, verbose_name=_("permission"))
    title = models.CharField(_("title"), max_length=200)
    body = models.CharField(_("text"), max_length=500, blank=True)
    link = models.CharField(_("link"), max_length=200, blank=True)
    at = models.DateTimeField(verbose_name=_("time"))

    class Meta:
        ordering = ["-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [models.Index(fields=["shop", "-id"], name="events_notification_shop")]

    def __str__(self) -> str:
        return self.title


class NotificationRead(models.Model):
    """A person has read a notification (per user: a shop's people read on their own)."""

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="reads", verbose_name=_("notification")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    at = models.DateTimeField(auto_now_add=True, verbose_name=_("time"))

    class Meta:
        verbose_name = _("notification read")
        verbose_name_plural = _("notifications read")
        constraints = [
            models.UniqueConstraint(fields=["notification", "user"], name="events_read_once")
        ]

    def __str__(self) -> str:
        return f"#{self.notification_id}"
