from django.contrib import admin

from carriers.models import Branch, Carrier


@admin.register(Carrier)
class CarrierAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "network_type", "needs_monthly_account", "needs_secret_key"]


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "carrier", "province", "city", "district"]
    list_filter = ["carrier"]
    search_fields = ["code", "name"]
