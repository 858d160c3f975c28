"""Carriers and their branches (网点). Subscriptions and quotas come with the carriers issue."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from waybill_console.crypto import EncryptedTextField

#: the cancel cap (seed 000, 取消上限): while a merchant has drawn at most this many numbers
#: on one carrier branch, every cancel is allowed; above it, at most 1 in CANCEL_CAP_RATIO
#: of them (20 %). Counted per merchant per carrier branch, cumulatively (累计总取号数以单个
#: 快递公司下单个网点为单位计算). Used by the CHECK constraint below and by carriers.quota.
CANCEL_CAP_FREE_UP_TO = 50
CANCEL_CAP_RATIO = 5


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
    carrier = models.ForeignKey(
        Carrier, on_delete=models.PROTECT, related_name="branches", verbose_name=_("carrier")
    )
    code = models.CharField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=100)
    province = models.CharField(_("province"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=30, blank=True)
    district = models.CharField(_("district"), max_length=30, blank=True)
    region_code = models.CharField(
        max_length=6, blank=True, db_index=True, verbose_name=_("region code")
    )
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
            ("lost_answer", _("Number issued, answer lost (time-out)")),
            ("unsent_timeout", _("Time-out before the carrier heard of it")),
            ("issue_refused", _("Number refused after screening passed")),
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

    branch = models.ForeignKey(
        Branch, on_delete=models.CASCADE, related_name="coverage", verbose_name=_("branch")
    )
    region_code = models.CharField(max_length=6, verbose_name=_("region code"))
    attribute = models.CharField(
        max_length=8,
        choices=DeliveryAttribute.choices,
        default=DeliveryAttribute.FULL,
        verbose_name=_("delivery attribute"),
    )
    value_added_services = models.BooleanField(default=True, verbose_name=_("value-added services"))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["branch", "region_code"], name="coverage_branch_region_unique"
            ),
        ]
        indexes = [models.Index(fields=["region_code"])]
        verbose_name = _("branch coverage")
        verbose_name_plural = _("branch coverages")

    def __str__(self) -> str:
        return f"{self.region_code} · {self.get_attribute_display()}"


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

    shop = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="subscriptions", verbose_name=_("shop")
    )
    carrier = models.ForeignKey(
        Carrier, on_delete=models.PROTECT, related_name="+", verbose_name=_("carrier")
    )
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="subscriptions", verbose_name=_("branch")
    )
    address = models.ForeignKey(
        "shops.Address",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("shipping address"),
    )
    status = models.CharField(
        max_length=16,
        choices=SubscriptionStatus.choices,
        default=SubscriptionStatus.PENDING_REVIEW,
        verbose_name=_("status"),
    )
    contact_name = models.CharField(_("contact"), max_length=40)
    contact_phone = models.CharField(_("contact phone"), max_length=20)
    monthly_account = models.CharField(_("monthly account"), max_length=40, blank=True)
    #: the key the branch issued (Kuaidi100 partnerKey): encrypted, never shown again
    secret_key = EncryptedTextField(_("secret key"), blank=True)
    services = models.JSONField(_("opened services"), default=list, blank=True)
    agreed_at = models.DateTimeField(verbose_name=_("agreed at"))
    is_default = models.BooleanField(default=False, verbose_name=_("default"))
    shared_with = models.ManyToManyField(
        "shops.Shop", blank=True, related_name="shared_subscriptions", verbose_name=_("shared with")
    )
    reject_reason = models.CharField(max_length=200, blank=True, verbose_name=_("rejection reason"))
    balance = models.IntegerField(default=0, verbose_name=_("balance"))
    allocated_total = models.IntegerField(default=0, verbose_name=_("allocated"))
    cancelled_total = models.IntegerField(default=0, verbose_name=_("cancelled"))
    recycled_total = models.IntegerField(default=0, verbose_name=_("recycled"))
    printed_total = models.IntegerField(default=0, verbose_name=_("printed"))
    # (no longer used: the cancel cap is counted per branch, see BranchAccount)
    cancel_basis = models.IntegerField(default=0, verbose_name=_("cancel basis"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

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
        ]

    def __str__(self) -> str:
        return f"{self.shop.shop_no} · {self.branch.name} · {self.get_status_display()}"


class LedgerEntry(models.Model):
    """Append-only quota ledger: every movement of a subscription's numbers."""

    class Kind(models.TextChoices):
        RECHARGE = "recharge", _("Recharge")
        ALLOCATION = "allocation", _("Allocation")
        RELEASE = "release", _("Allocation released")  # the carrier issued no number
        RECYCLE_RETURN = "recycle_return", _("Recycle return")
        REDEDUCTION = "rededuction", _("Re-deduction")
        ADJUSTMENT = "adjustment", _("Adjustment")

    subscription = models.ForeignKey(
        Subscription,
        on_delete=models.PROTECT,
        related_name="ledger",
        verbose_name=_("subscription"),
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    amount = models.IntegerField(
        verbose_name=_("quantity")
    )  # signed: + adds to the balance, - draws from it
    balance_after = models.IntegerField(verbose_name=_("balance after"))
    at = models.DateTimeField(auto_now_add=True, verbose_name=_("time"))
    actor = models.CharField(max_length=60, blank=True, verbose_name=_("actor"))
    note = models.CharField(max_length=200, blank=True, verbose_name=_("note"))
    reference = models.CharField(max_length=64, blank=True, verbose_name=_("reference"))

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["subscription", "-at"])]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount:+d}"


