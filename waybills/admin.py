"""Ops: waybills with tracking actions, tracking events, violations, exceptions, recycling."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from waybill_console.admin_scoping import ActorNameAdminMixin, ShopScopedAdmin, with_actor_name
from waybill_console.errors import AppError
from waybill_console.tenancy import Actor
from waybills import services
from waybills.models import AllocationException, TrackingEvent, Violation, Waybill


class TrackingInline(admin.TabularInline):
    model = TrackingEvent
    extra = 0
    can_delete = False
    readonly_fields = ["occurred_at", "status", "description", "location", "received_at"]

    def has_add_permission(self, request, obj=None):
        return False


def _tracking_action(status: str, label):
    def action(modeladmin, request, queryset):
        actor = Actor(shop=None, user=request.user, is_staff=True)
        done = 0
        for waybill in queryset:
            try:
                services.tracking_record(
                    actor=actor,
                    waybill_no=waybill.waybill_no,
                    occurred_at=timezone.now(),
                    status=status,
                    description=str(_("Recorded by platform operations")),
                )
                done += 1
            except AppError as err:
                messages.error(
                    request,
                    _("%(subject)s: %(message)s")
                    % {"subject": waybill.waybill_no, "message": err.render_message()},
                )
        if done:
            messages.success(
                request, _("%(action)s: %(count)s waybills.") % {"action": label, "count": done}
            )

    action.__name__ = f"track_{status}"
    action.short_description = label
    return action


@admin.register(Waybill)
class WaybillAdmin(ActorNameAdminMixin, ShopScopedAdmin):
    list_display = [
        "waybill_no",
        "carrier",
        "branch",
        "shop",
        "order",
        "package_no",
        "status",
        "has_tracking",
        "print_count",
        "allocated_at",
    ]
    list_filter = ["status", "carrier", "has_tracking"]
    search_fields = ["waybill_no", "order__order_no"]
    date_hierarchy = "allocated_at"
    list_select_related = ["carrier", "branch", "shop", "order"]
    readonly_fields = with_actor_name([f.name for f in Waybill._meta.fields])
    exclude = ["receiver_name", "receiver_phone", "receiver_detail", "actor"]
    inlines = [TrackingInline]
    actions = [
        _tracking_action("picked_up", _("Tracking: picked up")),
        _tracking_action("in_transit", _("Tracking: in transit")),
        _tracking_action("delivered", _("Tracking: delivered")),
        _tracking_action("failed", _("Tracking: delivery failed")),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f for f in self.readonly_fields if f not in self.exclude]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TrackingEvent)
class TrackingEventAdmin(ShopScopedAdmin):
    shop_path = "waybill__shop"
    list_display = ["waybill", "status", "occurred_at", "location", "description", "received_at"]
    list_filter = ["status"]
    search_fields = ["waybill__waybill_no"]
    list_select_related = ["waybill"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Violation)
class ViolationAdmin(ShopScopedAdmin):
    list_display = ["waybill", "shop", "subscription", "detected_at", "deducted_at", "note"]
    list_filter = ["deducted_at"]
    list_select_related = ["waybill", "shop"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AllocationException)
class AllocationExceptionAdmin(ShopScopedAdmin):
    list_display = ["order", "shop", "carrier_code", "code", "message", "attempts", "updated_at"]
    list_filter = ["code", "carrier_code"]
    search_fields = ["order__order_no"]
    list_select_related = ["order", "shop"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(resolved_at=None)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
