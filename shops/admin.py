from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from shops.models import ApiToken, Membership, Order, OrderItem, Product, Shop
from shops.services import shop_set_active
from waybill_console.admin_scoping import ShopScopedAdmin


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "permissions", "display_name", "is_active"]
    raw_id_fields = ["user"]


@admin.register(Shop)
class ShopAdmin(ShopScopedAdmin):
    shop_path = "pk"
    list_display = ["shop_no", "name", "shop_type", "no_source_risk", "is_active", "created_at"]
    list_filter = ["shop_type", "no_source_risk", "is_active"]
    search_fields = ["shop_no", "name"]
    inlines = [MembershipInline]
    actions = ["deactivate", "reactivate"]

    @admin.action(
        description=_("Deactivate the selected shops (tokens and agents stop)"),
        permissions=["change"],
    )
    def deactivate(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        changed = shop_set_active(shop_ids=ids, active=False)
        self.message_user(request, _("%(count)s shops deactivated.") % {"count": changed})

    @admin.action(description=_("Reactivate the selected shops"), permissions=["change"])
    def reactivate(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        changed = shop_set_active(shop_ids=ids, active=True)
        self.message_user(request, _("%(count)s shops reactivated.") % {"count": changed})

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return qs
        shop = getattr(request, "shop", None)
        return qs.filter(pk=shop.pk) if shop else qs.none()


@admin.register(Membership)
class MembershipAdmin(ShopScopedAdmin):
    list_display = ["user", "shop", "role", "is_active"]
    list_filter = ["role", "is_active"]
    search_fields = ["user__username", "shop__shop_no"]
    raw_id_fields = ["user", "shop"]


@admin.register(ApiToken)
class ApiTokenAdmin(ShopScopedAdmin):
    list_display = ["prefix", "name", "shop", "branch", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at"]
    search_fields = ["prefix", "name", "shop__shop_no"]


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0


@admin.register(Order)
class OrderAdmin(ShopScopedAdmin):
    list_display = [
        "order_no",
        "shop",
        "status",
        "receiver_name_masked",
        "receiver_phone_masked",
        "receiver_province",
        "created_at",
    ]
    list_filter = ["status"]
    search_fields = ["order_no"]
    exclude = ["receiver_name", "receiver_phone", "receiver_detail", "receiver_phone_index"]
    readonly_fields = ["receiver_name_masked", "receiver_phone_masked"]
    inlines = [OrderItemInline]


@admin.register(Product)
class ProductAdmin(ShopScopedAdmin):
    """The shop's SKUs; the bin location (库位) is edited here, right in the list."""

    list_display = ["sku", "name", "shop", "bin_location", "stock", "is_listed"]
    list_editable = ["bin_location"]
    list_filter = ["is_listed"]
    search_fields = ["sku", "name", "bin_location"]
    fields = ["shop", "sku", "name", "bin_location", "stock", "is_listed", "delisted_at"]

    def get_readonly_fields(self, request, obj=None):
        # a product stays in its shop under its SKU (order items find it by the pair)
        return ["shop", "sku", "delisted_at"] if obj else ["delisted_at"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "shop" and not request.user.is_superuser:
            shop = getattr(request, "shop", None)
            kwargs["queryset"] = Shop.objects.filter(pk=shop.pk if shop else None)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
