from celery import shared_task

from waybill_console.locks import advisory_lock


@shared_task(name="shops.tasks.apply_order_time_rules")
def apply_order_time_rules(as_of: str | None = None) -> dict:
    """Beat: reminders, auto-cancel, unanswered cancellation requests, returns, SLA breaches."""
    from django.utils.dateparse import parse_datetime

    from shops.services import orders_apply_time_rules

    with advisory_lock("orders_apply_time_rules") as got:
        if not got:
            return {"skipped": "another sweep is running"}
        return orders_apply_time_rules(as_of=parse_datetime(as_of) if as_of else None)
