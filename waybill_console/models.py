"""Kernel records: decryption audit, idempotency keys, background jobs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class DecryptionAudit(models.Model):
    """One row for each decryption of consumer data: who, which record, which fields, why."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    shop = models.ForeignKey(
        "shops.Shop", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_prefix = models.CharField(max_length=16, blank=True)
    purpose = models.CharField(max_length=40)
    model = models.CharField(max_length=80)
    object_pk = models.CharField(max_length=40)
    fields = models.JSONField(default=list)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("decryption audit record")
        verbose_name_plural = _("decryption audit")
        indexes = [models.Index(fields=["model", "object_pk"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.model}#{self.object_pk} {self.purpose}"


class IdempotencyRecord(models.Model):
    """The stored answer to a POST made with an ``Idempotency-Key`` header."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress"
        DONE = "done"

    scope = models.CharField(max_length=40)  # "shop:12", "branch:3", "user:5"
    key = models.CharField(max_length=128)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=12, choices=State.choices, default=State.IN_PROGRESS)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"
