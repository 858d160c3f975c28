"""The engine's sweeps, run by beat (each takes an advisory lock: a duplicate tick does nothing)."""

from celery import shared_task


@shared_task(name="waybills.tasks.recycle_waybills", acks_late=True)
def recycle_waybills() -> dict:
    from waybills.services import waybills_recycle

    return waybills_recycle()


@shared_task(name="waybills.tasks.settle_reservations", acks_late=True)
def settle_reservations() -> dict:
    """Ask the carrier about reservations no attempt finished (crash, time-out)."""
    from waybills.services.settle import reservations_settle

    return reservations_settle()
