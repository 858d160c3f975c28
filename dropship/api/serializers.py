"""Shapes of the dropship API (the factory's never carry plaintext consumer data)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dropship.models import Binding, DropshipProfile, Statement
from waybill_console.crypto import mask_code
from waybill_console.schema import ErrorSerializer


class ProfileSerializer(serializers.ModelSerializer):
    shop_no = serializers.CharField(source="shop.shop_no", read_only=True)
    identity_locked = serializers.SerializerMethodField()

    class Meta:
        model = DropshipProfile
        fields = [
            "shop_no",
            "identity",
            "identity_locked",
            "display_name",
            "sender_name",
            "sender_phone",
            "sender_province",
            "sender_city",
            "sender_district",
            "sender_detail",
        ]

    def get_identity_locked(self, obj) -> bool:
        from dropship.services.identity import identity_locked

        return identity_locked(obj.shop)


class ProfileWriteSerializer(serializers.Serializer):
    identity = serializers.ChoiceField(choices=DropshipProfile.Identity.choices, required=False)
    display_name = serializers.CharField(required=False, allow_blank=True)
    sender_name = serializers.CharField(required=False, allow_blank=True)
    sender_phone = serializers.CharField(required=False, allow_blank=True)
    sender_province = serializers.CharField(required=False, allow_blank=True)
    sender_city = serializers.CharField(required=False, allow_blank=True)
    sender_district = serializers.CharField(required=False, allow_blank=True)
    sender_detail = serializers.CharField(required=False, allow_blank=True)


class MerchantSenderSerializer(serializers.Serializer):
    """The merchant's dropship sender (every field absent while it has no profile)."""

    name = serializers.CharField(required=False)
    phone = serializers.CharField(required=False)
    province = serializers.CharField(required=False)
    city = serializers.CharField(required=False)
    district = serializers.CharField(required=False)
    detail = serializers.CharField(required=False)


class BindingSerializer(serializers.ModelSerializer):
    """Each side sees the other's shop: the merchant sees the factory's shop number; the
    factory sees the merchant's masked id and dropship name (and its sender details)."""

    factory_shop_no = serializers.SerializerMethodField()
    factory_name = serializers.CharField(source="factory.name", read_only=True)
    merchant = serializers.SerializerMethodField()
    merchant_name = serializers.SerializerMethodField()
    merchant_sender = serializers.SerializerMethodField()

    class Meta:
        model = Binding
        fields = [
            "id",
            "status",
            "factory_shop_no",
            "factory_name",
            "merchant",
            "merchant_name",
            "merchant_sender",
            "requested_at",
            "confirmed_at",
            "ended_at",
            "ended_by",
        ]

    def _viewer_is_factory(self, obj) -> bool:
        return self.context.get("shop_id") == obj.factory_id

    def get_factory_shop_no(self, obj) -> str:
        return obj.factory.shop_no

    def get_merchant(self, obj) -> str:
        no = obj.merchant.shop_no
        return mask_code(no) if self._viewer_is_factory(obj) else no

    def _profile(self, obj):
        return getattr(obj.merchant, "dropship_profile", None)

    def get_merchant_name(self, obj) -> str:
        profile = self._profile(obj)
        return profile.display_name if profile else ""

    @extend_schema_field(MerchantSenderSerializer)
    def get_merchant_sender(self, obj) -> dict:
        # visible to the merchant itself and to its factories, nobody else
        profile = self._profile(obj)
        return profile.sender if profile else {}


class BindingRequestSerializer(serializers.Serializer):
    factory_shop_no = serializers.CharField()


class AllocationRequestSerializer(serializers.Serializer):
    factory = serializers.CharField(help_text="The factory's shop number")
    order_items = serializers.ListField(child=serializers.IntegerField(), required=False)
    orders = serializers.ListField(child=serializers.IntegerField(), required=False)


class AllocationResultSerializer(serializers.Serializer):
    order_item = serializers.IntegerField(required=False, help_text="when items were asked")
    order = serializers.IntegerField(allow_null=True, help_text="null for an unknown item")
    ok = serializers.BooleanField()
    allocation = serializers.IntegerField(required=False, help_text="when ok")
    factory_order = serializers.IntegerField(required=False, help_text="when ok")
    error = ErrorSerializer(required=False, help_text="when not ok")


class AllocationResultsSerializer(serializers.Serializer):
    results = AllocationResultSerializer(many=True)


class AllocationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    order = serializers.IntegerField(source="order_id")
    order_no = serializers.CharField(source="order.order_no")
    order_item = serializers.IntegerField(source="order_item_id")
    sku = serializers.CharField(source="order_item.sku")
    product_name = serializers.CharField(source="order_item.product_name")
    spec = serializers.CharField(source="order_item.spec")
    quantity = serializers.IntegerField(source="order_item.quantity")
    factory = serializers.CharField(source="factory.shop_no")
    factory_order = serializers.IntegerField(source="factory_order_id")
    allocated_at = serializers.DateTimeField()
    cancelled_at = serializers.DateTimeField(allow_null=True)
    cancel_reason = serializers.CharField()
    return_status = serializers.SerializerMethodField()
    carrier = serializers.CharField(source="factory_order.carrier_code")
    tracking_no = serializers.CharField(source="factory_order.tracking_no")
    shipped_at = serializers.DateTimeField(source="factory_order.shipped_at", allow_null=True)

    def get_return_status(self, obj) -> str:
        return "returned" if obj.factory_order.returned_at else "not_returned"


