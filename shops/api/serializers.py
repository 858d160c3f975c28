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
        fields = ["id", "order_no", "status", "paid_at", "created_at", "items", "receiver"]


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
