"""Label templates and labels in the API.

Input serializers only coerce types (form bodies, booleans); the rules (carrier sizes, the
custom area, names) are the services', whose errors name the field: ``custom_fields[2]``.
"""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from printing import layout as L
from printing.models import LabelTemplate
from printing.renderers import FORMATS
from printing.services import DPIS
from waybill_console import parsers
from waybill_console.errors import ValidationError


class CustomFieldSerializer(serializers.Serializer):
    """One field of the custom area; millimetres from the custom box's top-left corner."""

    key = serializers.ChoiceField(choices=L.CUSTOM_FIELDS)
    x = serializers.FloatField()
    y = serializers.FloatField()
    w = serializers.FloatField()
    h = serializers.FloatField()
    font_size = serializers.FloatField(help_text="points, 6 to 36 (0 for qr_code)")
    bold = serializers.BooleanField(required=False, default=False)


class BoxSerializer(serializers.Serializer):
    x = serializers.FloatField()
    y = serializers.FloatField()
    w = serializers.FloatField()
    h = serializers.FloatField()


class LabelTemplateSerializer(serializers.ModelSerializer):
    carrier = serializers.CharField(source="carrier.code")
    carrier_name = serializers.CharField(source="carrier.name")
    custom_fields = CustomFieldSerializer(many=True)
    width_mm = serializers.SerializerMethodField()
    height_mm = serializers.SerializerMethodField()
    custom_box = serializers.SerializerMethodField()
    preview_url = serializers.SerializerMethodField()

    class Meta:
        model = LabelTemplate
        fields = [
            "id",
            "carrier",
            "carrier_name",
            "size",
            "name",
            "width_mm",
            "height_mm",
            "custom_box",
            "custom_fields",
            "free_text",
            "watermark",
            "grayscale",
            "privacy",
            "is_default",
            "preview_url",
            "created_at",
            "updated_at",
        ]

    def get_width_mm(self, obj) -> int:
        return L.SIZES[obj.size][0]

    def get_height_mm(self, obj) -> int:
        return L.SIZES[obj.size][1]

    @staticmethod
    def _box(obj) -> dict:
        x, y, w, h = L.build_layout(obj.size, []).custom_box
        return {"x": round(x, 2), "y": round(y, 2), "w": round(w, 2), "h": round(h, 2)}

    def get_custom_box(self, obj) -> BoxSerializer:
        return self._box(obj)

    def get_preview_url(self, obj) -> str:
        return reverse("api-label-template-preview", args=[obj.pk])


class LabelTemplateWriteSerializer(serializers.Serializer):
    """Create (carrier, size and name needed) or change (any subset) a template."""

    carrier = serializers.CharField(required=False, allow_blank=True, help_text="e.g. ZTO")
    size = serializers.CharField(required=False, allow_blank=True, help_text="e.g. 100x150")
    name = serializers.CharField(required=False, allow_blank=True)
    custom_fields = serializers.JSONField(
        required=False, help_text="the whole custom area: a list of fields (see custom_fields)"
    )
    free_text = serializers.CharField(required=False, allow_blank=True)
    watermark = serializers.CharField(required=False, allow_blank=True)
    grayscale = serializers.BooleanField(required=False)
    privacy = serializers.BooleanField(
        required=False,
        help_text="隐私面单: the receiver's name and phone print masked (the address in full); "
        "true when a template is created without it",
    )
    is_default = serializers.BooleanField(required=False)

    def __init__(self, *args, **kwargs):
        kwargs["partial"] = True  # absent booleans of a form body stay absent
        super().__init__(*args, **kwargs)

    def validate_custom_fields(self, value):
        if isinstance(value, str):
            try:
                value = parsers.loads(value)
            except ValueError:
                raise serializers.ValidationError("A JSON list of fields.") from None
        return value


class LabelQuerySerializer(serializers.Serializer):
    """``?format=`` names the label's output here (not the API's renderer)."""

    format = serializers.ChoiceField(choices=FORMATS, required=False, default="pdf")
    template = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    dpi = serializers.ChoiceField(choices=DPIS, required=False, default=203)
    carrier = serializers.CharField(required=False, allow_blank=True)


def dpi_param(value: str | None) -> int:
    """``?dpi=`` of a preview: 203 (default) or 300, else a 400 naming ``dpi``."""
    if value in (None, ""):
        return 203
    try:
        dpi = int(value)
    except (TypeError, ValueError):
        dpi = 0
    if dpi not in DPIS:
        raise ValidationError.for_fields(dpi="203 or 300.")
    return dpi
