from django.apps import AppConfig


class WaybillsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "waybills"
