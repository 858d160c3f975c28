from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from shops.models import Order, OrderItem, OrderStatus, ShopType
from waybill_console import inputs
from waybill_console.models import Job
from waybill_console.schema import NULLABLE_ERROR, ErrorSerializer


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
            "promised_ship_at",
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
    paid_at = inputs.DateTimeField(required=False, allow_null=True)
    promised_ship_at = inputs.DateTimeField(
        required=False,
        allow_null=True,
        help_text="pre-sale (预售) ship date, at most 90 days ahead: the deadlines count from "
        "it instead of the payment when it is later",
    )
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
    shop_type = serializers.ChoiceField(choices=ShopType.choices)
    shop_type_label = serializers.CharField(help_text="The shop type in the request's language.")
    permissions = serializers.ListField(child=serializers.CharField())


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class ChangeAddressSerializer(serializers.Serializer):
    receiver = ReceiverInputSerializer()


class PaySerializer(serializers.Serializer):
    paid_at = inputs.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="when the buyer paid; default now; not in the future, not before the order",
    )


class RerouteSerializer(serializers.Serializer):
    receiver = ReceiverInputSerializer(help_text="the new receiver")
    postcode = serializers.CharField(max_length=10, help_text="6 digits")


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
    orders = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=15_000,
        help_text="order ids: export exactly these (the filters are then not used)",
    )


class JobItemResultSerializer(serializers.Serializer):
    """One order of a batch allocation job."""

    order = serializers.IntegerField()
    ok = serializers.BooleanField()
    waybill_no = serializers.CharField(required=False, help_text="when ok")
    sort_code = serializers.CharField(required=False, help_text="when ok")
    created = serializers.BooleanField(required=False, help_text="when ok")
    error = ErrorSerializer(required=False, help_text="when not ok")


class JobResultSerializer(serializers.Serializer):
    """What a job left, by kind (empty while it runs, but for a batch's results so far):
    an export or a statement its ``rows`` and ``file_name``; a batch allocation one
    ``results`` entry per order with the ``ok`` and ``failed`` counts; a dropship
    statement also its ``total`` and ``missing_prices``."""

    rows = serializers.IntegerField(required=False)
    file_name = serializers.CharField(required=False)
    results = JobItemResultSerializer(many=True, required=False)
    ok = serializers.IntegerField(required=False, help_text="orders that got their number")
    failed = serializers.IntegerField(required=False)
    total = serializers.CharField(required=False, help_text="settlement amount, 2 decimals")
    missing_prices = serializers.IntegerField(required=False)


class JobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.ChoiceField(choices=Job.Status.choices)
    progress = serializers.IntegerField(source="percent")
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    result = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    file_name = serializers.CharField()

    @extend_schema_field(JobResultSerializer)
    def get_result(self, job) -> dict:
        return job.result

    @extend_schema_field(NULLABLE_ERROR)
    def get_error(self, job) -> dict | None:
        return job.error


class OrderImportSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="CSV (UTF-8 or GB18030) or XLSX, at most 10 MB and 10,000 lines; the "
        "columns of the import template (Chinese titles or the API's field names)."
    )


class OrderImportResultSerializer(serializers.Serializer):
    orders = serializers.IntegerField(help_text="orders created")
    items = serializers.IntegerField(help_text="order items created")
