"""Dropship (代发管理): who is a merchant or a factory, their bindings, which order items a
merchant handed to which factory, what the factory returned, its prices and statements.

A merchant's order stays the merchant's: the factory sees it only through a
:class:`FactoryOrder` (one per order and factory), which carries the factory's items of
that order (:class:`Allocation`, one per order item) and, once it printed, the number it
drew from its **own** e-waybill subscription (its account is charged; the
:class:`waybills.models.Waybill` row belongs to the factory's shop).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class DropshipProfile(models.Model):
    """The shop's dropship identity; a merchant's dropship name and sender, which only its
    bound factories see (they may print them on the label)."""

    class Identity(models.TextChoices):
        MERCHANT = "merchant", _("Merchant (分销商)")
        FACTORY = "factory", _("Factory (厂家)")

    shop = models.OneToOneField(
        "shops.Shop",
        on_delete=models.CASCADE,
        related_name="dropship_profile",
        verbose_name=_("shop"),
    )
    identity = models.CharField(
        _("dropship identity"), max_length=10, choices=Identity.choices, default=Identity.MERCHANT
    )
    display_name = models.CharField(_("dropship shop name"), max_length=60, blank=True)
    sender_name = models.CharField(_("sender"), max_length=40, blank=True)
    sender_phone = models.CharField(_("sender phone"), max_length=20, blank=True)
    sender_province = models.CharField(_("province"), max_length=20, blank=True)
    sender_city = models.CharField(_("city"), max_length=30, blank=True)
    sender_district = models.CharField(_("district"), max_length=30, blank=True)
    sender_detail = models.CharField(_("street address"), max_length=120, blank=True)
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("dropship profile")
        verbose_name_plural = _("dropship profiles")

    def __str__(self) -> str:
        return f"{self.shop.shop_no} · {self.get_identity_display()}"

    @property
    def sender(self) -> dict:
        """The sender snapshot a factory's label carries (the waybill's ``sender`` shape)."""
        return {
            "name": self.sender_name,
            "phone": self.sender_phone,
            "province": self.sender_province,
            "city": self.sender_city,
            "district": self.sender_district,
            "detail": self.sender_detail,
        }


class BindingStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting the factory")
    ACTIVE = "active", _("Bound")
    REJECTED = "rejected", _("Rejected")
    UNBOUND = "unbound", _("Unbound")


#: statuses in which a pair of shops may not open a second binding
OPEN_BINDING = (BindingStatus.PENDING, BindingStatus.ACTIVE)


class Binding(models.Model):
    """A merchant's request to work with a factory, and the relationship once confirmed.

    Orders the merchant creates after ``confirmed_at`` can be handed to the factory."""

    merchant = models.ForeignKey(
        "shops.Shop",
        on_delete=models.CASCADE,
        related_name="factory_bindings",
        verbose_name=_("merchant"),
    )
    factory = models.ForeignKey(
        "shops.Shop",
        on_delete=models.CASCADE,
        related_name="merchant_bindings",
        verbose_name=_("factory"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=BindingStatus.choices, default=BindingStatus.PENDING
    )
    requested_at = models.DateTimeField(_("requested at"))
    confirmed_at = models.DateTimeField(_("bound at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    ended_by = models.CharField(
        max_length=10, blank=True, verbose_name=_("ended by")
    )  # merchant / factory
    actor = models.CharField(max_length=60, blank=True, verbose_name=_("actor"))

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("binding")
        verbose_name_plural = _("bindings")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "factory"],
                condition=Q(status__in=["pending", "active"]),
                name="binding_one_open_per_pair",
            ),
            models.CheckConstraint(
                condition=~Q(merchant=models.F("factory")), name="binding_not_self"
            ),
        ]
        indexes = [models.Index(fields=["factory", "status"], name="binding_factory_status")]

    def __str__(self) -> str:
        return f"{self.merchant_id} → {self.factory_id} · {self.get_status_display()}"


class FactoryOrder(models.Model):
    """One merchant order as one factory sees it: its items there, what it returned, and
    whether it has shipped. Items of one order at two factories are two rows that ship
    independently."""

    class Status(models.TextChoices):
        ALLOCATED = "allocated", _("Allocated to factory")
        CANCELLED = "cancelled", _("Allocation cancelled")

    merchant = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="+", verbose_name=_("merchant")
    )
    factory = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="+", verbose_name=_("factory")
    )
    order = models.ForeignKey(
        "shops.Order",
        on_delete=models.CASCADE,
        related_name="factory_orders",
        verbose_name=_("order"),
    )
    status = models.CharField(
        _("allocation status"), max_length=10, choices=Status.choices, default=Status.ALLOCATED
    )
    cancel_reason = models.CharField(_("cancel reason"), max_length=20, blank=True)
    allocated_at = models.DateTimeField(_("allocated at"))
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancelled at"))
    # the number drawn from the factory's own subscription (none yet, or an outside number)
    waybill = models.ForeignKey(
        "waybills.Waybill",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("waybill"),
    )
    carrier_code = models.CharField(_("carrier"), max_length=16, blank=True)
    tracking_no = models.CharField(_("tracking number"), max_length=40, blank=True)
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    shipped_by = models.CharField(
        max_length=10, blank=True, verbose_name=_("shipped by")
    )  # merchant / factory
    return_address = models.ForeignKey(
        "shops.Address",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("return address"),
    )

    class Meta:
        ordering = ["-allocated_at", "-id"]
        verbose_name = _("dropship order")
        verbose_name_plural = _("dropship orders")
        constraints = [
            models.UniqueConstraint(fields=["factory", "order"], name="factory_order_unique"),
            models.CheckConstraint(
                condition=Q(returned_at__isnull=True) | ~Q(tracking_no=""),
                name="factory_order_returned_has_number",
            ),
        ]
        indexes = [
            models.Index(fields=["factory", "-allocated_at"], name="factory_order_factory"),
            models.Index(fields=["merchant", "-allocated_at"], name="factory_order_merchant"),
            models.Index(
                fields=["factory", "merchant", "returned_at"],
                name="factory_order_returned",
                condition=Q(returned_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}@{self.factory_id}"

    @property
    def is_returned(self) -> bool:
        return self.returned_at is not None


class Allocation(models.Model):
    """One order item handed to one factory (分配). Cancelled rows stay as history; an item
    has at most one live allocation."""

    class Status(models.TextChoices):
        ALLOCATED = "allocated", _("Allocated to factory")
        CANCELLED = "cancelled", _("Allocation cancelled")

    factory_order = models.ForeignKey(
        FactoryOrder,
        on_delete=models.CASCADE,
        related_name="allocations",
        verbose_name=_("dropship order"),
    )
    merchant = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="+", verbose_name=_("merchant")
    )
    factory = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="+", verbose_name=_("factory")
    )
    order = models.ForeignKey(
        "shops.Order", on_delete=models.CASCADE, related_name="+", verbose_name=_("order")
    )
    order_item = models.ForeignKey(
        "shops.OrderItem",
        on_delete=models.CASCADE,
        related_name="dropship_allocations",
        verbose_name=_("order item"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ALLOCATED
    )
    allocated_at = models.DateTimeField(_("allocated at"))
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancelled at"))
    cancel_reason = models.CharField(_("cancel reason"), max_length=20, blank=True)
    actor = models.CharField(max_length=60, blank=True, verbose_name=_("actor"))

    class Meta:
        ordering = ["-allocated_at", "-id"]
        verbose_name = _("allocation")
        verbose_name_plural = _("allocations")
        constraints = [
            models.UniqueConstraint(
                fields=["order_item"],
                condition=Q(status="allocated"),
                name="allocation_one_live_per_item",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "-allocated_at"], name="allocation_merchant"),
            models.Index(fields=["order", "status"], name="allocation_order_status"),
        ]

    def __str__(self) -> str:
        return f"{self.order_item_id} → {self.factory_id} · {self.get_status_display()}"


class SettlementPrice(models.Model):
    """What the factory charges a merchant per unit of a product (by the merchant's SKU)."""

    factory = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="+", verbose_name=_("factory")
    )
    merchant = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="+", verbose_name=_("merchant")
    )
    sku = models.CharField(_("SKU"), max_length=64)
    product_name = models.CharField(_("product"), max_length=200, blank=True)
    price = models.DecimalField(_("settlement price"), max_digits=12, decimal_places=2)
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        ordering = ["merchant_id", "sku"]
        verbose_name = _("settlement price")
        verbose_name_plural = _("settlement prices")
        constraints = [
            models.UniqueConstraint(
                fields=["factory", "merchant", "sku"], name="settlement_price_unique"
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="settlement_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.sku}: {self.price}"


class Statement(models.Model):
    """A statement (对账单) of one merchant–factory pair over a time range: every order the
    factory returned a number for in it, with its amount. Built by a job."""

    merchant = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="+", verbose_name=_("merchant")
    )
    factory = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="+", verbose_name=_("factory")
    )
    requested_by = models.ForeignKey(
        "shops.Shop", on_delete=models.CASCADE, related_name="+", verbose_name=_("requested by")
    )
    date_from = models.DateField(_("from"))
    date_to = models.DateField(_("to"))
    file_format = models.CharField(_("format"), max_length=4, default="csv")
    job = models.OneToOneField(
        "waybill_console.Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("job"),
    )
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("statement")
        verbose_name_plural = _("statements")
        indexes = [
            models.Index(fields=["merchant", "factory", "-created_at"], name="statement_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id}/{self.factory_id} {self.date_from}–{self.date_to}"
