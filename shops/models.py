"""Shops, their accounts, API tokens, and orders with encrypted consumer data."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from waybill_console.crypto import EncryptedTextField


class ShopType(models.TextChoices):
    OFFICIAL_FLAGSHIP = "official_flagship", _("Official flagship store (官方旗舰店)")
    FLAGSHIP = "flagship", _("Flagship store (旗舰店)")
    SPECIALTY = "specialty", _("Specialty store (专卖店)")
    FRANCHISE = "franchise", _("Franchise store (专营店)")
    ENTERPRISE = "enterprise", _("Enterprise store (企业店)")
    INDIVIDUAL_BUSINESS = "individual_business", _("Individual business (个体店)")
    INDIVIDUAL = "individual", _("Individual (个人店)")


class Shop(models.Model):
    shop_no = models.CharField(_("shop number"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    shop_type = models.CharField(
        _("shop type"), max_length=24, choices=ShopType.choices, default=ShopType.ENTERPRISE
    )
    no_source_risk = models.BooleanField(
        _("no-source risk (无货源风险)"),
        default=False,
        help_text=_(
            "Must ship with a platform e-waybill; hand-typed tracking numbers are refused."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shop_no"]
        verbose_name = _("shop")
        verbose_name_plural = _("shops")

    def __str__(self) -> str:
        return f"{self.name} ({self.shop_no})"

    @property
    def is_factory(self) -> bool:
        profile = getattr(self, "dropship_profile", None)
        return bool(profile and profile.identity == "factory")


class Membership(models.Model):
    """A user's account in one shop: the main account or a sub-account with permissions."""

    class Role(models.TextChoices):
        MAIN = "main", _("Main account")
        SUB = "sub", _("Sub-account")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=8, choices=Role.choices, default=Role.SUB)
    permissions = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    display_name = models.CharField(_("display name"), max_length=60, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shop__shop_no", "role", "id"]
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.UniqueConstraint(fields=["user", "shop"], name="membership_user_shop_unique"),
            models.UniqueConstraint(
                fields=["shop"], condition=Q(role="main"), name="membership_one_main_per_shop"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.shop.shop_no} ({self.role})"


class ApiToken(models.Model):
    """A key for the REST API, bound to exactly one shop or one carrier branch.

    Only a SHA-256 of the key is stored; the key is shown once, when created.
    """

    name = models.CharField(_("name"), max_length=80, blank=True)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    shop = models.ForeignKey(
        Shop, null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens"
    )
    branch = models.ForeignKey(
        "carriers.Branch",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    scopes = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(shop__isnull=False, branch__isnull=True)
                    | Q(shop__isnull=True, branch__isnull=False)
                ),
                name="api_token_one_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.shop or self.branch})"


class OrderStatus(models.TextChoices):
    UNPAID = "unpaid", _("Unpaid")
    PAID = "paid", _("Awaiting shipment")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")


class Order(models.Model):
    """An order of the shop. Receiver name, phone and street are ciphertext at rest;
    the masked forms are computed once, at write time, so lists never decrypt."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="orders")
    order_no = models.CharField(_("order number"), max_length=64)
    status = models.CharField(
        _("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.PAID
    )
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    receiver_name = EncryptedTextField()
    receiver_phone = EncryptedTextField()
    receiver_detail = EncryptedTextField()
    receiver_name_masked = models.CharField(max_length=40)
    receiver_phone_masked = models.CharField(max_length=20)
    receiver_phone_index = models.CharField(max_length=40, db_index=True)
    receiver_province = models.CharField(_("province"), max_length=20)
    receiver_city = models.CharField(_("city"), max_length=30)
    receiver_district = models.CharField(_("district"), max_length=30, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.UniqueConstraint(fields=["shop", "order_no"], name="order_shop_order_no_unique"),
        ]
        indexes = [models.Index(fields=["shop", "status", "-created_at"])]

    def __str__(self) -> str:
        return self.order_no

    @property
    def receiver_address_masked(self) -> str:
        from waybill_console.crypto import mask_address

        return mask_address(self.receiver_province, self.receiver_city, self.receiver_district, "x")


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    sku = models.CharField(_("SKU"), max_length=64)
    product_name = models.CharField(_("product"), max_length=200)
    spec = models.CharField(_("spec"), max_length=200, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2, default=0)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.sku} × {self.quantity}"
