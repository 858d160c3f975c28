from django.contrib import admin

from dropship.models import DropshipProfile
from waybill_console.admin_scoping import ShopScopedAdmin


@admin.register(DropshipProfile)
class DropshipProfileAdmin(ShopScopedAdmin):
    list_display = ["shop", "identity", "updated_at"]
    list_filter = ["identity"]
