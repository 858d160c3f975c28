from rest_framework import serializers

from shops.models import Order, OrderItem, OrderStatus


class OrderItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderItem
        fields = ["id", "sku", "product_name", "spec", "quantity", "unit_price"]
        read_only_fields = ["id"]


class MaskedReceiverSerializer(serializers.Serializer):
    name = serializers.CharField(source="receiver_name_masked")
    phone = serializers.CharField(source="receiver_phone_masked")
    province = serializers.CharField(source="receiver_province")
    city = serializers.CharField(source="receiver_city")
    district = serializers.CharField(source="receiver_district")
    detail = serializers.SerializerMethodField()

    def get_detail(self, obj) -> str:
        return "****"


class OrderSerializer(serializers.ModelSerializer):
    items = OrderItemSerializer(many=True, read_only=True)
    receiver = MaskedReceiverSerializer(source="*", read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "order_no",
            "status",
            "paid_at",
            "created_at",
            "items",
            "receiver",
            "after_sale_status",
            "cancel_request_status",
            "address_changed_at",
            "carrier_code",
            "tracking_no",
            "sla_due_at",
            "has_waybill",
            "is_dropship",
        ]


class ReceiverInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=60)
    phone = serializers.CharField(max_length=20)
    province = serializers.CharField(max_length=20)
    city = serializers.CharField(max_length=30)
    district = serializers.CharField(max_length=30, required=False, allow_blank=True)
    detail = serializers.CharField(max_length=200)


class OrderCreateSerializer(serializers.Serializer):
    order_no = serializers.CharField(max_length=64)
    status = serializers.ChoiceField(
        choices=[OrderStatus.UNPAID, OrderStatus.PAID], default=OrderStatus.PAID
    )
    paid_at = serializers.DateTimeField(required=False, allow_null=True)
    items = OrderItemSerializer(many=True)
    receiver = ReceiverInputSerializer()


class FullReceiverSerializer(serializers.Serializer):
    name = serializers.CharField()
    phone = serializers.CharField()
    province = serializers.CharField()
    city = serializers.CharField()
    district = serializers.CharField()
    detail = serializers.CharField()


class MeSerializer(serializers.Serializer):
    shop_no = serializers.CharField()
    shop_name = serializers.CharField()
    permissions = serializers.ListField(child=serializers.CharField())


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class ChangeAddressSerializer(serializers.Serializer):
    receiver = ReceiverInputSerializer()


class AddressSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    contact_name = serializers.CharField(max_length=40)
    phone = serializers.CharField(max_length=20)
    province = serializers.CharField(max_length=20)
    city = serializers.CharField(max_length=30)
    district = serializers.CharField(max_length=30, required=False, allow_blank=True)
    street = serializers.CharField(max_length=40, required=False, allow_blank=True)
    detail = serializers.CharField(max_length=120)
    province_code = serializers.CharField(read_only=True)
    city_code = serializers.CharField(read_only=True)
    district_code = serializers.CharField(read_only=True)
    is_default_sender = serializers.BooleanField(required=False)
    is_default_return = serializers.BooleanField(required=False)


class ExportSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["csv", "xlsx"], default="csv")
    filters = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )


class JobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    progress = serializers.IntegerField(source="percent")
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    result = serializers.JSONField()
    error = serializers.JSONField()
    file_name = serializers.CharField()
