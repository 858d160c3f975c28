from django.contrib import admin

from waybill_console.admin_scoping import ReadOnlyScopedAdmin
from waybill_console.models import DecryptionAudit


@admin.register(DecryptionAudit)
class DecryptionAuditAdmin(ReadOnlyScopedAdmin):
    list_display = ["at", "shop", "user", "token_prefix", "purpose", "model", "object_pk"]
    list_filter = ["purpose", "model"]
    search_fields = ["object_pk", "user__username", "token_prefix"]
    date_hierarchy = "at"
