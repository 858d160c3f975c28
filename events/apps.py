from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "events"
    verbose_name = _("Webhooks and notifications")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from events.models import Endpoint
        from events.services.job_events import job_finished
        from events.services.outbox import subscriptions_forget
        from waybill_console.jobs import register_job_listener

        register_job_listener("events.job_finished", job_finished)

        # emitters read a shop's subscriptions again as soon as an endpoint changes
        for signal in (post_save, post_delete):
            signal.connect(
                lambda sender, instance, **kw: subscriptions_forget(instance.shop_id),
                sender=Endpoint,
                weak=False,
                dispatch_uid=f"events-subscriptions-{signal}",
            )

        # what pages call the fields the webhook services check
        from events.field_labels import LABELS as FIELD_LABELS
        from waybill_console.field_labels import register_field_labels

        register_field_labels(FIELD_LABELS)
