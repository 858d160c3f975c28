from django.apps import AppConfig


class WaybillsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "waybills"

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
