from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DropshipConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dropship"
    verbose_name = _("Dropship")

    def ready(self):
        from django.utils.translation import gettext_lazy as _

        from dropship.selectors import on_behalf_waybills
        from dropship.services.allocation import allocations_cancel_for_order
        from dropship.services.factory import factory_order_link_settled
        from dropship.services.statements import statement_run
        from shops.services import order_states
        from waybill_console import jobs
        from waybill_console import permissions as perms
        from waybills import selectors as waybill_selectors
        from waybills.services import settle

        # the job kind this app runs (the kernel imports no app)
        jobs.register_kind(
            "dropship_statement",
            statement_run,
            perms.DROPSHIP_MANAGE,
            label=_("Dropship statement"),
            download=True,
        )

        if allocations_cancel_for_order not in order_states.ORDER_BLOCK_HANDLERS:
            order_states.ORDER_BLOCK_HANDLERS.append(allocations_cancel_for_order)
        if on_behalf_waybills not in waybill_selectors.ON_BEHALF_ACCESS:
            waybill_selectors.ON_BEHALF_ACCESS.append(on_behalf_waybills)
        # a factory's number committed by the settling sweep goes to its factory order
        settle.SETTLED_HANDLERS["allocate_on_behalf"] = factory_order_link_settled

        # what pages call the fields this app's errors name
        from dropship.field_labels import LABELS as FIELD_LABELS
        from waybill_console.field_labels import register_field_labels

        register_field_labels(FIELD_LABELS)
