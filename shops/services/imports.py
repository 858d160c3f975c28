"""CSV and XLSX order import: every line checked first; a file with any bad line imports nothing.

One line per order item; lines with the same order number make one order (the receiver
is taken from its first line). Headers may be Chinese (as merchants' exports have them)
or the API's English field names.

The file is read within fixed memory by :func:`waybill_console.spreadsheets.read_table`
(zip and dimension checks, streaming, at most :data:`MAX_LINES` lines and
:data:`MAX_COLUMNS` columns). A small file (at most :data:`SYNC_MAX_BYTES`) is imported
while the page or the API waits; a larger one is stored and imported by a job
(:func:`order_import_run`), with progress and the same per-line report. The page, the API
and the job all call :func:`order_import_start` / :func:`order_import`: one set of rules.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from shops.errors import ImportInvalid
from shops.models import Order, OrderEvent, OrderItem, OrderStatus
from shops.services import order_outbox
from shops.services.order_intake import clean_order, order_build
from waybill_console import permissions as perms
from waybill_console.exports import SafeCsvWriter
from waybill_console.jobs import job_create, job_file_path, job_progress
from waybill_console.models import Job
from waybill_console.spreadsheets import MAX_UPLOAD_BYTES, FileRefused, read_table
from waybill_console.tenancy import Actor

MAX_LINES = 10_000
MAX_BYTES = MAX_UPLOAD_BYTES
#: columns read from a file; anything right of them is ignored (the template has 16)
MAX_COLUMNS = 50
#: files up to this size are imported at once; larger ones by a job (202 on the API)
SYNC_MAX_BYTES = 64 * 1024
PROGRESS_EVERY = 500

HEADERS = {
    "order_no": ("订单号", "订单编号", "order_no"),
    "status": ("订单状态", "状态", "status"),
    "paid_at": ("付款时间", "paid_at"),
    "sku": ("SKU", "商品编码", "sku"),
    "product_name": ("商品名称", "商品", "product_name"),
    "spec": ("规格", "商品规格", "spec"),
    "quantity": ("数量", "quantity"),
    "unit_price": ("单价", "unit_price"),
    "receiver_name": ("收件人", "收货人", "receiver_name"),
    "receiver_phone": ("手机号", "收件人手机", "联系电话", "receiver_phone"),
    "province": ("省", "省份", "province"),
    "city": ("市", "城市", "city"),
    "district": ("区", "区县", "district"),
    "detail": ("详细地址", "detail"),
    "buyer_note": ("买家留言", "buyer_note"),
    "promised_ship_at": ("预售发货时间", "promised_ship_at"),
}
#: the field names of the order services -> the import's columns (for the report's labels)
SERVICE_FIELDS = {
    "receiver.name": "receiver_name",
    "receiver.phone": "receiver_phone",
    "receiver.province": "province",
    "receiver.city": "city",
    "receiver.district": "district",
    "receiver.detail": "detail",
}
REQUIRED = (
    "order_no",
    "sku",
    "product_name",
    "receiver_name",
    "receiver_phone",
    "province",
    "city",
    "detail",
)
STATUS_WORDS = {
    "": OrderStatus.PAID,
    "paid": OrderStatus.PAID,
    "已付款": OrderStatus.PAID,
    "待发货": OrderStatus.PAID,
    "unpaid": OrderStatus.UNPAID,
    "待付款": OrderStatus.UNPAID,
    "未付款": OrderStatus.UNPAID,
}
#: CSV/XLSX template offered on the import page
TEMPLATE_HEADER = [
    "订单号",
    "订单状态",
    "付款时间",
    "SKU",
    "商品名称",
    "规格",
    "数量",
    "单价",
    "收件人",
    "手机号",
    "省",
    "市",
    "区",
    "详细地址",
    "买家留言",
    "预售发货时间",
]


def read_rows(*, file_name: str, raw: bytes) -> list[tuple[int, list[str]]]:
    """The file's non-empty rows as (line number, cells), header first, within the limits."""
    return read_table(file_name=file_name, raw=raw, max_rows=MAX_LINES + 1, max_columns=MAX_COLUMNS)


