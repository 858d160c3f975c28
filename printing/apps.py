from django.apps import AppConfig


class PrintingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "printing"

    def ready(self) -> None:
        from printing import checks  # noqa: F401  (registers the settings check)
