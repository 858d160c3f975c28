from django.apps import AppConfig


class ShopsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "shops"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from carriers.models import Branch, Carrier
        from shops.models import ApiToken, Shop
        from waybill_console.api_tokens import tokens_changed

        # what an API token carries into a request: processes read tokens again after these
        for model in (ApiToken, Shop, Branch, Carrier):
            post_save.connect(tokens_changed, sender=model, dispatch_uid=f"tokens-{model.__name__}")
            post_delete.connect(
                tokens_changed, sender=model, dispatch_uid=f"tokens-{model.__name__}-delete"
            )
