from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from shops.api.serializers import (
    FullReceiverSerializer,
    MaskedReceiverSerializer,
    ReceiverInputSerializer,
)
from waybill_console import inputs
from waybill_console.schema import NULLABLE_ERROR, ErrorSerializer
from waybills.models import AllocationException, TrackingStatus, Violation, Waybill, WaybillStatus


class PlaceSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class WaybillSerializer(serializers.ModelSerializer):
    carrier = serializers.CharField(source="carrier.code")
    branch = serializers.CharField(source="branch.code")
    subscription = serializers.IntegerField(source="subscription_id")
    order = serializers.IntegerField(source="order_id_display", allow_null=True)  # factory: null
    order_no = serializers.CharField(source="order_no_display")  # masked for a factory
    parent_waybill_no = serializers.SerializerMethodField()
    package_center = serializers.SerializerMethodField()
    short_address = serializers.SerializerMethodField()
    receiver = serializers.SerializerMethodField()
    services = serializers.SerializerMethodField()
    items = serializers.SerializerMethodField()

    class Meta:
        model = Waybill
        fields = [
            "waybill_no",
            "carrier",
            "branch",
            "subscription",
            "order",
            "order_no",
            "package_no",
            "parent_waybill_no",
            "status",
            "has_tracking",
            "sort_code",
            "package_center",
            "short_address",
            "services",
            "receiver",
            "weight_grams",
            "items",
            "print_count",
            "allocated_at",
            "cancelled_at",
            "recycled_at",
            "picked_up_at",
        ]

    def get_parent_waybill_no(self, obj) -> str | None:
        return obj.parent.waybill_no if obj.parent_id else None

    @extend_schema_field(PlaceSerializer)
    def get_package_center(self, obj) -> dict:
        return {"code": obj.package_center_code, "name": obj.package_center_name}

    @extend_schema_field(PlaceSerializer)
    def get_short_address(self, obj) -> dict:
        return {"code": obj.short_address_code, "name": obj.short_address_name}

    def get_services(self, obj) -> list[str]:
        return obj.services

    def get_items(self, obj) -> list[dict]:
        """The items as the shop last set them (free-form objects, kept as sent)."""
        return obj.items

    @extend_schema_field(MaskedReceiverSerializer)
    def get_receiver(self, obj) -> dict:
        return {
            "name": obj.receiver_name_masked,
            "phone": obj.receiver_phone_masked,
            "province": obj.receiver_province,
            "city": obj.receiver_city,
            "district": obj.receiver_district,
            "detail": "****",
        }


class SenderSerializer(FullReceiverSerializer):
    """The sender snapshot taken at allocation (the shipping address): a person and a full
    address, as a receiver's."""


class PrintDataPackageSerializer(serializers.Serializer):
    no = serializers.IntegerField()
    count = serializers.IntegerField()


class PrintDataReceiverSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="masked")
    phone = serializers.CharField(help_text="masked")
    address = serializers.CharField(help_text="masked below the district")


class PrintDataSerializer(serializers.Serializer):
    """What :func:`print_data` answers (documentation of the hand-built dict)."""

    waybill_no = serializers.CharField()
    carrier = serializers.CharField()
    sort_code = serializers.CharField()
    package_center = PlaceSerializer()
    short_address = PlaceSerializer()
    package = PrintDataPackageSerializer()
    services = serializers.ListField(child=serializers.CharField())
    sender = SenderSerializer()
    receiver = PrintDataReceiverSerializer()


class WaybillPackageSerializer(serializers.Serializer):
    package_no = serializers.IntegerField()
    waybill_no = serializers.CharField()


class WaybillAllocationSerializer(WaybillSerializer):
    """The answer to 取号 (:func:`allocation_body`, built by hand on the hot path): the
    parent number's fields, whether it was drawn now (201) or already the order's (200),
    the label's print data and every package (子母件)."""

    created = serializers.BooleanField()
    print_data = PrintDataSerializer()
    packages = WaybillPackageSerializer(many=True)

    class Meta(WaybillSerializer.Meta):
        fields = [*WaybillSerializer.Meta.fields, "created", "print_data", "packages"]