def _column_map(header: list[str]) -> tuple[dict[str, int], dict[str, str], list[dict]]:
    """(field -> column index, field -> the file's own column title, header problems)."""
    index: dict[str, int] = {}
    titles: dict[str, str] = {}
    normalized = [h.strip().lstrip("\ufeff") for h in header]
    for field, names in HEADERS.items():
        for i, h in enumerate(normalized):
            if h in names or h.lower() in names:
                index[field] = i
                titles[field] = h
                break
    missing = [HEADERS[f][0] for f in REQUIRED if f not in index]
    errors = [
        {
            "line": 1,
            "field": "header",
            "label": str(HEADER_LABEL),
            "message": str(_("Missing column: %(column)s") % {"column": m}),
        }
        for m in missing
    ]
    return index, titles, errors


HEADER_LABEL = _("Header")


def _label(field: str, titles: dict[str, str]) -> str:
    """The column a problem is about, as the file names it (省, 手机号, province …)."""
    if field.startswith("items["):
        rest = field.partition("].")[2]
        if not rest:  # the item as a whole: its quantity or price is not a number
            return "/".join(titles.get(f, HEADERS[f][0]) for f in ("quantity", "unit_price"))
        field = rest
    field = SERVICE_FIELDS.get(field, field)
    if field in HEADERS:
        return titles.get(field, HEADERS[field][0])
    return field


def _moment(value: str):
    """(an aware time or None, a problem or None) from a cell such as 2026-11-23 10:30:00 or
    a bare day 2026-12-01 (its start, in the shop's time zone)."""
    if not value:
        return None, None
    try:
        moment = parse_datetime(value)
        if moment is None and (day := parse_date(value)) is not None:
            moment = datetime.combine(day, time.min)
    except ValueError:  # well formed but no such time (2026-02-30)
        moment = None
    if moment is None:
        return None, str(_("A time like 2026-11-23 10:30:00."))
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment, None


def _number(value: str) -> str:
    value = value.strip()
    return value[:-2] if value.endswith(".0") and value[:-2].isdigit() else value


@dataclass
class ImportStarted:
    """What :func:`order_import_start` did: imported at once (``result``) or queued
    (``job``)."""

    result: dict | None = None
    job: Job | None = None


def order_import_start(*, actor: Actor, file_name: str, upload) -> ImportStarted:
    """The one door of the page and the API: refuse an oversized upload before reading it,
    import a small file now, hand a larger one to a job (the file is kept only until the
    job has read it). ``upload`` is a Django ``UploadedFile`` (or ``bytes``)."""
    actor.require(perms.ORDER_MANAGE)
    actor.require_shop()
    size = len(upload) if isinstance(upload, bytes) else upload.size
    if size > MAX_BYTES:
        raise FileRefused(
            _("The file is larger than %(limit)s MB; at most %(limit)s MB."),
            limit=MAX_BYTES // (1024 * 1024),
        )
    raw = upload if isinstance(upload, bytes) else upload.read()
    suffix = Path(file_name or "").suffix.lower()
    if suffix not in (".csv", ".txt", ".xlsx"):
        raise FileRefused(_("Choose a .csv or .xlsx file."))
    if size <= SYNC_MAX_BYTES:
        return ImportStarted(result=order_import(actor=actor, file_name=file_name, raw=raw))
    with transaction.atomic():  # the task is sent on commit, once the file is written
        job = job_create(
            actor=actor,
            kind="order_import",
            params={
                "file_name": file_name[:100],
                "by": actor.describe(),
                "language": translation.get_language() or "zh-hans",
            },
        )
        path = job_file_path(job, f"upload{suffix}")
        path.write_bytes(raw)
        job.params["upload"] = str(path)
        Job.objects.filter(pk=job.pk).update(params=job.params)
    return ImportStarted(job=job)


def order_import_run(job: Job) -> dict:
    """The job: the same :func:`order_import`, reporting progress; the stored upload (it
    holds consumer data in clear) is deleted once read to the end, imported or refused."""
    path = Path(job.params["upload"])
    raw = path.read_bytes()
    try:
        with translation.override(job.params.get("language") or "zh-hans"):
            return order_import(
                actor=Actor.system(shop=job.shop),
                file_name=job.params["file_name"],
                raw=raw,
                by=job.params.get("by"),
                job=job,
            )
    finally:
        path.unlink(missing_ok=True)


