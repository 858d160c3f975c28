"""The waybill jobs: batch allocation (≤ 500 orders) and reconciliation statements (电子对账单).

Both run in a Celery worker through the kernel's job runner, which claims the job once;
batch allocation is also safe to run again after a worker died mid-way: an order that
already holds a live number gets it back instead of a second one.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shops.models import Order
from waybill_console import permissions as perms
from waybill_console.crypto import mask_code
from waybill_console.errors import BatchTooLarge, ValidationError
from waybill_console.exports import SafeCsvWriter, xlsx_sheet
from waybill_console.jobs import job_create, job_file_path, job_progress
from waybill_console.models import Job
from waybill_console.tenancy import Actor
from waybills.models import WaybillStatus
from waybills.selectors import UsageFilters, waybill_list
from waybills.services.allocation import (
    BATCH_LIMIT,
    CHUNK,
    resolve_subscription,
    waybill_allocate_many,
)

XLSX_SHEET_ROWS = 1_048_575  # one header row per sheet
PROGRESS_EVERY = 5000


def _actor_for(job: Job) -> Actor:
    return Actor.system(shop=job.shop)


# --- batch allocation ------------------------------------------------------------------------


def waybill_batch_params(
    *, actor: Actor, order_ids: list, subscription: int | None = None, carrier: str = ""
) -> dict:
    """The batch checked (the shop's orders, at most 500, a usable service) as the params
    :func:`waybill_batch_run` reads. An app that does more after the allocation
    (批量取号并打印: :mod:`printing.allocate_print`) starts its own job kind with these
    params (and its own), whose handler runs :func:`waybill_batch_run` first."""
    actor.require(perms.WAYBILL_ALLOCATE)
    shop = actor.require_shop()
    if not isinstance(order_ids, list) or not order_ids:
        raise ValidationError.for_fields(orders=_("A list of order ids."))
    if len(order_ids) > BATCH_LIMIT:
        raise BatchTooLarge(limit=BATCH_LIMIT, detail={"count": len(order_ids)})
    try:
        ids = list(dict.fromkeys(int(i) for i in order_ids))
    except (TypeError, ValueError):
        raise ValidationError.for_fields(orders=_("A list of order ids.")) from None
    found = set(Order.objects.filter(shop=shop, pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationError.for_fields(
            orders=_("Not this shop's orders: %(ids)s") % {"ids": missing[:10]}
        )
    sub = resolve_subscription(actor=actor, subscription=subscription, carrier=carrier)
    return {"orders": ids, "subscription": sub.pk, "by": actor.describe()}


def waybill_batch_start(
    *, actor: Actor, order_ids: list, subscription: int | None = None, carrier: str = ""
) -> Job:
    params = waybill_batch_params(
        actor=actor, order_ids=order_ids, subscription=subscription, carrier=carrier
    )
    return job_create(actor=actor, kind="waybill_batch", params=params, total=len(params["orders"]))


def waybill_batch_run(job: Job) -> dict:
    actor = _actor_for(job)
    ids = job.params["orders"]
    # a redelivered job resumes after the chunks it already recorded
    results: list[dict] = list((job.result or {}).get("results", []))
    done = {r["order"] for r in results}
    remaining = [i for i in ids if i not in done]
    for start in range(0, len(remaining), CHUNK):
        part = remaining[start : start + CHUNK]
        orders = {o.pk: o for o in Order.objects.filter(shop=job.shop, pk__in=part)}
        results += waybill_allocate_many(
            actor=actor,
            orders=[orders[i] for i in part if i in orders],
            subscription=job.params["subscription"],
        )
        Job.objects.filter(pk=job.pk).update(result={"results": results})
        job_progress(job, done=len(results))
    ok = sum(1 for r in results if r["ok"])
    return {"results": results, "ok": ok, "failed": len(results) - ok}


# --- reconciliation statements -------------------------------------------------------------

COLUMNS = [
    _("Waybill number"),
    _("Carrier"),
    _("Branch"),
    _("Order number"),
    _("Package"),
    _("Status"),
    _("Allocated at"),
    _("Cancelled at"),
    _("Recycled at"),
    _("Receiver"),
    _("Phone"),
    _("Receiver address"),
    _("Sort code"),
    _("Prints"),
]


def reconciliation_start(*, actor: Actor, params: dict, file_format: str = "csv") -> Job:
    actor.require(perms.EXPORT)
    actor.require_shop()
    if file_format not in ("csv", "xlsx"):
        raise ValidationError.for_fields(format=_("CSV or XLSX."))
    filters = UsageFilters.from_params(_as_text(params))  # validates now, names the bad field
    return job_create(
        actor=actor,
        kind="reconciliation",
        params={"filters": filters.as_params(), "format": file_format},
    )


def _as_text(params: dict) -> dict:
    """The filters as the strings ``UsageFilters.from_params`` parses: JSON conditions and
    the stored ``as_params()`` carry numbers (``{"days": 366}``)."""
    return {key: "" if value is None else str(value) for key, value in params.items()}


def _fmt(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def reconciliation_rows(*, actor: Actor, filters: UsageFilters):
    """Masked rows, streamed from a server-side cursor (constant memory)."""
    labels = {s.value: str(s.label) for s in WaybillStatus}
    qs = (
        waybill_list(actor=actor, filters=filters)
        .order_by("id")
        .values_list(
            "waybill_no",
            "carrier__name",
            "branch__name",
            "order__order_no",
            "package_no",
            "status",
            "allocated_at",
            "cancelled_at",
            "recycled_at",
            "receiver_name_masked",
            "receiver_phone_masked",
            "receiver_province",
            "receiver_city",
            "receiver_district",
            "sort_code",
            "print_count",
            "shop_id",
            "order__shop_id",
        )
    )
    for r in qs.iterator(chunk_size=5000):
        yield (
            r[0], r[1], r[2], r[3] if r[16] == r[17] else mask_code(r[3]), r[4],
            labels.get(r[5], r[5]),
            _fmt(r[6]), _fmt(r[7]), _fmt(r[8]), r[9], r[10],
            f"{r[11]}{r[12]}{r[13]}****", r[14], r[15],
        )  # fmt: skip


def reconciliation_run(job: Job) -> dict:
    from django.utils import translation

    actor = _actor_for(job)
    filters = UsageFilters.from_params(_as_text(job.params["filters"]))
    total = waybill_list(actor=actor, filters=filters).count()
    job_progress(job, done=0, total=total)
    file_format = job.params.get("format", "csv")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    name = f"reconciliation-{job.shop.shop_no}-{stamp}.{file_format}"
    path = job_file_path(job, name)
    done = 0
    with translation.override("zh-hans"):
        header = [str(c) for c in COLUMNS]
        rows = reconciliation_rows(actor=actor, filters=filters)
        if file_format == "csv":
            with path.open("w", encoding="utf-8-sig", newline="") as f:
                writer = SafeCsvWriter(f)
                writer.writerow(header)
                for row in rows:
                    writer.writerow(row)
                    done += 1
                    if done % PROGRESS_EVERY == 0:
                        job_progress(job, done=done)
        else:
            from openpyxl import Workbook

            book = Workbook(write_only=True)
            sheet = None
            for row in rows:
                if done % XLSX_SHEET_ROWS == 0:
                    sheet = xlsx_sheet(book, f"对账单{done // XLSX_SHEET_ROWS + 1}")
                    sheet.append(header)
                sheet.append(row)
                done += 1
                if done % PROGRESS_EVERY == 0:
                    job_progress(job, done=done)
            if sheet is None:
                xlsx_sheet(book, "对账单1").append(header)
            book.save(path)
    Job.objects.filter(pk=job.pk).update(file_path=str(path), file_name=name)
    job.file_path, job.file_name = str(path), name
    return {"rows": done, "file_name": name}


RECONCILIATION_STATUS = {
    Job.Status.QUEUED: "generating",
    Job.Status.RUNNING: "generating",
    Job.Status.SUCCEEDED: "generated",
    Job.Status.FAILED: "failed",
}
