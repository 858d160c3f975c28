"""Dropship (代发) identity. Bindings, allocations and statements come with the dropship issue."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class DropshipProfile(models.Model):
    class Identity(models.TextChoices):
        MERCHANT = "merchant", _("Merchant (分销商)")
        FACTORY = "factory", _("Factory (厂家)")

    shop = models.OneToOneField(
        "shops.Shop", on_delete=models.CASCADE, related_name="dropship_profile"
    )
    identity = models.CharField(
        _("dropship identity"), max_length=10, choices=Identity.choices, default=Identity.MERCHANT
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("dropship profile")
        verbose_name_plural = _("dropship profiles")

    def __str__(self) -> str:
        return f"{self.shop.shop_no}: {self.identity}"
