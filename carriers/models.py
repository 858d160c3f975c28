"""Carriers and their branches (网点). Subscriptions and quotas come with the carriers issue."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class NetworkType(models.TextChoices):
    FRANCHISE = "franchise", _("Franchise (加盟)")
    DIRECT = "direct", _("Direct (直营)")


class Carrier(models.Model):
    code = models.CharField(_("code"), max_length=16, unique=True)
    name = models.CharField(_("name"), max_length=40)
    network_type = models.CharField(_("network type"), max_length=12, choices=NetworkType.choices)
    needs_monthly_account = models.BooleanField(_("needs monthly account"), default=False)
    needs_secret_key = models.BooleanField(_("needs secret key"), default=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("carrier")
        verbose_name_plural = _("carriers")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Branch(models.Model):
    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="branches")
    code = models.CharField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=100)
    province = models.CharField(_("province"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=30, blank=True)
    district = models.CharField(_("district"), max_length=30, blank=True)

    class Meta:
        ordering = ["carrier__code", "code"]
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        constraints = [
            models.UniqueConstraint(fields=["carrier", "code"], name="branch_carrier_code_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.carrier.code} {self.name} ({self.code})"
