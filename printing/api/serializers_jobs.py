"""Printers, print agents and print jobs on the API (input is checked by the services, the
same rules the pages use; the write serializers document the fields)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from printing.models import Connection, PrintAgent, PrintAttempt, PrintDocument, Printer, PrintJob
from printing.models import PrinterKind as Kind
from waybill_console.schema import NULLABLE_ERROR


def usb_hex(value: int | None) -> str | None:
    return f"{value:04x}" if value else None


class PrinterSerializer(serializers.ModelSerializer):
    usb_vendor_id = serializers.SerializerMethodField()
    usb_product_id = serializers.SerializerMethodField()
    agent = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    agent_name = serializers.CharField(
        source="agent.name", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = Printer
        fields = [
            "id",
            "name",
            "kind",
            "connection",
            "host",
            "port",
            "usb_vendor_id",
            "usb_product_id",
            "agent",
            "agent_name",
            "agent_target",
            "dpi",
            "offset_x_mm",
            "offset_y_mm",
            "paper_width_mm",
            "paper_height_mm",
            "grayscale",
            "is_default",
            "created_at",
        ]

    def get_usb_vendor_id(self, obj) -> str | None:
        return usb_hex(obj.usb_vendor_id)

    def get_usb_product_id(self, obj) -> str | None:
        return usb_hex(obj.usb_product_id)


@extend_schema_serializer(component_name="Printer")  # PrinterRequest: one "kind" enum
class PrinterWriteSerializer(serializers.Serializer):
    """``network`` needs ``host`` (and ``port``, 9100 by default); ``usb`` the vendor and
    product ids (hex strings such as ``"0416"``); ``agent`` an ``agent`` id and the
    ``agent_target`` on its PC: ``tcp://host:9100``, ``usb://VID:PID`` or
    ``win://Printer Name``."""

    name = serializers.CharField(max_length=40)
    kind = serializers.ChoiceField(choices=Kind.choices)
    connection = serializers.ChoiceField(choices=Connection.choices)
    host = serializers.CharField(required=False, allow_blank=True)
    port = serializers.IntegerField(required=False, min_value=1, max_value=65535)
    usb_vendor_id = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    usb_product_id = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    agent = serializers.IntegerField(required=False, allow_null=True)
    agent_target = serializers.CharField(required=False, allow_blank=True)
    dpi = serializers.ChoiceField(choices=[203, 300], required=False)
    offset_x_mm = serializers.DecimalField(max_digits=4, decimal_places=1, required=False)
    offset_y_mm = serializers.DecimalField(max_digits=4, decimal_places=1, required=False)
    paper_width_mm = serializers.IntegerField(required=False)
    paper_height_mm = serializers.IntegerField(required=False)
    grayscale = serializers.BooleanField(required=False)
    is_default = serializers.BooleanField(required=False)


class PrinterTestSerializer(serializers.Serializer):
    template = serializers.IntegerField(required=False, allow_null=True)


class AgentSerializer(serializers.ModelSerializer):
    class Meta:
        model = PrintAgent
        fields = ["id", "name", "prefix", "last_seen_at", "created_at", "revoked_at"]


class AgentCreatedSerializer(AgentSerializer):
    key = serializers.CharField(help_text="Shown this once; the agent runs with it.")

    class Meta(AgentSerializer.Meta):
        fields = [*AgentSerializer.Meta.fields, "key"]


class AgentCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=40)


class PrintDocumentSerializer(serializers.ModelSerializer):
    # a test page prints no waybill
    waybill_no = serializers.CharField(source="waybill.waybill_no", default=None, allow_null=True)
    carrier = serializers.CharField(source="waybill.carrier.code", default=None, allow_null=True)
    confirmed = serializers.SerializerMethodField()

    class Meta:
        model = PrintDocument
        fields = ["sequence", "waybill_no", "carrier", "is_reprint", "confirmed", "confirmed_at"]

    def get_confirmed(self, obj) -> bool:
        return obj.confirmed_at is not None


