"""Print jobs for network and USB printers (agent printers' jobs are pulled by the agent)."""

from celery import shared_task


@shared_task(
    name="printing.tasks.send_print_job",
    acks_late=True,
    ignore_result=True,  # the outcome lives in the job's rows; no wait on the result store
    soft_time_limit=840,
    time_limit=900,
)
def send_print_job(job_id: int) -> str:
    """Send the job's unconfirmed documents; a second run finds it no longer queued."""
    from printing.print_jobs import print_job_send

    return print_job_send(job_id=job_id)


@shared_task(name="printing.tasks.requeue_stalled_print_jobs", ignore_result=True)
def requeue_stalled_print_jobs() -> list[int]:
    from printing.print_jobs import print_jobs_requeue_stalled

    return print_jobs_requeue_stalled()
