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
    number_pattern = models.CharField(_("waybill number format (regex)"), max_length=80, blank=True)
    number_example = models.CharField(_("example number"), max_length=30, blank=True)
    services = models.JSONField(_("supported services"), default=list, blank=True)
    label_sizes = models.JSONField(_("supported label sizes"), default=list, blank=True)

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
    region_code = models.CharField(max_length=6, blank=True, db_index=True)
    contact_name = models.CharField(_("contact"), max_length=40, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=20, blank=True)
    fault = models.CharField(
        _("simulated fault"),
        max_length=24,
        blank=True,
        default="",
        choices=[
            ("", _("None")),
            ("rate_limit", _("Rate limit")),
            ("timeout", _("Timeout")),
            ("failure", _("Failure")),
            ("mismatch", _("Branch/customer mismatch")),
            ("monthly_account_invalid", _("Monthly account invalid")),
            ("address_unparseable", _("Address cannot be parsed (1014)")),
            ("service_not_opened", _("Express type not configured (8057)")),
            ("secret_key_missing", _("Secret key missing (Yunda)")),
            ("configuration_required", _("Configuration required (Yunda)")),
            ("merchant_code_mismatch", _("Merchant code mismatch (JD)")),
            ("provider_creation_failed", _("Service provider creation failed (STO)")),
        ],
        help_text=_(
            "For demos and tests: the built-in gateway answers every call with this fault."
        ),
    )

    class Meta:
        ordering = ["carrier__code", "code"]
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        constraints = [
            models.UniqueConstraint(fields=["carrier", "code"], name="branch_carrier_code_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.carrier.code} {self.name} ({self.code})"


class DeliveryAttribute(models.TextChoices):
    FULL = "full", _("Full delivery")
    PARTIAL = "partial", _("Partial delivery at the 4th level")
    NOT_FULL = "not_full", _("Not full-territory delivery")
    NONE = "none", _("No delivery")


class BranchCoverage(models.Model):
    """Where a branch delivers: per region code (province, city or district), the delivery
    attribute and whether value-added services are offered there."""

    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="coverage")
    region_code = models.CharField(max_length=6)
    attribute = models.CharField(
        max_length=8, choices=DeliveryAttribute.choices, default=DeliveryAttribute.FULL
    )
    value_added_services = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["branch", "region_code"], name="coverage_branch_region_unique"
            ),
        ]
        indexes = [models.Index(fields=["region_code"])]

    def __str__(self) -> str:
        return f"{self.branch_id} {self.region_code} {self.attribute}"


class SubscriptionStatus(models.TextChoices):
    PENDING_REVIEW = "pending_review", _("Pending review")
    ACTIVE = "active", _("Active")
    REJECTED = "rejected", _("Rejected")
    EXPIRING = "expiring", _("Expiring")
    CANCELLED = "cancelled", _("Cancelled")


class Subscription(models.Model):
    """开通电子面单服务: a shop's e-waybill service with one carrier branch for one address.

    The counters are kept in the same transaction as the ledger entry that moves them;
    ``check_ledger`` proves they equal the ledger's sums."""

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="subscriptions")
    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="+")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="subscriptions")
    address = models.ForeignKey("shops.Address", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=16, choices=SubscriptionStatus.choices, default=SubscriptionStatus.PENDING_REVIEW
    )
    contact_name = models.CharField(_("contact"), max_length=40)
    contact_phone = models.CharField(_("contact phone"), max_length=20)
    monthly_account = models.CharField(_("monthly account"), max_length=40, blank=True)
    secret_key = models.CharField(_("secret key"), max_length=80, blank=True)
    services = models.JSONField(_("opened services"), default=list, blank=True)
    agreed_at = models.DateTimeField()
    is_default = models.BooleanField(default=False)
    shared_with = models.ManyToManyField(
        "shops.Shop", blank=True, related_name="shared_subscriptions"
    )
    reject_reason = models.CharField(max_length=200, blank=True)
    balance = models.IntegerField(default=0)
    allocated_total = models.IntegerField(default=0)
    cancelled_total = models.IntegerField(default=0)
    recycled_total = models.IntegerField(default=0)
    printed_total = models.IntegerField(default=0)
    # allocated_total as it stood at the last cancel: the cancel cap's denominator (see the
    # constraint below). Allocations never touch it, so they can never trip the cap.
    cancel_basis = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["carrier__code", "id"]
        verbose_name = _("e-waybill subscription")
        verbose_name_plural = _("e-waybill subscriptions")
        constraints = [
            # one branch per shipping address per carrier (live applications only)
            models.UniqueConstraint(
                fields=["shop", "carrier", "address"],
                condition=models.Q(status__in=["pending_review", "active", "expiring"]),
                name="subscription_one_branch_per_address",
            ),
            models.UniqueConstraint(
                fields=["shop", "carrier"],
                condition=models.Q(is_default=True),
                name="subscription_one_default_per_carrier",
            ),
            models.CheckConstraint(
                condition=models.Q(balance__gte=0), name="subscription_balance_not_negative"
            ),
            # the cancel cap (您的账号取消电子面单数量已达上限): after any cancel, either at most
            # 50 numbers had been allocated, or cancelled / allocated <= 20 %. Each cancel sets
            # cancel_basis = allocated_total in the same UPDATE, so the database refuses a
            # cancel past the cap whatever the interleaving. Recycling moves neither count.
            models.CheckConstraint(
                condition=models.Q(cancel_basis__lte=50)
                | models.Q(cancelled_total__lte=models.F("cancel_basis") / 5),
                name="subscription_cancel_cap",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.shop_id} {self.carrier_id} {self.branch_id} {self.status}"


class LedgerEntry(models.Model):
    """Append-only quota ledger: every movement of a subscription's numbers."""

    class Kind(models.TextChoices):
        RECHARGE = "recharge", _("Recharge")
        ALLOCATION = "allocation", _("Allocation")
        RECYCLE_RETURN = "recycle_return", _("Recycle return")
        REDEDUCTION = "rededuction", _("Re-deduction")
        ADJUSTMENT = "adjustment", _("Adjustment")

    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="ledger")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.IntegerField()  # signed: + adds to the balance, - draws from it
    balance_after = models.IntegerField()
    at = models.DateTimeField(auto_now_add=True)
    actor = models.CharField(max_length=60, blank=True)
    note = models.CharField(max_length=200, blank=True)
    reference = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["subscription", "-at"])]

    def __str__(self) -> str:
        return f"{self.subscription_id} {self.kind} {self.amount:+d}"
