"""Shops, their accounts, API tokens, and orders with encrypted consumer data."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
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
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

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
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("user"),
    )
    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("shop")
    )
    role = models.CharField(_("role"), max_length=8, choices=Role.choices, default=Role.SUB)
    permissions = ArrayField(
        models.CharField(max_length=40), default=list, blank=True, verbose_name=_("permissions")
    )
    display_name = models.CharField(_("display name"), max_length=60, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

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
        return f"{self.user} · {self.shop.shop_no} · {self.get_role_display()}"


class ApiToken(models.Model):
    """A key for the REST API, bound to exactly one shop or one carrier branch.

    Only a SHA-256 of the key is stored; the key is shown once, when created.
    """

    name = models.CharField(_("name"), max_length=80, blank=True)
    prefix = models.CharField(max_length=12, unique=True, verbose_name=_("prefix"))
    key_hash = models.CharField(max_length=64, unique=True, verbose_name=_("key hash"))
    shop = models.ForeignKey(
        Shop,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("shop"),
    )
    branch = models.ForeignKey(
        "carriers.Branch",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("branch"),
    )
    scopes = ArrayField(
        models.CharField(max_length=40), default=list, blank=True, verbose_name=_("permissions")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last used at"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))

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


class Address(models.Model):
    """A shop's shipping (sender / return) address, with administrative-division codes."""

    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="addresses", verbose_name=_("shop")
    )
    contact_name = models.CharField(_("contact"), max_length=40)
    phone = models.CharField(_("phone"), max_length=20)
    province = models.CharField(_("province"), max_length=20)
    province_code = models.CharField(max_length=6, verbose_name=_("province code"))
    city = models.CharField(_("city"), max_length=30)
    city_code = models.CharField(max_length=6, verbose_name=_("city code"))
    district = models.CharField(_("district"), max_length=30, blank=True)
    district_code = models.CharField(max_length=6, blank=True, verbose_name=_("district code"))
    street = models.CharField(_("street / town"), max_length=40, blank=True)
    detail = models.CharField(_("detailed address"), max_length=120)
    is_default_sender = models.BooleanField(_("default sender address"), default=False)
    is_default_return = models.BooleanField(_("default return address"), default=False)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["-is_default_sender", "id"]
        verbose_name = _("shipping address")
        verbose_name_plural = _("shipping addresses")
        constraints = [
            models.UniqueConstraint(
                fields=["shop"],
                condition=Q(is_default_sender=True),
                name="address_one_default_sender",
            ),
            models.UniqueConstraint(
                fields=["shop"],
                condition=Q(is_default_return=True),
                name="address_one_default_return",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_name} {self.region_text}{self.street}{self.detail}"

    @property
    def region_text(self) -> str:
        return "".join(p for p in (self.province, self.city, self.district) if p)

    @property
    def region_code(self) -> str:
        return self.district_code or self.city_code or self.province_code


class Product(models.Model):
    """A shop's SKU with its stock; a seller cancellation delists it (stock to zero)."""

    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="products", verbose_name=_("shop")
    )
    sku = models.CharField(_("SKU"), max_length=64)
    name = models.CharField(_("product"), max_length=200)
    stock = models.IntegerField(_("stock"), default=0)
    is_listed = models.BooleanField(_("listed"), default=True)
    delisted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delisted at"))
    #: where the SKU sits in the warehouse (库位, e.g. A-03-02); the pick list is walked in
    #: this order
    bin_location = models.CharField(_("bin location"), max_length=32, blank=True, default="")

    class Meta:
        ordering = ["sku"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [
            models.UniqueConstraint(fields=["shop", "sku"], name="product_shop_sku_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class OrderStatus(models.TextChoices):
    UNPAID = "unpaid", _("Unpaid")
    PAID = "paid", _("Awaiting shipment")
    READY_TO_SHIP = "ready_to_ship", _("Ready to ship")
    SHIPPED = "shipped", _("Shipped")
    IN_TRANSIT = "in_transit", _("In transit")
    DELIVERED = "delivered", _("Delivered")
    DELIVERY_FAILED = "delivery_failed", _("Delivery failed")
    RETURNED = "returned", _("Returned to sender")
    CANCELLED = "cancelled", _("Cancelled")


class AfterSaleStatus(models.TextChoices):
    NONE = "none", _("None")
    IN_PROGRESS = "in_progress", _("After-sale in progress")
    CLOSED = "closed", _("After-sale closed")


class CancelRequestStatus(models.TextChoices):
    NONE = "none", _("None")
    PENDING = "pending", _("Cancellation requested")
    APPROVED = "approved", _("Cancellation approved")
    REJECTED = "rejected", _("Cancellation rejected")


class Order(models.Model):
    """An order of the shop. Receiver name, phone and street are ciphertext at rest;
    the masked forms are computed once, at write time, so lists never decrypt.

    ``sla_due_at`` is the earliest deadline the order has still to meet (ready to ship,
    picked up, in transit), kept by the lifecycle service so that the "at risk" filter is
    one indexed range scan."""

    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="orders", verbose_name=_("shop")
    )
    order_no = models.CharField(_("order number"), max_length=64)
    status = models.CharField(
        _("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.PAID
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    #: a pre-sale order (预售) ships from this date on: its logistics deadlines count from
    #: it instead of the payment when it is later (``shops.services.order_states.sla_clock_start``)
    promised_ship_at = models.DateTimeField(_("promised ship date"), null=True, blank=True)
    total_amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2, default=0)
    buyer_note = models.CharField(_("buyer note"), max_length=200, blank=True)

    receiver_name = EncryptedTextField(verbose_name=_("receiver's name"))
    receiver_phone = EncryptedTextField(verbose_name=_("receiver's phone"))
    receiver_detail = EncryptedTextField(verbose_name=_("receiver's address"))
    receiver_name_masked = models.CharField(
        max_length=40, verbose_name=_("receiver's name (masked)")
    )
    receiver_phone_masked = models.CharField(
        max_length=20, verbose_name=_("receiver's phone (masked)")
    )
    receiver_phone_index = models.CharField(max_length=40, verbose_name=_("receiver's phone index"))
    receiver_province = models.CharField(_("province"), max_length=20)
    receiver_city = models.CharField(_("city"), max_length=30)
    receiver_district = models.CharField(_("district"), max_length=30, blank=True)
    #: given with a re-routed failed delivery's new receiver (area-level, like the district)
    receiver_postcode = models.CharField(_("postcode"), max_length=6, blank=True)

    # events that block printing and dropship allocation
    after_sale_status = models.CharField(
        _("after-sale"),
        max_length=12,
        choices=AfterSaleStatus.choices,
        default=AfterSaleStatus.NONE,
    )
    address_changed_at = models.DateTimeField(_("address changed at"), null=True, blank=True)
    cancel_request_status = models.CharField(
        _("cancellation request"),
        max_length=10,
        choices=CancelRequestStatus.choices,
        default=CancelRequestStatus.NONE,
    )
    cancel_requested_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("cancellation requested at")
    )
    cancel_reason = models.CharField(_("cancel reason"), max_length=40, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(
        default=0, verbose_name=_("payment reminders sent")
    )

    # logistics
    carrier_code = models.CharField(_("carrier"), max_length=16, blank=True)
    tracking_no = models.CharField(_("tracking number"), max_length=40, blank=True)
    shipped_by_hand = models.BooleanField(default=False, verbose_name=_("shipped by hand"))
    has_waybill = models.BooleanField(_("has platform waybill"), default=False)
    is_dropship = models.BooleanField(_("dropship"), default=False)
    return_address = models.ForeignKey(
        Address,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("return address"),
    )
    ready_to_ship_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("ready to ship at")
    )
    shipped_at = models.DateTimeField(null=True, blank=True, verbose_name=_("shipped at"))
    picked_up_at = models.DateTimeField(null=True, blank=True, verbose_name=_("picked up at"))
    in_transit_at = models.DateTimeField(null=True, blank=True, verbose_name=_("in transit at"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))
    failed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivery failed at"))
    rerouted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("re-routed at"))
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancelled at"))

    sla_due_at = models.DateTimeField(_("next deadline"), null=True, blank=True)
    sla_breaches = ArrayField(
        models.CharField(max_length=20),
        default=list,
        blank=True,
        verbose_name=_("missed deadlines"),
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.UniqueConstraint(fields=["shop", "order_no"], name="order_shop_order_no_unique"),
        ]
        indexes = [
            models.Index(fields=["shop", "-created_at", "-id"], name="order_shop_created"),
            models.Index(
                fields=["shop", "status", "-created_at"], name="order_shop_status_created"
            ),
            models.Index(fields=["shop", "receiver_phone_index"], name="order_shop_phone"),
            # the search's order-number prefix (LIKE 'x%') under any database collation:
            # the unique index serves it only where the collation is "C"
            models.Index(
                fields=["shop", "order_no"],
                name="order_shop_order_no_prefix",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            ),
            models.Index(
                fields=["shop", "carrier_code", "-created_at"], name="order_shop_carrier_created"
            ),
            models.Index(
                fields=["shop", "sla_due_at"],
                name="order_shop_sla_due",
                condition=Q(sla_due_at__isnull=False),
            ),
            models.Index(
                fields=["created_at"], name="order_unpaid_sweep", condition=Q(status="unpaid")
            ),
            models.Index(
                fields=["cancel_requested_at"],
                name="order_cancel_request_sweep",
                condition=Q(cancel_request_status="pending"),
            ),
            models.Index(
                fields=["failed_at"],
                name="order_failed_sweep",
                condition=Q(status="delivery_failed"),
            ),
        ]

    def __str__(self) -> str:
        return self.order_no

    @property
    def receiver_address_masked(self) -> str:
        from waybill_console.crypto import mask_address

        return mask_address(self.receiver_province, self.receiver_city, self.receiver_district, "x")


class OrderItem(models.Model):
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="items", verbose_name=_("order")
    )
    sku = models.CharField(_("SKU"), max_length=64)
    product_name = models.CharField(_("product"), max_length=200)
    spec = models.CharField(_("spec"), max_length=200, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2, default=0)

    class Meta:
        ordering = ["id"]
        verbose_name = _("order item")
        verbose_name_plural = _("order items")

    def __str__(self) -> str:
        return f"{self.sku} × {self.quantity}"


class OrderEvent(models.Model):
    """Every state change and time rule applied to an order, in order."""

    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="events", verbose_name=_("order")
    )
    at = models.DateTimeField(verbose_name=_("time"))
    kind = models.CharField(max_length=32, verbose_name=_("kind"))
    actor = models.CharField(max_length=60, blank=True, verbose_name=_("actor"))
    data = models.JSONField(default=dict, blank=True, verbose_name=_("data"))

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["order", "at"])]
        verbose_name = _("order event")
        verbose_name_plural = _("order events")

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"