def order_import(
    *, actor: Actor, file_name: str, raw: bytes, by: str | None = None, job: Job | None = None
) -> dict:
    """Import a file; returns counts, or raises ImportInvalid listing every bad line (line
    number, field, the file's column title as ``label``, message). ``job``: report progress
    to it (lines checked)."""
    actor.require(perms.ORDER_MANAGE)
    shop = actor.require_shop()
    rows = read_rows(file_name=file_name, raw=raw)
    del raw
    if not rows:
        raise FileRefused(_("The file is empty."))
    header_line, header = rows[0]
    index, titles, problems = _column_map(header)
    if problems:
        for p in problems:
            p["line"] = header_line
        raise ImportInvalid(count=len(problems), detail={"lines": problems})
    if job is not None:
        job_progress(job, done=0, total=len(rows) - 1)

    def cell(row, field):
        i = index.get(field)
        return row[i].strip() if i is not None and i < len(row) else ""

    groups: dict[str, dict] = {}
    for line_no, row in rows[1:]:
        order_no = cell(row, "order_no")
        group = groups.get(order_no)
        if group is None:
            group = groups[order_no] = {"line": line_no, "lines": [], "row": row, "items": []}
        group["lines"].append(line_no)
        group["items"].append(
            {
                "sku": cell(row, "sku"),
                "product_name": cell(row, "product_name"),
                "spec": cell(row, "spec"),
                "quantity": _number(cell(row, "quantity")) or "1",
                "unit_price": cell(row, "unit_price") or "0",
            }
        )

    now = timezone.now()
    existing = set(
        Order.objects.filter(shop=shop, order_no__in=list(groups)).values_list(
            "order_no", flat=True
        )
    )
    problems, valid = [], []
    checked = reported = 0
    for order_no, group in groups.items():
        row = group["row"]
        errors: dict[str, str] = {}
        status_word = cell(row, "status").lower()
        status = STATUS_WORDS.get(status_word)
        if status is None:
            errors["status"] = str(_("Paid or unpaid (已付款/待付款)."))
            status = OrderStatus.PAID
        paid_at, problem = _moment(cell(row, "paid_at"))
        if problem:
            errors["paid_at"] = problem
        promised_ship_at, problem = _moment(cell(row, "promised_ship_at"))
        if problem:
            errors["promised_ship_at"] = problem
        if order_no in existing:
            errors["order_no"] = str(_("This order number already exists in the shop."))
        data = clean_order(
            order_no=order_no,
            items=group["items"],
            status=status,
            paid_at=paid_at,
            buyer_note=cell(row, "buyer_note"),
            promised_ship_at=promised_ship_at,
            errors=errors,
            receiver={
                "name": cell(row, "receiver_name"),
                "phone": cell(row, "receiver_phone"),
                "province": cell(row, "province"),
                "city": cell(row, "city"),
                "district": cell(row, "district"),
                "detail": cell(row, "detail"),
            },
        )
        for field, message in errors.items():
            line = group["line"]
            if field.startswith("items["):
                line = group["lines"][int(field[6 : field.index("]")])]
            problems.append(
                {"line": line, "field": field, "label": _label(field, titles), "message": message}
            )
        if data is not None and not errors:
            valid.append(data)
        checked += len(group["lines"])
        if job is not None and checked >= reported + PROGRESS_EVERY:
            job_progress(job, done=checked)
            reported = checked
    if problems:
        problems.sort(key=lambda p: (p["line"], p["field"]))
        raise ImportInvalid(count=len({p["line"] for p in problems}), detail={"lines": problems})

    with transaction.atomic():
        orders = Order.objects.bulk_create([order_build(shop=shop, data=d, now=now) for d in valid])
        OrderItem.objects.bulk_create(
            OrderItem(order=o, **it) for o, d in zip(orders, valid, strict=True) for it in d.items
        )
        OrderEvent.objects.bulk_create(
            OrderEvent(
                order=o,
                at=now,
                kind="created",
                actor=by or actor.describe(),
                data={"status": o.status, "import": file_name[:100]},
            )
            for o in orders
        )
        order_outbox.orders_emit(order_outbox.CREATED, orders)
    return {"orders": len(orders), "items": sum(len(d.items) for d in valid)}


def template_csv() -> bytes:
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    writer.writerow(TEMPLATE_HEADER)
    writer.writerow(
        [
            "DY20261123001",
            "已付款",
            "2026-11-23 10:30:00",
            "CUP-500-W",
            "真空保温杯",
            "500ml 白色",
            2,
            Decimal("39.90"),
            "张三",
            "13812345678",
            "浙江省",
            "杭州市",
            "西湖区",
            "文三路 90 号 3 幢 501",
            "请尽快发货",
            "",
        ]
    )
    return ("\ufeff" + out.getvalue()).encode("utf-8")
