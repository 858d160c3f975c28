from django.contrib import admin, messages

from carriers import services
from carriers.models import (
    Branch,
    BranchCoverage,
    Carrier,
    LedgerEntry,
    Reservation,
    Subscription,
)
from waybill_console.admin_scoping import ReadOnlyScopedAdmin, ShopScopedAdmin
from waybill_console.errors import AppError
from waybill_console.tenancy import Actor


@admin.register(Carrier)
class CarrierAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "network_type",
        "needs_monthly_account",
        "needs_secret_key",
        "number_pattern",
    ]


class CoverageInline(admin.TabularInline):
    model = BranchCoverage
    extra = 0


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "carrier", "province", "city", "district", "contact_name"]
    list_filter = ["carrier", "province"]
    search_fields = ["code", "name"]
    inlines = [CoverageInline]


class LedgerInline(admin.TabularInline):
    model = LedgerEntry
    extra = 0
    can_delete = False
    readonly_fields = ["at", "kind", "amount", "balance_after", "actor", "note", "reference"]
    ordering = ["-at", "-id"]

    def has_add_permission(self, request, obj=None):
        return False


def _ops(request) -> Actor:
    return Actor(shop=None, user=request.user, is_staff=True)


def _run(modeladmin, request, queryset, fn, done):
    ok = 0
    for sub in queryset:
        try:
            fn(_ops(request), sub)
            ok += 1
        except AppError as err:
            messages.error(request, f"#{sub.pk}: {err.render_message()}")
    if ok:
        messages.success(request, f"{done}: {ok}")


@admin.action(description="Approve (审核通过)")
def approve(modeladmin, request, queryset):
    _run(
        modeladmin,
        request,
        queryset,
        lambda a, s: services.subscription_approve(actor=a, subscription=s),
        "approved",
    )


@admin.action(description="Reject (驳回)")
def reject(modeladmin, request, queryset):
    _run(
        modeladmin,
        request,
        queryset,
        lambda a, s: services.subscription_reject(
            actor=a, subscription=s, reason="rejected by ops"
        ),
        "rejected",
    )


@admin.action(description="Mark expiring (即将过期)")
def mark_expiring(modeladmin, request, queryset):
    _run(
        modeladmin,
        request,
        queryset,
        lambda a, s: services.subscription_mark_expiring(actor=a, subscription=s),
        "expiring",
    )


@admin.action(description="Recharge 1,000 numbers (充值 1000)")
def recharge_1000(modeladmin, request, queryset):
    _run(
        modeladmin,
        request,
        queryset,
        lambda a, s: services.subscription_recharge(actor=a, subscription=s, count=1000),
        "recharged",
    )


@admin.register(Subscription)
class SubscriptionAdmin(ShopScopedAdmin):
    list_display = [
        "id",
        "shop",
        "carrier",
        "branch",
        "status",
        "is_default",
        "balance",
        "allocated_total",
        "cancelled_total",
        "recycled_total",
        "printed_total",
    ]
    list_filter = ["status", "carrier"]
    search_fields = ["shop__shop_no", "branch__code", "branch__name"]
    readonly_fields = [
        "balance",
        "allocated_total",
        "cancelled_total",
        "recycled_total",
        "printed_total",
        "status",
        "is_default",
    ]
    raw_id_fields = ["shop", "branch", "address"]
    actions = [approve, reject, mark_expiring, recharge_1000]
    inlines = [LedgerInline]


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyScopedAdmin):
    """Quota held while a carrier is asked for numbers: ops see the attempts whose outcome
    is still unknown (state 预占) and what went wrong; the settling sweep resolves them."""

    list_display = [
        "carrier_order_id",
        "shop",
        "subscription",
        "order",
        "count",
        "charge",
        "state",
        "last_error",
        "created_at",
        "resolved_at",
    ]
    list_filter = ["state"]
    search_fields = ["carrier_order_id", "shop__shop_no"]
    readonly_fields = [f.name for f in Reservation._meta.fields]
