"""Waybill numbers (电子面单号) drawn for order packages, their tracking, and what went wrong.

A :class:`Waybill` is one number bound to one package of one order. The receiver is
copied from the order as ciphertext (never decrypted to allocate) together with its
masked forms, so lists, usage details and exports never decrypt.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from waybill_console.crypto import EncryptedTextField


class WaybillStatus(models.TextChoices):
    ALLOCATED = "allocated", _("Allocated")
    CANCELLED = "cancelled", _("Cancelled")
    RECYCLED = "recycled", _("Recycled")
    PICKED_UP = "picked_up", _("Picked up")
    IN_TRANSIT = "in_transit", _("In transit")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Delivery failed")


#: statuses in which the number still belongs to its order package
LIVE_STATUSES = (
    WaybillStatus.ALLOCATED,
    WaybillStatus.PICKED_UP,
    WaybillStatus.IN_TRANSIT,
    WaybillStatus.DELIVERED,
    WaybillStatus.FAILED,
)


class Waybill(models.Model):
    shop = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="waybills", verbose_name=_("shop")
    )
    subscription = models.ForeignKey(
        "carriers.Subscription",
        on_delete=models.PROTECT,
        related_name="waybills",
        verbose_name=_("subscription"),
    )
    carrier = models.ForeignKey(
        "carriers.Carrier", on_delete=models.PROTECT, related_name="+", verbose_name=_("carrier")
    )
    branch = models.ForeignKey(
        "carriers.Branch", on_delete=models.PROTECT, related_name="+", verbose_name=_("branch")
    )
    order = models.ForeignKey(
        "shops.Order", on_delete=models.CASCADE, related_name="waybills", verbose_name=_("order")
    )
    package_no = models.PositiveSmallIntegerField(_("package"), default=1)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
        verbose_name=_("parent waybill"),
    )
    waybill_no = models.CharField(_("waybill number"), max_length=40)
    status = models.CharField(
        _("status"), max_length=12, choices=WaybillStatus.choices, default=WaybillStatus.ALLOCATED
    )
    has_tracking = models.BooleanField(_("has tracking"), default=False)

    # what the label needs
    sort_code = models.CharField(_("sort code"), max_length=20)
    package_center_code = models.CharField(
        max_length=20, blank=True, verbose_name=_("package centre code")
    )
    package_center_name = models.CharField(_("package centre"), max_length=40, blank=True)
    short_address_code = models.CharField(
        max_length=20, blank=True, verbose_name=_("short address code")
    )
    short_address_name = models.CharField(_("short address"), max_length=40, blank=True)
    services = models.JSONField(default=list, blank=True, verbose_name=_("services"))

    # snapshots at allocation (sender: the shipping address; receiver: ciphertext + masks)
    sender = models.JSONField(default=dict, blank=True, verbose_name=_("sender"))
    receiver_name = EncryptedTextField(verbose_name=_("receiver's name"))
    receiver_phone = EncryptedTextField(verbose_name=_("receiver's phone"))
    receiver_detail = EncryptedTextField(verbose_name=_("receiver's address"))
    receiver_name_masked = models.CharField(
        max_length=40, verbose_name=_("receiver's name (masked)")
    )
    receiver_phone_masked = models.CharField(
        max_length=20, verbose_name=_("receiver's phone (masked)")
    )
    receiver_province = models.CharField(max_length=20, verbose_name=_("receiver's province"))
    receiver_city = models.CharField(max_length=30, verbose_name=_("receiver's city"))
    receiver_district = models.CharField(
        max_length=30, blank=True, verbose_name=_("receiver's district")
    )
    weight_grams = models.PositiveIntegerField(_("weight (g)"), null=True, blank=True)
    items = models.JSONField(default=list, blank=True, verbose_name=_("items"))
    #: when the receiver snapshot last followed the order (a receiver change made on the
    #: waybill, written to both): an order address change after it blocks printing
    receiver_changed_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("receiver changed at")
    )

    allocated_at = models.DateTimeField(_("allocated at"), db_index=False)
    last_changed_at = models.DateTimeField(_("last changed at"))
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    recycled_at = models.DateTimeField(_("recycled at"), null=True, blank=True)
    first_tracked_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("first tracked at")
    )
    picked_up_at = models.DateTimeField(null=True, blank=True, verbose_name=_("picked up at"))
    print_count = models.PositiveIntegerField(_("prints"), default=0)
    actor = models.CharField(max_length=60, blank=True, verbose_name=_("actor"))
    #: the id the carrier knows this package by (its reservation's): cancels and queries
    carrier_order_id = models.CharField(
        max_length=40, blank=True, default="", verbose_name=_("carrier order id")
    )
    #: what the carrier returned for the label beyond the routing (e.g. SF's 丰密 QR)
    print_data = models.JSONField(default=dict, blank=True, verbose_name=_("print data"))

    class Meta:
        ordering = ["-allocated_at", "-id"]
        verbose_name = _("waybill")
        verbose_name_plural = _("waybills")
        constraints = [
            # number first: it also serves lookups by number alone (tracking, a shop's
            # number), so no second index has to be kept up to date by every status change
            models.UniqueConstraint(fields=["waybill_no", "carrier"], name="waybill_no_unique"),
            # an order package holds one live number (cancelled/recycled ones free the slot)
            models.UniqueConstraint(
                fields=["order", "package_no"],
                condition=Q(status__in=[s.value for s in LIVE_STATUSES]),
                name="waybill_one_live_per_package",
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "-allocated_at"], name="waybill_shop_allocated"),
            models.Index(fields=["subscription", "-allocated_at"], name="waybill_sub_allocated"),
            models.Index(fields=["order", "package_no"], name="waybill_order_package"),
            # 概览's 未打印 (and the usage details' "not printed" filter): numbers waiting for
            # their label, counted without reading the shop's printed ones
            models.Index(
                fields=["shop", "-allocated_at"],
                name="waybill_shop_unprinted",
                condition=Q(status="allocated", print_count=0),
            ),
            # the recycling sweep's two predicates, as partial indexes
            models.Index(
                fields=["id"],
                name="waybill_recycle_cancelled",
                condition=Q(status="cancelled", has_tracking=False),
            ),
            models.Index(
                fields=["id"],
                name="waybill_recycle_idle",
                condition=Q(status="allocated", has_tracking=False),
            ),
        ]

    def __str__(self) -> str:
        return self.waybill_no

    @property
    def receiver_address_masked(self) -> str:
        from waybill_console.crypto import mask_address

        return mask_address(self.receiver_province, self.receiver_city, self.receiver_district, "x")

    @property
    def for_other_shop(self) -> bool:
        """Drawn by a factory for a merchant's order (代发): the order is not this shop's."""
        return self.shop_id != self.order.shop_id

    @property
    def order_id_display(self) -> int | None:
        """The order's id for this waybill's shop: none for a factory (the merchant's
        internal ids are not the factory's to see; its own are the factory orders')."""
        return None if self.for_other_shop else self.order_id

    @property
    def order_no_display(self) -> str:
        """The order number as this waybill's shop may see it (masked for a factory)."""
        from waybill_console.crypto import mask_code

        return mask_code(self.order.order_no) if self.for_other_shop else self.order.order_no


