"""``/api/v1/webhooks/``: a shop's (or a factory's) webhook endpoints, their delivery log,
rotate, test, resend. Doors to :mod:`events.services.endpoints`: the token's scope (or the
member's permission) is ``webhook.manage``; another shop's endpoint is a 404."""

from __future__ import annotations

from contextlib import contextmanager

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from events.api.webhook_serializers import (
    WebhookDeliveryDetailSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWriteSerializer,
    WebhookEventTypeSerializer,
    event_types,
)
from events.models import DeliveryStatus
from events.services import endpoints as services
from waybill_console.api import paginated
from waybill_console.errors import AppError

SCOPE = "Needs the `webhook.manage` scope."


@contextmanager
def _fields_as_sent(request):
    """A refusal names the event types as the request did (``events`` or ``event_types``)."""
    try:
        yield
    except AppError as err:
        sent_as_events = isinstance(request.data, dict) and "events" in request.data
        if sent_as_events and "event_types" in err.detail:
            err.detail = {("events" if k == "event_types" else k): v for k, v in err.detail.items()}
        raise


def _created(endpoint, secret: str) -> dict:
    return WebhookEndpointCreatedSerializer(endpoint, context={"secret": secret}).data


class WebhookListView(APIView):
    @extend_schema(
        responses=WebhookEndpointSerializer(many=True),
        summary="Webhook endpoints of the shop",
        description=SCOPE,
    )
    def get(self, request):
        found = services.endpoint_list(actor=request.wbc_actor)
        return Response(WebhookEndpointSerializer(found, many=True).data)

    @extend_schema(
        request=WebhookEndpointWriteSerializer,
        responses={201: WebhookEndpointCreatedSerializer},
        summary="Add a webhook endpoint; the answer carries its signing secret, once",
        description=(
            "The URL must be http(s) and resolve to a public address (loopback, private "
            "and link-local addresses are refused unless the operator allowed their "
            "network). `events`: the event types it receives (empty: every type). "
            "The answer's `secret` (`whsec_…`) signs every delivery (Standard Webhooks: "
            "headers `webhook-id`, `webhook-timestamp`, `webhook-signature`); it is never "
            "shown again. At most 20 endpoints per shop. " + SCOPE
        ),
    )
    def post(self, request):
        ser = WebhookEndpointWriteSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        with _fields_as_sent(request):
            endpoint, secret = services.endpoint_create(
                actor=request.wbc_actor, **ser.validated_data
            )
        return Response(_created(endpoint, secret), status=status.HTTP_201_CREATED)


class WebhookEventTypeListView(APIView):
    @extend_schema(
        responses=WebhookEventTypeSerializer(many=True),
        summary="The event types an endpoint can receive",
    )
    def get(self, request):
        return Response(WebhookEventTypeSerializer(event_types(), many=True).data)


class WebhookDetailView(APIView):
    @extend_schema(responses=WebhookEndpointSerializer, summary="One webhook endpoint")
    def get(self, request, endpoint_id: int):
        endpoint = services.endpoint_get(actor=request.wbc_actor, endpoint_id=endpoint_id)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        request=WebhookEndpointWriteSerializer,
        responses=WebhookEndpointSerializer,
        summary="Change a webhook endpoint (enable it again after it was disabled)",
        description="Enabling it again, or a new URL, forgets its failures. " + SCOPE,
    )
    def patch(self, request, endpoint_id: int):
        services.endpoint_get(actor=request.wbc_actor, endpoint_id=endpoint_id)  # 404 first
        ser = WebhookEndpointWriteSerializer(data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        with _fields_as_sent(request):
            endpoint = services.endpoint_update(
                actor=request.wbc_actor, endpoint_id=endpoint_id, **ser.validated_data
            )
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(responses={204: None}, summary="Delete a webhook endpoint and its log")
    def delete(self, request, endpoint_id: int):
        services.endpoint_delete(actor=request.wbc_actor, endpoint_id=endpoint_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecretView(APIView):
    @extend_schema(
        request=None,
        responses=WebhookEndpointCreatedSerializer,
        operation_id="webhooks_rotate_secret",
        summary="A new signing secret, shown once in this answer",
        description="Every request from now on is signed with the new secret. " + SCOPE,
    )
    def post(self, request, endpoint_id: int):
        endpoint, secret = services.endpoint_rotate_secret(
            actor=request.wbc_actor, endpoint_id=endpoint_id
        )
        return Response(_created(endpoint, secret))


class WebhookTestView(APIView):
    @extend_schema(
        request=None,
        responses={202: WebhookDeliverySerializer},
        operation_id="webhooks_send_test",
        summary="Send a `webhook.test` message to this endpoint",
        description="The delivery is queued: follow it in the endpoint's deliveries. " + SCOPE,
    )
    def post(self, request, endpoint_id: int):
        delivery = services.endpoint_send_test(actor=request.wbc_actor, endpoint_id=endpoint_id)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryListView(APIView):
    @extend_schema(
        responses=WebhookDeliverySerializer(many=True),
        parameters=[
            OpenApiParameter("status", str, required=False, enum=DeliveryStatus.values),
        ],
        summary="The endpoint's delivery log, newest first",
        description=SCOPE,
    )
    def get(self, request, endpoint_id: int):
        found = services.delivery_list(
            actor=request.wbc_actor,
            endpoint_id=endpoint_id,
            status=request.query_params.get("status") or None,
        )
        return paginated(self, request, found, WebhookDeliverySerializer)


class WebhookDeliveryDetailView(APIView):
    @extend_schema(
        responses=WebhookDeliveryDetailSerializer,
        summary="One delivery with every attempt",
        description=SCOPE,
    )
    def get(self, request, endpoint_id: int, delivery_id: int):
        delivery = services.delivery_get(
            actor=request.wbc_actor, endpoint_id=endpoint_id, delivery_id=delivery_id
        )
        return Response(WebhookDeliveryDetailSerializer(delivery).data)


class WebhookDeliveryResendView(APIView):
    @extend_schema(
        request=None,
        responses={202: WebhookDeliverySerializer},
        operation_id="webhooks_deliveries_resend",
        summary="Send a delivery again (same `webhook-id`)",
        description="The attempt is logged as resent by hand. " + SCOPE,
    )
    def post(self, request, endpoint_id: int, delivery_id: int):
        delivery = services.delivery_resend(
            actor=request.wbc_actor, endpoint_id=endpoint_id, delivery_id=delivery_id
        )
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
