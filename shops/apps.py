from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ShopsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "shops"
    verbose_name = _("Shops and orders")

    def ready(self):
        from django.db.models.signals import post_delete, post_save
        from django.utils.translation import gettext_lazy as _

        from carriers.models import Branch, Carrier
        from shops import selectors
        from shops.models import ApiToken, Shop
        from shops.services.exports import order_export_run
        from shops.services.imports import order_import_run
        from waybill_console import api_tokens, jobs, tenancy
        from waybill_console import permissions as perms
        from waybill_console.api_tokens import tokens_changed

        # what the kernel calls back: it imports no app
        jobs.register_kind(
            "order_export", order_export_run, perms.EXPORT, label=_("Order export"), download=True
        )
        jobs.register_kind(
            "order_import", order_import_run, perms.ORDER_MANAGE, label=_("Order import")
        )
        tenancy.register_memberships(
            for_session=selectors.membership_for_session,
            list_for_user=selectors.membership_list_for_user,
        )
        api_tokens.register_token_lookup(selectors.api_token_get_by_digest)

        # what pages call the fields this app's errors name
        from shops.field_labels import LABELS as FIELD_LABELS
        from waybill_console.field_labels import register_field_labels

        register_field_labels(FIELD_LABELS)

        # who did it, by name (history, ledgers)
        from shops.actor_names import token_names, user_names
        from waybill_console.actors import register_actor_names

        register_actor_names("user:", user_names)
        register_actor_names("token#", token_names)

        # what an API token carries into a request: processes read tokens again after these
        for model in (ApiToken, Shop, Branch, Carrier):
            post_save.connect(tokens_changed, sender=model, dispatch_uid=f"tokens-{model.__name__}")
            post_delete.connect(
                tokens_changed, sender=model, dispatch_uid=f"tokens-{model.__name__}-delete"
            )
