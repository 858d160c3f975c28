"""Label templates, printers, print agents, and print jobs with every attempt recorded."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class LabelSize(models.TextChoices):
    S76X130 = "76x130", _("76×130 mm (one-part)")
    S100X150 = "100x150", _("100×150 mm")
    S100X180 = "100x180", _("100×180 mm (two-part)")
    S100X100 = "100x100", _("10×10 cm (cross-border)")


class LabelTemplate(models.Model):
    """A shop's template for one carrier and size: the carrier's fixed standard area plus
    the merchant's custom area (``custom_fields``: positions in millimetres)."""

    shop = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="templates", verbose_name=_("shop")
    )
    carrier = models.ForeignKey(
        "carriers.Carrier", on_delete=models.PROTECT, related_name="+", verbose_name=_("carrier")
    )
    size = models.CharField(_("size"), max_length=8, choices=LabelSize.choices)
    name = models.CharField(_("name"), max_length=40)
    custom_fields = models.JSONField(_("custom area"), default=list, blank=True)
    free_text = models.CharField(_("free text"), max_length=100, blank=True)
    watermark = models.CharField(_("watermark"), max_length=20, blank=True)
    grayscale = models.BooleanField(_("grey watermark (grayscale)"), default=False)
    #: 隐私面单: the receiver's name and phone print masked (张* 138****5678), the address
    #: in full (the courier needs it). On for every new template (the designer's create
    #: form, ``POST /api/v1/templates/``); templates saved before it existed stay off
    #: (migration 0003), and so does the built-in layout of a shop without a template.
    privacy = models.BooleanField(_("Privacy label (隐私面单)"), default=True)
    is_default = models.BooleanField(_("default"), default=False)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        ordering = ["carrier__code", "name", "id"]
        verbose_name = _("label template")
        verbose_name_plural = _("label templates")
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "carrier"],
                condition=Q(is_default=True),
                name="template_one_default_per_carrier",
            ),
            models.UniqueConstraint(fields=["shop", "name"], name="template_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class PrinterKind(models.TextChoices):
    ESCPOS = "escpos", "ESC/POS"
    TSPL = "tspl", "TSPL"
    ZPL = "zpl", "ZPL"


class Connection(models.TextChoices):
    NETWORK = "network", _("Network (raw TCP 9100)")
    USB = "usb", _("USB on the server")
    AGENT = "agent", _("Print agent on a packing PC")


class PrintAgent(models.Model):
    """A packing PC running ``wbc-print-agent`` with this agent's key."""

    shop = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="print_agents", verbose_name=_("shop")
    )
    name = models.CharField(_("name"), max_length=40)
    key_hash = models.CharField(max_length=64, unique=True, verbose_name=_("key hash"))
    prefix = models.CharField(max_length=8, verbose_name=_("prefix"))
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("print agent")
        verbose_name_plural = _("print agents")

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()


