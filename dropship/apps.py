from django.apps import AppConfig


class DropshipConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dropship"
