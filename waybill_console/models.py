"""Kernel records: decryption audit, idempotency keys, background jobs.

The foreign keys to ``"shops.Shop"`` are lazy string references that Django resolves from
its app registry: declared data, not an import. The kernel imports no app module (see
``waybill_console/registry.py``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class DecryptionAudit(models.Model):
    """One row for each decryption of consumer data: who, which record, which fields, why."""

    at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("time"))
    shop = models.ForeignKey(
        "shops.Shop",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("shop"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("user"),
    )
    token_prefix = models.CharField(max_length=16, blank=True, verbose_name=_("token prefix"))
    purpose = models.CharField(max_length=40, verbose_name=_("purpose"))
    model = models.CharField(max_length=80, verbose_name=_("model"))
    object_pk = models.CharField(max_length=40, verbose_name=_("object id"))
    fields = models.JSONField(default=list, verbose_name=_("fields"))

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("decryption audit record")
        verbose_name_plural = _("decryption audit")
        indexes = [models.Index(fields=["model", "object_pk"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} #{self.object_pk}"


class IdempotencyRecord(models.Model):
    """The stored answer to a POST made with an ``Idempotency-Key`` header."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress"
        DONE = "done"

    scope = models.CharField(
        max_length=40, verbose_name=_("scope")
    )  # the credential: "token:12", "user:5:shop:3"
    key = models.CharField(max_length=128, verbose_name=_("idempotency key"))
    method = models.CharField(max_length=8, verbose_name=_("method"))
    path = models.CharField(max_length=255, verbose_name=_("path"))
    request_hash = models.CharField(max_length=64, verbose_name=_("request hash"))
    state = models.CharField(
        max_length=12, choices=State.choices, default=State.IN_PROGRESS, verbose_name=_("state")
    )
    status_code = models.PositiveSmallIntegerField(null=True, verbose_name=_("status code"))
    response_body = models.JSONField(null=True, verbose_name=_("response body"))
    #: the permissions the first answer needed, checked again before it is replayed
    permissions = models.JSONField(default=list, verbose_name=_("permissions"))
    created_at = models.DateTimeField(
        auto_now_add=True, db_index=True, verbose_name=_("created at")
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_unique"),
        ]
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"


class Job(models.Model):
    """A background job (export, batch allocation, statement…) with progress and a result.

    The Celery task only carries the id; the state lives here, so a redelivered task sees
    what was done and a job can be shown with a progress bar and downloaded when done.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Done")
        FAILED = "failed", _("Failed")

    shop = models.ForeignKey(
        "shops.Shop",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="jobs",
        verbose_name=_("shop"),
    )
    kind = models.CharField(max_length=40, verbose_name=_("kind"))
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, verbose_name=_("status")
    )
    params = models.JSONField(default=dict, blank=True, verbose_name=_("parameters"))
    total = models.PositiveIntegerField(default=0, verbose_name=_("total"))
    done = models.PositiveIntegerField(default=0, verbose_name=_("done"))
    result = models.JSONField(default=dict, blank=True, verbose_name=_("result"))
    error = models.JSONField(null=True, blank=True, verbose_name=_("error"))
    file_path = models.CharField(max_length=255, blank=True, verbose_name=_("file path"))
    file_name = models.CharField(max_length=120, blank=True, verbose_name=_("file name"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["shop", "kind", "-created_at"])]
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} {self.status}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        return int(self.done * 100 / self.total) if self.total else 0

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def kind_label(self) -> str:
        """What people call the kind (its registration's label, translated)."""
        from waybill_console.jobs import KINDS

        kind = KINDS.get(self.kind)
        return str(kind.label) if kind and kind.label else self.kind
