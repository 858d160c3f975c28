"""Events' tasks, on their own queue (``events``) so that a burst of deliveries never
holds the workers that allocate and print (the runner starts a worker for it)."""

from __future__ import annotations

from celery import shared_task

QUEUE = "events"


@shared_task(name="events.tasks.dispatch", acks_late=True, ignore_result=True)
def dispatch() -> int:
    from events.services.dispatch import events_dispatch

    return events_dispatch()


@shared_task(name="events.tasks.deliver", acks_late=True, ignore_result=True)
def deliver() -> int:
    from events.services.delivery import deliveries_send

    return deliveries_send()


@shared_task(name="events.tasks.sweep", ignore_result=True)
def sweep() -> dict:
    """Beat, every ``WEBHOOK_SWEEP_SECONDS``: dispatch what no kick reached, send what is
    due (retries), fail what waited a day."""
    from events.selectors import deliveries_due
    from events.services.delivery import deliver_kick, deliveries_expire
    from events.services.dispatch import events_dispatch

    dispatched = events_dispatch()
    expired = deliveries_expire()
    if deliveries_due():
        deliver_kick()
    return {"dispatched": dispatched, "expired": expired}


@shared_task(name="events.tasks.purge", ignore_result=True)
def purge() -> int:
    """Beat, daily: events older than ``EVENT_LOG_DAYS`` go, with their delivery logs."""
    from events.services.dispatch import events_purge

    return events_purge()
