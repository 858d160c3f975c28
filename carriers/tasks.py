"""The carriers app's sweeps, run by beat."""

from celery import shared_task


@shared_task(name="carriers.tasks.purge_gateway_calls", acks_late=True)
def purge_gateway_calls() -> int:
    """The carrier API call log keeps CARRIER_CALL_LOG_DAYS days."""
    from carriers.gateways.transport import calls_purge

    return calls_purge()