class WaybillPackagesSerializer(serializers.Serializer):
    packages = WaybillPackageSerializer(many=True)


class ScreenResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    sort_code = serializers.CharField()
    package_center = PlaceSerializer()
    short_address = PlaceSerializer()


class UsageDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    allocated = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    recycled = serializers.IntegerField()


class UsageDailySerializer(serializers.Serializer):
    subscription = serializers.IntegerField()
    days = UsageDaySerializer(many=True)


class ExceptionRetryResultSerializer(serializers.Serializer):
    exception = serializers.IntegerField()
    order = serializers.IntegerField()
    ok = serializers.BooleanField()
    waybill_no = serializers.CharField(required=False, help_text="when ok")
    error = ErrorSerializer(required=False, help_text="when not ok")


class ExceptionRetryResultsSerializer(serializers.Serializer):
    results = ExceptionRetryResultSerializer(many=True)


class TrackingEventRecordedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    waybill_no = serializers.CharField()
    status = serializers.ChoiceField(choices=TrackingStatus.choices)


class OrderShipResultSerializer(serializers.Serializer):
    order = serializers.IntegerField()
    ok = serializers.BooleanField()
    waybill_no = serializers.CharField(
        required=False, help_text="when ok and shipped with a platform waybill"
    )
    error = ErrorSerializer(required=False, help_text="when not ok")


class OrderBatchShipResponseSerializer(serializers.Serializer):
    results = OrderShipResultSerializer(many=True)


class WaybillBulkResultSerializer(serializers.Serializer):
    """One order's result in a synchronous 取号 of many (``POST waybills/bulk/``)."""

    order = serializers.IntegerField()
    ok = serializers.BooleanField()
    waybill_no = serializers.CharField(required=False, help_text="when ok")
    sort_code = serializers.CharField(required=False, help_text="when ok")
    created = serializers.BooleanField(
        required=False,
        help_text="when ok: drawn by this request (true) or already the order's (false)",
    )
    error = ErrorSerializer(required=False, help_text="when not ok")


class WaybillBulkResultsSerializer(serializers.Serializer):
    results = WaybillBulkResultSerializer(many=True, help_text="one per order, in request order")


def print_data(waybill: Waybill, packages: int) -> dict:
    """What a label needs, consumer data masked (labels render through the audited path)."""
    return {
        "waybill_no": waybill.waybill_no,
        "carrier": waybill.carrier.code,
        "sort_code": waybill.sort_code,
        "package_center": {
            "code": waybill.package_center_code,
            "name": waybill.package_center_name,
        },
        "short_address": {"code": waybill.short_address_code, "name": waybill.short_address_name},
        "package": {"no": waybill.package_no, "count": packages},
        "services": waybill.services,
        "sender": waybill.sender,
        "receiver": {
            "name": waybill.receiver_name_masked,
            "phone": waybill.receiver_phone_masked,
            "address": f"{waybill.receiver_province}{waybill.receiver_city}"
            f"{waybill.receiver_district}****",
        },
    }


def _when(value):
    return value.isoformat() if value else None


def allocation_body(allocation) -> dict:
    """The answer to 取号: the parent number and, for 子母件, every package.

    The same fields as :class:`WaybillSerializer`, built by hand: this is the hot path."""
    w = allocation.parent
    receiver = {
        "name": w.receiver_name_masked,
        "phone": w.receiver_phone_masked,
        "province": w.receiver_province,
        "city": w.receiver_city,
        "district": w.receiver_district,
        "detail": "****",
    }
    return {
        "waybill_no": w.waybill_no,
        "carrier": w.carrier.code,
        "branch": w.branch.code,
        "subscription": w.subscription_id,
        "order": w.order_id_display,
        "order_no": w.order_no_display,
        "package_no": w.package_no,
        "parent_waybill_no": None,
        "status": w.status,
        "has_tracking": w.has_tracking,
        "sort_code": w.sort_code,
        "package_center": {"code": w.package_center_code, "name": w.package_center_name},
        "short_address": {"code": w.short_address_code, "name": w.short_address_name},
        "services": w.services,
        "receiver": receiver,
        "weight_grams": w.weight_grams,
        "items": w.items,
        "print_count": w.print_count,
        "allocated_at": _when(w.allocated_at),
        "cancelled_at": _when(w.cancelled_at),
        "recycled_at": _when(w.recycled_at),
        "picked_up_at": _when(w.picked_up_at),
        "created": allocation.created,
        "print_data": print_data(w, len(allocation.waybills)),
        "packages": [
            {"package_no": p.package_no, "waybill_no": p.waybill_no} for p in allocation.waybills
        ],
    }


