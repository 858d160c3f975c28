from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WaybillsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "waybills"
    verbose_name = _("E-waybills")

    def ready(self):
        from django.utils.translation import gettext_lazy as _

        from shops import selectors as shop_selectors
        from waybill_console import jobs
        from waybill_console import permissions as perms
        from waybills.selectors import order_ids_by_waybill_no
        from waybills.services.jobs import reconciliation_run, waybill_batch_run

        # the job kinds this app runs (the kernel imports no app)
        jobs.register_kind(
            "waybill_batch", waybill_batch_run, perms.WAYBILL_ALLOCATE, label=_("Batch allocate")
        )
        jobs.register_kind(
            "reconciliation",
            reconciliation_run,
            perms.EXPORT,
            label=_("Reconciliation statement"),
            download=True,
        )

        # 概览's 面单异常 and 未打印 (shops never imports us)
        from shops.overview import register_figures
        from waybills.overview import waybill_figures

        register_figures(waybill_figures)

        # the order search finds an order by its waybill number (shops never imports us)
        if order_ids_by_waybill_no not in shop_selectors.ORDER_NUMBER_FINDERS:
            shop_selectors.ORDER_NUMBER_FINDERS.append(order_ids_by_waybill_no)

        # what pages call the fields this app's errors name
        from waybill_console.field_labels import register_field_labels
        from waybills.field_labels import LABELS as FIELD_LABELS

        register_field_labels(FIELD_LABELS)

        # the order list's print status (未打印 / 已打印 / 重打): column and filter
        from waybills.selectors import order_ids_by_print_status, order_print_statuses

        shop_selectors.register_print_status(
            orders=order_ids_by_print_status, of=order_print_statuses
        )
