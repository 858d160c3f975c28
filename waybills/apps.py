from django.apps import AppConfig


class WaybillsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "waybills"

    def ready(self):
        from waybill_console import jobs
        from waybill_console import permissions as perms
        from waybills.services.jobs import reconciliation_run, waybill_batch_run

        # the job kinds this app runs (the kernel imports no app)
        jobs.register_kind("waybill_batch", waybill_batch_run, perms.WAYBILL_ALLOCATE)
        jobs.register_kind("reconciliation", reconciliation_run, perms.EXPORT)
