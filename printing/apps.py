from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrintingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "printing"
    verbose_name = _("Printing")

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from printing import checks  # noqa: F401  (registers the settings check)
        from printing.allocate_print import BATCH_KIND, allocate_print_run
        from waybill_console import jobs
        from waybill_console import permissions as perms

        # 批量取号并打印: the batch allocation, then its print jobs (the kernel imports no app)
        jobs.register_kind(
            BATCH_KIND,
            allocate_print_run,
            perms.WAYBILL_ALLOCATE,
            label=_("Batch allocate and print"),
        )

        # what pages call the fields this app's errors name
        from printing.field_labels import LABELS as FIELD_LABELS
        from waybill_console.field_labels import register_field_labels

        register_field_labels(FIELD_LABELS)