class AllocateSerializer(serializers.Serializer):
    order = serializers.IntegerField()
    subscription = serializers.IntegerField(required=False, allow_null=True)
    carrier = serializers.CharField(required=False, allow_blank=True)
    package_count = serializers.IntegerField(required=False, default=1)
    services = serializers.ListField(child=serializers.CharField(), required=False)
    weight_grams = serializers.IntegerField(required=False, allow_null=True)


_WHOLE_NUMBER_FIELDS = frozenset({"order", "subscription", "package_count", "weight_grams"})
_NULLABLE_FIELDS = frozenset({"subscription", "weight_grams"})


def allocate_input(data) -> dict:
    """The validated input of 取号. A JSON object of whole numbers alone (the usual request,
    ``{"order": 1, "subscription": 2}``) is already what :class:`AllocateSerializer` would
    return, so it is taken as it is (with the same default) without building the
    serializer's fields on every request; anything else goes through the serializer, with
    its coercions and its errors."""
    if (
        type(data) is dict
        and "order" in data
        and data.keys() <= _WHOLE_NUMBER_FIELDS
        and all(type(v) is int or (v is None and k in _NULLABLE_FIELDS) for k, v in data.items())
    ):
        return {"package_count": 1, **data}
    ser = AllocateSerializer(data=data)
    ser.is_valid(raise_exception=True)
    return ser.validated_data


class BatchAllocateSerializer(serializers.Serializer):
    orders = serializers.ListField(child=serializers.IntegerField(), allow_empty=False)
    subscription = serializers.IntegerField(required=False, allow_null=True)
    carrier = serializers.CharField(required=False, allow_blank=True)


#: orders in one synchronous 取号 request (waybills/bulk/); more go to the batch job
BULK_LIMIT = 50


class BulkAllocateSerializer(serializers.Serializer):
    orders = serializers.ListField(
        child=serializers.IntegerField(),
        allow_empty=False,
        max_length=BULK_LIMIT,
        help_text=f"1 to {BULK_LIMIT} order ids of this shop; a repeated id counts once",
    )
    subscription = serializers.IntegerField(required=False, allow_null=True)
    carrier = serializers.CharField(required=False, allow_blank=True)


class ScreenSerializer(serializers.Serializer):
    subscription = serializers.IntegerField()
    receiver = ReceiverInputSerializer()
    services = serializers.ListField(child=serializers.CharField(), required=False)


class WaybillUpdateSerializer(serializers.Serializer):
    receiver = ReceiverInputSerializer(required=False)
    weight_grams = serializers.IntegerField(required=False, min_value=1)
    items = serializers.ListField(child=serializers.DictField(), required=False)


class AppendSerializer(serializers.Serializer):
    count = serializers.IntegerField(min_value=1, max_value=20, default=1)


class WaybillCancelSerializer(serializers.Serializer):
    whole_order = serializers.BooleanField(
        required=False,
        default=False,
        help_text=(
            "Where the carrier cancels a whole order at once (SF: every number of a 子母件), "
            "cancel all live numbers of this number's order together; without it such a "
            "cancel is refused with CANCEL_WHOLE_ORDER_ONLY. Other carriers: no effect."
        ),
    )