class TrackingStatus(models.TextChoices):
    PICKED_UP = "picked_up", _("Picked up")
    IN_TRANSIT = "in_transit", _("In transit")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Delivery failed")


class TrackingEvent(models.Model):
    waybill = models.ForeignKey(
        Waybill, on_delete=models.CASCADE, related_name="tracking", verbose_name=_("waybill")
    )
    occurred_at = models.DateTimeField(verbose_name=_("occurred at"))
    status = models.CharField(
        max_length=12, choices=TrackingStatus.choices, verbose_name=_("status")
    )
    description = models.CharField(max_length=200, blank=True, verbose_name=_("description"))
    location = models.CharField(max_length=80, blank=True, verbose_name=_("location"))
    received_at = models.DateTimeField(auto_now_add=True, verbose_name=_("received at"))

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["waybill", "-occurred_at"])]
        verbose_name = _("tracking event")
        verbose_name_plural = _("tracking events")

    def __str__(self) -> str:
        return f"{self.get_status_display()} {self.occurred_at:%Y-%m-%d %H:%M}"


#: the count a violation takes again from the balance (one number came back when recycled)
REDEDUCTION_COUNT = 1


class Violation(models.Model):
    """A recycled number that later showed tracking: its count is deducted again.

    When the balance cannot cover the deduction it is owed (``deducted_at`` empty) and the
    recycling sweep settles it as soon as the balance allows."""

    shop = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="+", verbose_name=_("shop")
    )
    subscription = models.ForeignKey(
        "carriers.Subscription",
        on_delete=models.PROTECT,
        related_name="violations",
        verbose_name=_("subscription"),
    )
    waybill = models.OneToOneField(
        Waybill, on_delete=models.CASCADE, related_name="violation", verbose_name=_("waybill")
    )
    detected_at = models.DateTimeField(verbose_name=_("detected at"))
    deducted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("deducted at"))
    note = models.CharField(max_length=200, blank=True, verbose_name=_("note"))

    class Meta:
        ordering = ["-detected_at", "-id"]
        indexes = [
            models.Index(
                fields=["subscription"], name="violation_owed", condition=Q(deducted_at=None)
            )
        ]
        verbose_name = _("violation")
        verbose_name_plural = _("violations")

    def __str__(self) -> str:
        return f"#{self.pk} · {self.waybill}"


class AllocationException(models.Model):
    """面单异常: the last failed allocation of an order, kept until a retry succeeds."""

    shop = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="+", verbose_name=_("shop")
    )
    order = models.ForeignKey(
        "shops.Order", on_delete=models.CASCADE, related_name="+", verbose_name=_("order")
    )
    subscription = models.ForeignKey(
        "carriers.Subscription",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("subscription"),
    )
    carrier_code = models.CharField(max_length=16, blank=True, verbose_name=_("carrier code"))
    package_count = models.PositiveSmallIntegerField(default=1, verbose_name=_("packages"))
    code = models.CharField(max_length=40, verbose_name=_("error code"))
    message = models.CharField(max_length=200, verbose_name=_("message"))
    detail = models.JSONField(default=dict, blank=True, verbose_name=_("detail"))
    attempts = models.PositiveIntegerField(default=1, verbose_name=_("attempts"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resolved at"))

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=Q(resolved_at=None), name="exception_one_open_per_order"
            )
        ]
        indexes = [
            models.Index(
                fields=["shop", "-updated_at"],
                name="exception_open",
                condition=Q(resolved_at=None),
            )
        ]
        verbose_name = _("allocation exception")
        verbose_name_plural = _("allocation exceptions")

    def __str__(self) -> str:
        return f"{self.order_id} {self.code}"
