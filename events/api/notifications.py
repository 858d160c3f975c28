"""``/api/v1/notifications/``: the bell for API clients, through the same selectors and
services as the page. A token sees what its scopes cover (as a sub-account its
permissions) and reads as the account that created it."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from events import selectors_notifications as selectors
from events.services import notifications as services
from waybill_console.api import Pagination
from waybill_console.errors import ValidationError


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField(help_text="the event type, e.g. quota.low")
    title = serializers.CharField(help_text="in the request's language")
    body = serializers.CharField(help_text="in the request's language")
    link = serializers.CharField(help_text="the console path of the object, or empty")
    at = serializers.DateTimeField()
    read = serializers.BooleanField()


class NotificationMarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=services.MARK_LIMIT,
        help_text=f"notification ids, at most {services.MARK_LIMIT}",
    )
    all = serializers.BooleanField(required=False, default=False, help_text="every one")


class NotificationsMarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="newly marked read")
    unread = serializers.IntegerField(help_text="still unread (counted up to 100)")


def _row(notification) -> dict:
    text = services.render(notification)
    return {
        "id": notification.pk,
        "type": notification.type,
        "title": text.title,
        "body": text.body,
        "link": notification.link,
        "at": notification.at,
        "read": notification.is_read,
    }


class NotificationListView(APIView):
    @extend_schema(
        responses=NotificationSerializer(many=True),
        parameters=[OpenApiParameter("unread", int, required=False, enum=[0, 1])],
        summary="The shop's notifications this token or account may see, newest first "
        "(unread=1: unread only)",
    )
    def get(self, request):
        unread = request.query_params.get("unread", "")
        if unread not in ("", "0", "1"):
            raise ValidationError.for_fields(unread="0 or 1.")
        qs = selectors.notification_list(request.wbc_actor, unread=unread == "1")
        paginator = Pagination()
        rows = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(
            NotificationSerializer([_row(n) for n in rows], many=True).data
        )


class NotificationReadView(APIView):
    @extend_schema(
        operation_id="notifications_mark_read",
        request=NotificationMarkReadSerializer,
        responses=NotificationsMarkedSerializer,
        summary="Mark notifications read: ids (another shop's id: NOT_FOUND, nothing "
        "marked) or all=true",
    )
    def post(self, request):
        ser = NotificationMarkReadSerializer(
            data=request.data if isinstance(request.data, dict) else None
        )
        ser.is_valid(raise_exception=True)
        actor = request.wbc_actor
        if ser.validated_data["all"]:
            marked = services.notification_mark_all_read(actor=actor)
        elif "ids" in ser.validated_data:
            marked = services.notification_mark_read(actor=actor, ids=ser.validated_data["ids"])
        else:
            raise ValidationError.for_fields(ids="A list of notification ids, or all=true.")
        return Response({"marked": marked, "unread": selectors.unread_count(actor)})
