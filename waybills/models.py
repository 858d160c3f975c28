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
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="waybills")
    subscription = models.ForeignKey(
        "carriers.Subscription", on_delete=models.PROTECT, related_name="waybills"
    )
    carrier = models.ForeignKey("carriers.Carrier", on_delete=models.PROTECT, related_name="+")
    branch = models.ForeignKey("carriers.Branch", on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey("shops.Order", on_delete=models.CASCADE, related_name="waybills")
    package_no = models.PositiveSmallIntegerField(_("package"), default=1)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    waybill_no = models.CharField(_("waybill number"), max_length=40)
    status = models.CharField(
        _("status"), max_length=12, choices=WaybillStatus.choices, default=WaybillStatus.ALLOCATED
    )
    has_tracking = models.BooleanField(_("has tracking"), default=False)

    # what the label needs
    sort_code = models.CharField(_("sort code"), max_length=20)
    package_center_code = models.CharField(max_length=20, blank=True)
    package_center_name = models.CharField(_("package centre"), max_length=40, blank=True)
    short_address_code = models.CharField(max_length=20, blank=True)
    short_address_name = models.CharField(_("short address"), max_length=40, blank=True)
    services = models.JSONField(default=list, blank=True)

    # snapshots at allocation (sender: the shipping address; receiver: ciphertext + masks)
    sender = models.JSONField(default=dict, blank=True)
    receiver_name = EncryptedTextField()
    receiver_phone = EncryptedTextField()
    receiver_detail = EncryptedTextField()
    receiver_name_masked = models.CharField(max_length=40)
    receiver_phone_masked = models.CharField(max_length=20)
    receiver_province = models.CharField(max_length=20)
    receiver_city = models.CharField(max_length=30)
    receiver_district = models.CharField(max_length=30, blank=True)
    weight_grams = models.PositiveIntegerField(_("weight (g)"), null=True, blank=True)
    items = models.JSONField(default=list, blank=True)
    #: when the receiver snapshot last followed the order (a receiver change made on the
    #: waybill, written to both): an order address change after it blocks printing
    receiver_changed_at = models.DateTimeField(null=True, blank=True)

    allocated_at = models.DateTimeField(_("allocated at"), db_index=False)
    last_changed_at = models.DateTimeField(_("last changed at"))
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    recycled_at = models.DateTimeField(_("recycled at"), null=True, blank=True)
    first_tracked_at = models.DateTimeField(null=True, blank=True)
    picked_up_at = models.DateTimeField(null=True, blank=True)
    print_count = models.PositiveIntegerField(_("prints"), default=0)
    actor = models.CharField(max_length=60, blank=True)
    #: the id the carrier knows this package by (its reservation's): cancels and queries
    carrier_order_id = models.CharField(max_length=40, blank=True, default="")
    #: what the carrier returned for the label beyond the routing (e.g. SF's 丰密 QR)
    print_data = models.JSONField(default=dict, blank=True)

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
    waybill = models.ForeignKey(Waybill, on_delete=models.CASCADE, related_name="tracking")
    occurred_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=TrackingStatus.choices)
    description = models.CharField(max_length=200, blank=True)
    location = models.CharField(max_length=80, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["waybill", "-occurred_at"])]

    def __str__(self) -> str:
        return f"{self.waybill_id} {self.status} {self.occurred_at:%Y-%m-%d %H:%M}"


#: the count a violation takes again from the balance (one number came back when recycled)
REDEDUCTION_COUNT = 1


class Violation(models.Model):
    """A recycled number that later showed tracking: its count is deducted again.

    When the balance cannot cover the deduction it is owed (``deducted_at`` empty) and the
    recycling sweep settles it as soon as the balance allows."""

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey(
        "carriers.Subscription", on_delete=models.PROTECT, related_name="violations"
    )
    waybill = models.OneToOneField(Waybill, on_delete=models.CASCADE, related_name="violation")
    detected_at = models.DateTimeField()
    deducted_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        indexes = [
            models.Index(
                fields=["subscription"], name="violation_owed", condition=Q(deducted_at=None)
            )
        ]

    def __str__(self) -> str:
        return f"violation {self.waybill_id}"


class AllocationException(models.Model):
    """面单异常: the last failed allocation of an order, kept until a retry succeeds."""

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey("shops.Order", on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey(
        "carriers.Subscription", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    carrier_code = models.CharField(max_length=16, blank=True)
    package_count = models.PositiveSmallIntegerField(default=1)
    code = models.CharField(max_length=40)
    message = models.CharField(max_length=200)
    detail = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

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

    def __str__(self) -> str:
        return f"{self.order_id} {self.code}"