class Printer(models.Model):
    shop = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="printers", verbose_name=_("shop")
    )
    name = models.CharField(_("name"), max_length=40)
    kind = models.CharField(_("language"), max_length=8, choices=PrinterKind.choices)
    connection = models.CharField(_("connection"), max_length=8, choices=Connection.choices)
    host = models.CharField(_("host"), max_length=100, blank=True)
    port = models.PositiveIntegerField(_("port"), default=9100)
    usb_vendor_id = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("USB vendor id")
    )
    usb_product_id = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("USB product id")
    )
    agent = models.ForeignKey(
        PrintAgent,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="printers",
        verbose_name=_("print agent"),
    )
    agent_target = models.CharField(
        _("printer on the agent's PC"),
        max_length=120,
        blank=True,
        help_text=_("tcp://host:9100, usb://VID:PID or the Windows printer name"),
    )
    dpi = models.PositiveSmallIntegerField(_("dpi"), default=203)
    offset_x_mm = models.DecimalField(_("x offset (mm)"), max_digits=4, decimal_places=1, default=0)
    offset_y_mm = models.DecimalField(_("y offset (mm)"), max_digits=4, decimal_places=1, default=0)
    paper_width_mm = models.PositiveSmallIntegerField(_("paper width (mm)"), default=100)
    paper_height_mm = models.PositiveSmallIntegerField(_("paper height (mm)"), default=150)
    grayscale = models.BooleanField(_("grayscale dithering"), default=False)
    is_default = models.BooleanField(_("default"), default=False)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("printer")
        verbose_name_plural = _("printers")
        constraints = [
            models.UniqueConstraint(fields=["shop", "name"], name="printer_name_unique"),
            models.UniqueConstraint(
                fields=["shop"], condition=Q(is_default=True), name="printer_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PrintJob(models.Model):
    """Up to 50 labels sent to one printer, one document per label (task)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        PRINTED = "printed", _("Printed")
        FAILED = "failed", _("Failed")

    shop = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="print_jobs", verbose_name=_("shop")
    )
    printer = models.ForeignKey(
        Printer, on_delete=models.PROTECT, related_name="jobs", verbose_name=_("printer")
    )
    template = models.ForeignKey(
        LabelTemplate,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("label template"),
    )
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.QUEUED, verbose_name=_("status")
    )
    error = models.JSONField(null=True, blank=True, verbose_name=_("error"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    actor = models.CharField(max_length=60, blank=True, verbose_name=_("actor"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    claimed_by = models.ForeignKey(
        PrintAgent,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("claimed by"),
    )
    claimed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("claimed at"))
    #: a test page from the printer list (one sample label, no waybill)
    is_test = models.BooleanField(default=False, verbose_name=_("test page"))

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["shop", "-created_at"]),
            models.Index(
                fields=["printer", "created_at"],
                name="printjob_agent_queue",
                condition=Q(status__in=["queued", "sending"]),
            ),
        ]
        verbose_name = _("print job")
        verbose_name_plural = _("print jobs")

    def __str__(self) -> str:
        return f"#{self.pk} · {self.get_status_display()}"


class PrintDocument(models.Model):
    """One label of a job. ``confirmed_at`` is set only when the printer confirmed it; a
    retry sends only the documents without it."""

    job = models.ForeignKey(
        PrintJob, on_delete=models.CASCADE, related_name="documents", verbose_name=_("job")
    )
    waybill = models.ForeignKey(
        "waybills.Waybill",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("waybill"),
    )  # none on a test page
    sequence = models.PositiveSmallIntegerField(verbose_name=_("sequence"))
    is_reprint = models.BooleanField(default=False, verbose_name=_("reprint"))
    confirmed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("confirmed at"))

    class Meta:
        ordering = ["job", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["job", "sequence"], name="document_sequence_unique")
        ]
        verbose_name = _("print document")
        verbose_name_plural = _("print documents")

    def __str__(self) -> str:
        return f"{self.job_id}/{self.sequence}"


class PrintAttempt(models.Model):
    """One try at sending a job's unconfirmed documents: bytes sent and the outcome."""

    class Outcome(models.TextChoices):
        OK = "ok", _("Printed")
        FAILED = "failed", _("Failed")

    job = models.ForeignKey(
        PrintJob, on_delete=models.CASCADE, related_name="attempts", verbose_name=_("job")
    )
    started_at = models.DateTimeField(verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    documents = models.JSONField(default=list, verbose_name=_("documents"))  # sequences attempted
    confirmed = models.JSONField(
        default=list, verbose_name=_("confirmed documents")
    )  # sequences the printer confirmed
    bytes_sent = models.PositiveIntegerField(default=0, verbose_name=_("bytes sent"))
    outcome = models.CharField(
        max_length=8, choices=Outcome.choices, blank=True, verbose_name=_("outcome")
    )
    reason = models.CharField(max_length=200, blank=True, verbose_name=_("reason"))
    transport = models.CharField(max_length=10, blank=True, verbose_name=_("transport"))

    class Meta:
        ordering = ["job", "started_at", "id"]
        verbose_name = _("print attempt")
        verbose_name_plural = _("print attempts")

    def __str__(self) -> str:
        return f"{self.job_id} · {self.get_outcome_display() or '…'}"