class PrintAttemptSerializer(serializers.ModelSerializer):
    documents = serializers.ListField(
        child=serializers.IntegerField(), help_text="sequences of the documents attempted"
    )
    confirmed = serializers.ListField(
        child=serializers.IntegerField(), help_text="sequences the printer confirmed"
    )

    class Meta:
        model = PrintAttempt
        fields = [
            "id",
            "transport",
            "started_at",
            "finished_at",
            "documents",
            "confirmed",
            "bytes_sent",
            "outcome",
            "reason",
        ]


class PrintJobPrinterSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=Kind.choices)


class PrintedCountSerializer(serializers.Serializer):
    confirmed = serializers.IntegerField(help_text="documents the printer confirmed")
    total = serializers.IntegerField()


class PrintJobSerializer(serializers.ModelSerializer):
    printer = serializers.SerializerMethodField()
    template = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    claimed_by = serializers.CharField(source="claimed_by.name", default=None, allow_null=True)
    documents = PrintDocumentSerializer(many=True, read_only=True)
    attempts = PrintAttemptSerializer(many=True, read_only=True)
    printed = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()

    class Meta:
        model = PrintJob
        fields = [
            "id",
            "status",
            "printer",
            "template",
            "is_test",
            "printed",
            "error",
            "created_at",
            "finished_at",
            "claimed_by",
            "claimed_at",
            "documents",
            "attempts",
        ]

    @extend_schema_field(PrintJobPrinterSerializer)
    def get_printer(self, obj) -> dict:
        return {"id": obj.printer_id, "name": obj.printer.name, "kind": obj.printer.kind}

    @extend_schema_field(PrintedCountSerializer)
    def get_printed(self, obj) -> dict:
        docs = list(obj.documents.all())
        return {
            "confirmed": sum(1 for d in docs if d.confirmed_at),
            "total": len(docs),
        }

    @extend_schema_field(NULLABLE_ERROR)
    def get_error(self, obj) -> dict | None:
        return obj.error


class PrintJobSummarySerializer(serializers.ModelSerializer):
    status = serializers.CharField(help_text="queued, sending, printed or failed")
    printer = serializers.CharField(source="printer.name")
    documents = serializers.IntegerField(source="document_count")
    confirmed = serializers.IntegerField(source="confirmed_count")
    attempts = serializers.IntegerField(source="attempt_count")
    error = serializers.SerializerMethodField()

    class Meta:
        model = PrintJob
        fields = [
            "id",
            "status",
            "printer",
            "is_test",
            "documents",
            "confirmed",
            "attempts",
            "error",
            "created_at",
            "finished_at",
        ]

    @extend_schema_field(NULLABLE_ERROR)
    def get_error(self, obj) -> dict | None:
        return obj.error


class PrintJobCreateSerializer(serializers.Serializer):
    printer = serializers.IntegerField()
    waybills = serializers.ListField(
        child=serializers.CharField(),
        allow_empty=False,
        help_text="Waybill numbers (at most 50), printed in this order.",
    )
    template = serializers.IntegerField(required=False, allow_null=True)


class AgentDocumentResultSerializer(serializers.Serializer):
    sequence = serializers.IntegerField()
    ok = serializers.BooleanField()
    bytes_sent = serializers.IntegerField(min_value=0)
    error = serializers.DictField(
        required=False,
        allow_null=True,
        help_text='{"kind": "offline|dropped|unconfirmed|failed", "detail", "sent", "total"}',
    )


class AgentResultSerializer(serializers.Serializer):
    attempt = serializers.IntegerField()
    documents = AgentDocumentResultSerializer(many=True)


class AgentResultAnswerSerializer(serializers.Serializer):
    job = serializers.IntegerField()
    status = serializers.ChoiceField(choices=PrintJob.Status.choices)


class AgentJobDocumentSerializer(serializers.Serializer):
    sequence = serializers.IntegerField()
    waybill_no = serializers.CharField()
    is_reprint = serializers.BooleanField()
    size = serializers.IntegerField()
    data = serializers.CharField(help_text="The document's bytes, base64")


class AgentJobPrinterSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    target = serializers.CharField()
    dpi = serializers.IntegerField()


class AgentJobSerializer(serializers.Serializer):
    job = serializers.IntegerField()
    attempt = serializers.IntegerField()
    printer = AgentJobPrinterSerializer()
    documents = AgentJobDocumentSerializer(many=True)
