"""The recycling sweep, run by beat (it takes an advisory lock: a duplicate tick does nothing)."""

from celery import shared_task


@shared_task(name="waybills.tasks.recycle_waybills", acks_late=True)
def recycle_waybills() -> dict:
    from waybills.services import waybills_recycle

    return waybills_recycle()
