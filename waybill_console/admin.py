from django.contrib import admin

from waybill_console.admin_scoping import ShopScopedAdmin
from waybill_console.models import DecryptionAudit


@admin.register(DecryptionAudit)
class DecryptionAuditAdmin(ShopScopedAdmin):
    list_display = ["at", "shop", "user", "token_prefix", "purpose", "model", "object_pk"]
    list_filter = ["purpose", "model"]
    search_fields = ["object_pk", "user__username", "token_prefix"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