class TrackingEventSerializer(serializers.Serializer):
    waybill_no = serializers.CharField(max_length=40)
    occurred_at = inputs.DateTimeField()
    status = serializers.ChoiceField(choices=TrackingStatus.choices)
    description = serializers.CharField(required=False, allow_blank=True, max_length=200)
    location = serializers.CharField(required=False, allow_blank=True, max_length=80)


class ExceptionSerializer(serializers.ModelSerializer):
    order_no = serializers.CharField(source="order.order_no")
    detail = serializers.SerializerMethodField()

    class Meta:
        model = AllocationException
        fields = [
            "id",
            "order",
            "order_no",
            "subscription",
            "carrier_code",
            "code",
            "message",
            "detail",
            "attempts",
            "created_at",
            "updated_at",
            "resolved_at",
        ]

    def get_detail(self, obj) -> dict:
        """The refusal's parameters, as the error object's ``detail``."""
        return obj.detail


class ViolationSerializer(serializers.ModelSerializer):
    """违规记录: a recycled number that later showed tracking, and the count taken again."""

    waybill_no = serializers.CharField(source="waybill.waybill_no")
    carrier = serializers.CharField(source="subscription.carrier.code")
    carrier_name = serializers.CharField(source="subscription.carrier.name")
    branch_name = serializers.CharField(source="subscription.branch.name")
    recycled_at = serializers.DateTimeField(source="waybill.recycled_at", allow_null=True)
    tracked_at = serializers.DateTimeField(source="waybill.first_tracked_at", allow_null=True)
    deducted = serializers.IntegerField(
        help_text="The count deducted again: 1 once settled, 0 while owed (empty balance)."
    )

    class Meta:
        model = Violation
        fields = [
            "id",
            "waybill_no",
            "subscription",
            "carrier",
            "carrier_name",
            "branch_name",
            "recycled_at",
            "tracked_at",
            "detected_at",
            "deducted",
            "deducted_at",
            "note",
        ]


class ShipSerializer(serializers.Serializer):
    waybill_no = serializers.CharField(required=False, allow_blank=True)
    carrier = serializers.CharField(required=False, allow_blank=True)
    tracking_no = serializers.CharField(required=False, allow_blank=True)
    return_address = serializers.IntegerField(required=False, allow_null=True)


class BatchShipEntrySerializer(serializers.Serializer):
    order = serializers.IntegerField()
    waybill_no = serializers.CharField(required=False, allow_blank=True)
    carrier = serializers.CharField(required=False, allow_blank=True)
    tracking_no = serializers.CharField(required=False, allow_blank=True)


class BatchShipSerializer(serializers.Serializer):
    orders = BatchShipEntrySerializer(many=True)
    return_address = serializers.IntegerField(required=False, allow_null=True)


class ReconciliationSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["csv", "xlsx"], default="csv")
    conditions = serializers.DictField(required=False, default=dict)


class ReconciliationConditionsSerializer(serializers.Serializer):
    """The usage-details filters a statement was asked for (only those given)."""

    _from = serializers.DateField(required=False)
    to = serializers.DateField(required=False)
    days = serializers.IntegerField(required=False)
    carrier = serializers.CharField(required=False)
    branch = serializers.CharField(required=False)
    subscription = serializers.IntegerField(required=False)
    status = serializers.ChoiceField(choices=WaybillStatus.choices, required=False)
    order = serializers.CharField(required=False)
    waybill_no = serializers.CharField(required=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("_from")  # a Python keyword
        return fields


class ReconciliationStatusSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.SerializerMethodField()
    progress = serializers.IntegerField(source="percent")
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    conditions = serializers.SerializerMethodField()
    format = serializers.SerializerMethodField()
    file_name = serializers.CharField()
    error = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_status(self, job) -> str:
        from waybills.services.jobs import RECONCILIATION_STATUS

        return RECONCILIATION_STATUS[job.status]

    @extend_schema_field(ReconciliationConditionsSerializer)
    def get_conditions(self, job) -> dict:
        return job.params.get("filters", {})

    @extend_schema_field(NULLABLE_ERROR)
    def get_error(self, job) -> dict | None:
        return job.error

    def get_format(self, job) -> str:
        return job.params.get("format", "csv")
