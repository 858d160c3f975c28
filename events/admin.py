"""Ops' view of webhooks: endpoints (the secret never shown), deliveries with their
attempts, and the outbox's events, read-only (the system writes them)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from events import types
from events.models import Delivery, DeliveryAttempt, Endpoint, Event
from events.services.endpoints import endpoint_update
from waybill_console.admin_scoping import ReadOnlyScopedAdmin, ShopScopedAdmin
from waybill_console.tenancy import Actor


@admin.register(Endpoint)
class EndpointAdmin(ShopScopedAdmin):
    """Ops may switch an endpoint off or on (through the service: switched on again, its
    failures are forgotten); the URL and the event types are the shop's to change, where
    the address rule is checked; the secret is never shown."""

    list_display = ["url", "shop", "is_enabled", "failing_since", "created_at"]
    list_filter = ["is_enabled"]
    search_fields = ["url", "description", "shop__name", "shop__shop_no"]
    fields = ["shop", "url", "description", "event_types", "is_enabled", "disabled_reason",
              "failing_since", "consecutive_failures", "retry_at", "leased_until", "created_by",
              "created_at", "updated_at"]  # fmt: skip
    readonly_fields = [f for f in fields if f != "is_enabled"]

    def has_add_permission(self, request):
        return False  # a shop adds its endpoints and sees the secret once

    def save_model(self, request, obj, form, change):
        endpoint_update(
            actor=Actor.system(shop=obj.shop), endpoint_id=obj.pk, is_enabled=obj.is_enabled
        )


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["at", "status_code", "latency_ms", "error", "manual"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyScopedAdmin):
    shop_path = "endpoint__shop"
    list_display = ["id", "endpoint", "event", "status", "attempts", "last_status_code",
                    "last_attempt_at", "created_at"]  # fmt: skip
    list_filter = ["status"]
    search_fields = ["=id", "event__msg_id", "endpoint__url"]
    list_select_related = ["endpoint", "event"]
    inlines = [AttemptInline]


class EventTypeFilter(admin.SimpleListFilter):
    title = _("event type")
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return [(name, kind.label) for name, kind in types.TYPES.items()] + [
            (types.TEST_TYPE, _("Test message"))
        ]

    def queryset(self, request, queryset):
        return queryset.filter(type=self.value()) if self.value() else queryset


@admin.register(Event)
class EventAdmin(ReadOnlyScopedAdmin):
    list_display = ["id", "type_label", "shop", "at", "dispatched_at"]
    list_filter = [EventTypeFilter]
    search_fields = ["=id", "msg_id", "shop__name", "shop__shop_no"]
    list_select_related = ["shop"]
    fields = ["msg_id", "shop", "type_label", "at", "data", "link", "dispatched_at"]
    readonly_fields = fields

    @admin.display(description=_("event type"))
    def type_label(self, obj: Event) -> str:
        return types.label(obj.type)
