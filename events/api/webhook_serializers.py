"""What ``/api/v1/webhooks/`` reads and answers.

An endpoint's event types are ``events`` (shared/API.md) and, by their model's name,
``event_types``: both are answered, either is read (an empty list: every type).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from events.models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint
from events.types import TYPES

EVENT_TYPES_HELP = "Event type names (GET /api/v1/webhooks/event-types/); empty: every type."


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        source="event_types", child=serializers.CharField(), help_text=EVENT_TYPES_HELP
    )
    event_types = serializers.ListField(child=serializers.CharField(), help_text="= events")
    has_secret = serializers.SerializerMethodField(
        help_text="A signing secret is set; it was shown once, at creation or rotation."
    )

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "url",
            "description",
            "events",
            "event_types",
            "is_enabled",
            "disabled_reason",
            "failing_since",
            "has_secret",
            "created_at",
        ]

    @extend_schema_field(serializers.BooleanField())
    def get_has_secret(self, endpoint: Endpoint) -> bool:
        return bool(endpoint.secret)


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    """The answer of a create or a rotation: the endpoint and its secret, shown this once."""

    secret = serializers.SerializerMethodField(
        help_text="`whsec_…`: the Standard Webhooks signing secret. Shown only in this answer."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]

    @extend_schema_field(serializers.CharField())
    def get_secret(self, endpoint: Endpoint) -> str:
        return self.context["secret"]


class WebhookEndpointWriteSerializer(serializers.Serializer):
    """Create (``url`` required) or change (every field optional) an endpoint."""

    url = serializers.CharField(max_length=1000, help_text="http(s), a public address")
    description = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, default=""
    )
    events = serializers.ListField(
        child=serializers.CharField(), required=False, help_text=EVENT_TYPES_HELP
    )
    event_types = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="= events"
    )
    is_enabled = serializers.BooleanField(required=False, default=True)

    def validate(self, attrs):
        if "events" in attrs:
            attrs["event_types"] = attrs.pop("events")
        return attrs


class WebhookEventTypeSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="e.g. order.created")
    label = serializers.CharField(help_text="What it is called, in the request's language")


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["id", "at", "status_code", "latency_ms", "error", "manual"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    endpoint = serializers.IntegerField(source="endpoint_id")
    event_id = serializers.CharField(
        source="event.msg_id", help_text="The `webhook-id` header: the same on every attempt"
    )
    event_type = serializers.CharField(source="event.type")
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "endpoint",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "last_status_code",
            "last_latency_ms",
            "last_error",
            "last_attempt_at",
            "next_attempt_at",
            "created_at",
        ]


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    attempt_log = WebhookAttemptSerializer(many=True, help_text="Every request, newest first")

    class Meta(WebhookDeliverySerializer.Meta):
        fields = [*WebhookDeliverySerializer.Meta.fields, "attempt_log"]


def event_types() -> list[dict]:
    return [{"name": t.name, "label": str(t.label)} for t in TYPES.values()]