class BranchAccount(models.Model):
    """A merchant's standing with one carrier branch, across all its subscriptions there
    (a second shipping address on the same branch, a cancelled and re-applied service):
    the cancel cap counts here.

    ``cancel_basis`` is the numbers drawn on the branch (the sum of its subscriptions'
    ``allocated_total``) as it stood at the last cancel, written by the same UPDATE that
    counts the cancel, so the CHECK below refuses a cancel past the cap whatever the
    interleaving (concurrent cancels queue on this row). Recycling moves neither count."""

    shop = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="+", verbose_name=_("shop")
    )
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch")
    )
    cancelled_total = models.IntegerField(default=0, verbose_name=_("cancelled"))
    cancel_basis = models.IntegerField(default=0, verbose_name=_("cancel basis"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "branch"], name="branch_account_unique"),
            models.CheckConstraint(
                condition=models.Q(cancel_basis__lte=CANCEL_CAP_FREE_UP_TO)
                | models.Q(cancelled_total__lte=models.F("cancel_basis") / CANCEL_CAP_RATIO),
                name="branch_account_cancel_cap",
            ),
        ]
        verbose_name = _("branch account")
        verbose_name_plural = _("branch accounts")

    def __str__(self) -> str:
        return f"{self.shop_id} {self.branch_id} cancelled {self.cancelled_total}"


