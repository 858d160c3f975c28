from django.apps import AppConfig


class WaybillConsoleConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "waybill_console"
    verbose_name = "Waybill Console"

    def ready(self):
        from waybill_console import schema  # noqa: F401  (registers the OpenAPI extensions)
