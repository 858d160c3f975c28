"""``job.finished``: a background job of a shop ended (succeeded or failed).

Registered with the kernel (``waybill_console.jobs.register_job_listener``, from
``EventsConfig.ready()``): the kernel names no app, and the event is written in the
transaction that records the job's end. The data is the job as ``GET /api/v1/jobs/{id}/``
shows it, its result cut to the summary (the counts and the file's name, without a batch's
one-line-per-order ``results``); the link is the job's page.
"""

from __future__ import annotations

from django.urls import reverse

from events.services.outbox import emit
from events.services.outbox_sql import api_json

TYPE = "job.finished"


def job_data(job) -> dict:
    from shops.api.serializers import JobSerializer

    data = api_json(JobSerializer(job).data)
    result = data.get("result")
    if isinstance(result, dict):
        data["result"] = {k: v for k, v in result.items() if not isinstance(v, list | dict)}
    return data


def job_finished(job) -> None:
    """The kernel's job listener: tell the job's shop (a job without a shop tells nobody)."""
    if job.shop_id is None:
        return
    emit(job.shop_id, TYPE, job_data(job), link=reverse("console:job_detail", args=[job.pk]))