class Reservation(models.Model):
    """Quota held for one order package while the carrier is asked for its number(s).

    Reserving moves the balance (and the ledger) at once; committing turns it into
    waybills; releasing gives it back. ``carrier_order_id`` is the id the carrier knows
    the package by: asking again with it (a retry, or the sweep that settles a
    reservation whose outcome is unknown after a crash or a time-out) returns the number
    the carrier already issued, never a second one."""

    class State(models.TextChoices):
        RESERVED = "reserved", _("Reserved")
        COMMITTED = "committed", _("Committed")
        RELEASED = "released", _("Released")

    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="+", verbose_name=_("subscription")
    )
    # no foreign-key constraints to the shop and the order: the reserving statement holds
    # the quota row's lock, and a constraint check would make it wait for any lock on the
    # order row (a packer's open transaction), holding every other draw of the service
    # behind it. The ids are written by the engine from rows it has just read.
    shop = models.ForeignKey(
        "shops.Shop",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        verbose_name=_("shop"),
    )
    order = models.ForeignKey(
        "shops.Order",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        verbose_name=_("order"),
    )
    package_from = models.IntegerField(_("first package"), default=1)
    count = models.IntegerField(_("numbers"))
    charge = models.IntegerField(
        _("charged")
    )  # numbers taken from the balance (0 on a monthly account)
    carrier_order_id = models.CharField(_("carrier-side order id"), max_length=40, unique=True)
    state = models.CharField(
        _("state"), max_length=12, choices=State.choices, default=State.RESERVED
    )
    params = models.JSONField(
        _("request"), default=dict, blank=True
    )  # services, weight, sender, items
    actor = models.CharField(_("by"), max_length=60, blank=True)
    last_error = models.CharField(_("last error"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("reserved at"))
    resolved_at = models.DateTimeField(_("settled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("quota reservation")
        verbose_name_plural = _("quota reservations")
        constraints = [
            # one attempt at a time per order package: a concurrent draw continues it
            models.UniqueConstraint(
                fields=["shop", "order", "package_from"],
                condition=models.Q(state="reserved"),
                name="reservation_one_open_per_package",
            ),
            models.CheckConstraint(condition=models.Q(count__gt=0), name="reservation_count"),
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(state="reserved"),
                name="reservation_open_sweep",
            )
        ]

    def __str__(self) -> str:
        return f"{self.carrier_order_id} · {self.get_state_display()}"


class SandboxShipment(models.Model):
    """The sandbox carrier's own record of what it issued (the built-in gateway): what a
    real carrier keeps on its side, so a query by carrier-side order id answers as one
    would, and a replay returns the first numbers."""

    carrier_code = models.CharField(max_length=16, verbose_name=_("carrier code"))
    carrier_order_id = models.CharField(max_length=40, verbose_name=_("carrier order id"))
    numbers = models.JSONField(default=list, verbose_name=_("numbers"))
    cancelled = models.JSONField(default=list, blank=True, verbose_name=_("cancelled"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["carrier_code", "carrier_order_id"], name="sandbox_shipment_unique"
            )
        ]
        verbose_name = _("sandbox shipment")
        verbose_name_plural = _("sandbox shipments")

    def __str__(self) -> str:
        return f"{self.carrier_code} {self.carrier_order_id}"


class GatewayConfig(models.Model):
    """Which gateway answers for a carrier, and the operator's account with it (set by ops in
    the admin or with ``manage.py carrier_gateway``). No row: the built-in sandbox.

    ``key``/``secret``: Kuaidi100's ``key`` and ``secret``; SF's ``partnerID`` (顾客编码)
    and ``checkWord``. The secrets are encrypted at rest and never shown again."""

    class Kind(models.TextChoices):
        BUILTIN = "builtin", _("Built-in sandbox")
        KUAIDI100 = "kuaidi100", _("Kuaidi100 (快递100)")
        SF = "sf", _("SF Express (丰桥)")

    carrier = models.OneToOneField(
        Carrier, on_delete=models.CASCADE, related_name="gateway", verbose_name=_("carrier")
    )
    kind = models.CharField(_("gateway"), max_length=16, choices=Kind.choices, default=Kind.BUILTIN)
    key = models.CharField(_("account key / partner id"), max_length=64, blank=True)
    secret = EncryptedTextField(_("secret / check word"), blank=True)
    url = models.URLField(_("order URL"), blank=True)
    poll_url = models.URLField(_("tracking subscription URL"), blank=True)
    #: what the carrier signs its pushes with (Kuaidi100's ``salt``)
    callback_salt = EncryptedTextField(_("push salt"), blank=True)
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("carrier gateway")
        verbose_name_plural = _("carrier gateways")

    def __str__(self) -> str:
        return f"{self.carrier} · {self.get_kind_display()}"


class GatewayCall(models.Model):
    """One call to a carrier's API, for ops: what was asked (consumer data masked), how it
    went and how long it took. Failures also reach the merchant as 面单异常."""

    kind = models.CharField(_("gateway"), max_length=16)
    account = models.CharField(
        _("account"), max_length=64, blank=True
    )  # the gateway account (its key)
    operation = models.CharField(_("operation"), max_length=32)  # order, cancel, subscribe, query…
    carrier_order_id = models.CharField(
        _("carrier-side order id"), max_length=40, blank=True, db_index=True
    )
    url = models.CharField(_("URL"), max_length=300)
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    ok = models.BooleanField(_("succeeded"), default=False)
    error = models.CharField(_("error"), max_length=200, blank=True)
    seconds = models.FloatField(_("seconds"), default=0)
    request = models.JSONField(_("request (masked)"), default=dict, blank=True)  # masked
    response = models.TextField(_("answer (masked)"), blank=True)  # masked, cut to a few kB
    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("carrier API call")
        verbose_name_plural = _("carrier API calls")

    def __str__(self) -> str:
        return f"{self.kind} {self.operation} {self.carrier_order_id} {self.ok}"
