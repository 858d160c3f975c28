from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WaybillConsoleConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "waybill_console"
    verbose_name = _("System records")

    def ready(self):
        from waybill_console import schema  # noqa: F401  (registers the OpenAPI extensions)