class FactoryOrderItemSerializer(serializers.Serializer):
    allocation = serializers.IntegerField()
    sku = serializers.CharField()
    product_name = serializers.CharField()
    spec = serializers.CharField()
    quantity = serializers.IntegerField()
    status = serializers.CharField()
    settlement_price = serializers.CharField(allow_null=True)


class FactoryOrderSerializer(serializers.Serializer):
    """What a factory sees of a merchant's order (``dropship.selectors.factory_view``)."""

    id = serializers.IntegerField()
    merchant = serializers.CharField(help_text="masked")
    merchant_name = serializers.CharField()
    order_no = serializers.CharField(help_text="masked")
    created_at = serializers.DateTimeField()
    status = serializers.CharField(help_text="allocated / cancelled")
    cancel_reason = serializers.CharField()
    allocated_at = serializers.DateTimeField()
    return_status = serializers.CharField(help_text="returned / not_returned")
    returned_at = serializers.DateTimeField(allow_null=True)
    after_sale_status = serializers.CharField()
    address_changed = serializers.BooleanField()
    receiver_name = serializers.CharField(help_text="masked")
    receiver_phone = serializers.CharField(help_text="masked")
    receiver_address = serializers.CharField(help_text="masked, district level")
    carrier = serializers.CharField()
    waybill_no = serializers.CharField()
    tracking_no = serializers.CharField()
    shipped_at = serializers.DateTimeField(allow_null=True)
    items = FactoryOrderItemSerializer(many=True)


class DrawSerializer(serializers.Serializer):
    subscription = serializers.IntegerField(required=False, allow_null=True)
    carrier = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class ReturnSerializer(serializers.Serializer):
    carrier = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    tracking_no = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class DropshipShipSerializer(serializers.Serializer):
    return_address = serializers.IntegerField(required=False, allow_null=True)


class DropshipBatchShipSerializer(serializers.Serializer):
    factory_orders = serializers.ListField(child=serializers.IntegerField())
    return_address = serializers.IntegerField(required=False, allow_null=True)


class PriceSerializer(serializers.Serializer):
    merchant = serializers.CharField(help_text="the masked merchant id (as the factory sees it)")
    sku = serializers.CharField()
    product_name = serializers.CharField(required=False, allow_blank=True)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)


class PriceSheetSerializer(serializers.Serializer):
    """The whole sheet (not paged): every price, and products handed over without one."""

    count = serializers.IntegerField()
    results = PriceSerializer(many=True)


class PricesWriteSerializer(serializers.Serializer):
    prices = PriceSerializer(many=True)


class StatementResultSerializer(serializers.Serializer):
    """A generated statement, for the side that asked for it (else empty)."""

    rows = serializers.IntegerField(required=False)
    missing_prices = serializers.IntegerField(required=False)
    total = serializers.CharField(required=False, help_text="settlement amount, 2 decimals")
    file_name = serializers.CharField(required=False)


class StatementSerializer(serializers.ModelSerializer):
    merchant = serializers.SerializerMethodField()
    factory = serializers.CharField(source="factory.shop_no")
    status = serializers.SerializerMethodField()
    requested_here = serializers.SerializerMethodField()
    result = serializers.SerializerMethodField()

    class Meta:
        model = Statement
        fields = [
            "id",
            "merchant",
            "factory",
            "date_from",
            "date_to",
            "file_format",
            "status",
            "requested_here",
            "result",
            "created_at",
        ]

    def get_merchant(self, obj) -> str:
        no = obj.merchant.shop_no
        return mask_code(no) if self.context.get("shop_id") == obj.factory_id else no

    def get_status(self, obj) -> str:
        from waybills.services.jobs import RECONCILIATION_STATUS

        return RECONCILIATION_STATUS.get(obj.job.status, "failed") if obj.job else "failed"

    def get_requested_here(self, obj) -> bool:
        return obj.requested_by_id == self.context.get("shop_id")

    @extend_schema_field(StatementResultSerializer)
    def get_result(self, obj) -> dict:
        if not obj.job or obj.requested_by_id != self.context.get("shop_id"):
            return {}
        return obj.job.result or {}


class StatementRequestSerializer(serializers.Serializer):
    factory = serializers.CharField(required=False, help_text="merchant side: factory shop no")
    merchant = serializers.CharField(required=False, help_text="factory side: masked merchant id")
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    format = serializers.ChoiceField(choices=["csv", "xlsx"], default="csv")


class BatchShipResultSerializer(serializers.Serializer):
    factory_order = serializers.IntegerField()
    ok = serializers.BooleanField()
    tracking_no = serializers.CharField(required=False, help_text="when ok")
    error = ErrorSerializer(required=False, help_text="when not ok")


class BatchShipResponseSerializer(serializers.Serializer):
    results = BatchShipResultSerializer(many=True)


class MerchantShipmentSerializer(serializers.Serializer):
    """What the merchant sees when it ships a dropship order itself."""

    id = serializers.IntegerField()
    order = serializers.IntegerField()
    carrier = serializers.CharField()
    tracking_no = serializers.CharField()
    shipped_at = serializers.DateTimeField(allow_null=True)
    shipped_by = serializers.CharField(help_text="merchant / factory")
