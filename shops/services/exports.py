"""Order export (masked values only, last 90 days, ≤ 15,000 rows) and the pick list PDF."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from shops.errors import ExportTooLarge
from shops.models import Order, Product
from waybill_console import permissions as perms
from waybill_console.errors import BatchTooLarge, ValidationError
from waybill_console.exports import SafeCsvWriter, xlsx_sheet
from waybill_console.jobs import job_create, job_file_path, job_progress
from waybill_console.models import Job
from waybill_console.tenancy import Actor

EXPORT_MAX_ROWS = 15_000
EXPORT_MAX_DAYS = 90
PICK_LIST_MAX_ORDERS = 500
PROGRESS_EVERY = 500

COLUMNS = [
    "订单号",
    "订单状态",
    "下单时间",
    "付款时间",
    "商品",
    "金额",
    "收件人",
    "手机号",
    "收件地区",
    "详细地址",
    "快递公司",
    "运单号",
    "售后状态",
    "取消原因",
]


def _export_queryset(actor: Actor, params: dict, order_ids: list[int] | None = None):
    """The shop's orders of the last 90 days matching ``params``; with ``order_ids`` (the
    rows ticked on the list) exactly those, whatever the filters."""
    from shops.selectors import OrderFilters, order_list

    filters = OrderFilters.from_params({} if order_ids else params)
    today = timezone.localdate()
    earliest = today - timedelta(days=EXPORT_MAX_DAYS - 1)
    if filters.date_from is None:
        filters.date_from = earliest
    if filters.date_from < earliest:
        raise ValidationError.for_fields(
            date_from=_("An export covers at most the last %(days)s days (from %(first)s).")
            % {"days": EXPORT_MAX_DAYS, "first": earliest.isoformat()}
        )
    qs = order_list(actor=actor, filters=filters)
    if order_ids:
        qs = qs.filter(pk__in=order_ids)
    return filters, qs


def _ticked(order_ids) -> list[int]:
    if not isinstance(order_ids, list | tuple):
        raise ValidationError.for_fields(orders=_("A list of order ids."))
    try:
        return list(dict.fromkeys(int(i) for i in order_ids))
    except (TypeError, ValueError):
        raise ValidationError.for_fields(orders=_("A list of order ids.")) from None


def order_export_start(
    *, actor: Actor, params: dict, file_format: str = "csv", order_ids: list[int] | None = None
) -> Job:
    """Check the limits now (a clear refusal), then write the file in a Celery job.

    ``order_ids``: the rows ticked on the order list; the export is exactly those (still
    this shop's, still the last 90 days and at most 15,000 rows); none: the filters."""
    actor.require(perms.EXPORT)
    if file_format not in ("csv", "xlsx"):
        raise ValidationError.for_fields(format=_("CSV or XLSX."))
    ids = _ticked(order_ids) if order_ids else []
    if len(ids) > EXPORT_MAX_ROWS:
        raise ExportTooLarge(
            limit=EXPORT_MAX_ROWS,
            count=len(ids),
            detail={"count": len(ids), "limit": EXPORT_MAX_ROWS},
        )
    filters, qs = _export_queryset(actor, params, ids)
    count = qs.count()
    if count > EXPORT_MAX_ROWS:
        raise ExportTooLarge(
            limit=EXPORT_MAX_ROWS, count=count, detail={"count": count, "limit": EXPORT_MAX_ROWS}
        )
    if ids and count != len(ids):
        raise ValidationError.for_fields(
            orders=_(
                "%(count)s of the ticked orders cannot be exported: an export covers this "
                "shop's orders of the last %(days)s days. Untick them."
            )
            % {"count": len(ids) - count, "days": EXPORT_MAX_DAYS}
        )
    job_params = {"filters": filters.as_params(), "format": file_format}
    if ids:
        job_params["orders"] = ids
    return job_create(actor=actor, kind="order_export", total=count, params=job_params)


def _row(order: Order) -> list:
    items = "; ".join(
        f"{i.product_name} {i.spec} ×{i.quantity}".replace("  ", " ") for i in order.items.all()
    )
    local = timezone.localtime
    return [
        order.order_no,
        str(order.get_status_display()),
        local(order.created_at).strftime("%Y-%m-%d %H:%M:%S"),
        local(order.paid_at).strftime("%Y-%m-%d %H:%M:%S") if order.paid_at else "",
        items,
        order.total_amount,  # a Decimal: a number in XLSX (waybill_console.exports)
        order.receiver_name_masked,
        order.receiver_phone_masked,
        f"{order.receiver_province}{order.receiver_city}{order.receiver_district}",
        "****",
        order.carrier_code,
        order.tracking_no,
        str(order.get_after_sale_status_display()) if order.after_sale_status != "none" else "",
        order.cancel_reason,
    ]


def order_export_run(job: Job) -> dict:
    """The job: stream the rows (masked only) to CSV or XLSX, reporting progress."""
    from django.utils import translation

    actor = Actor.system(shop=job.shop)
    _, qs = _export_queryset(actor, job.params["filters"], job.params.get("orders"))
    qs = qs.order_by("-created_at", "-id").prefetch_related("items")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    file_format = job.params.get("format", "csv")
    name = f"orders-{job.shop.shop_no}-{stamp}.{file_format}"
    path = job_file_path(job, name)
    done = 0
    with translation.override("zh-hans"):
        if file_format == "csv":
            with path.open("w", encoding="utf-8-sig", newline="") as f:
                writer = SafeCsvWriter(f)
                writer.writerow(COLUMNS)
                for order in qs.iterator(chunk_size=1000):
                    writer.writerow(_row(order))
                    done += 1
                    if done % PROGRESS_EVERY == 0:
                        job_progress(job, done=done)
        else:
            from openpyxl import Workbook

            book = Workbook(write_only=True)
            sheet = xlsx_sheet(book, "订单")
            sheet.append(COLUMNS)
            for order in qs.iterator(chunk_size=1000):
                sheet.append(_row(order))
                done += 1
                if done % PROGRESS_EVERY == 0:
                    job_progress(job, done=done)
            book.save(path)
    Job.objects.filter(pk=job.pk).update(file_path=str(path), file_name=name)
    return {"rows": done, "file_name": name}


def _shelf_key(bin_location: str) -> tuple:
    """Bins in walking order: numbers compared as numbers (A-2 before A-10), SKUs without a
    bin last."""
    parts = re.split(r"(\d+)", bin_location.upper())
    return (not bin_location, [int(p) if i % 2 else p for i, p in enumerate(parts)])


def pick_list_lines(*, actor: Actor, order_ids: list[int]) -> tuple[list[Order], list[dict]]:
    """拣货单's content: the selected orders (of the actor's shop only) and one line per SKU
    and spec with its bin location (库位, from the shop's product), the total quantity and
    the orders, sorted by bin location then SKU: the order pickers walk the shelves in."""
    from shops.selectors import order_list

    actor.require(perms.PRINT)
    shop = actor.require_shop()
    if not order_ids:
        raise ValidationError.for_fields(orders=_("Select at least one order."))
    if len(order_ids) > PICK_LIST_MAX_ORDERS:
        raise BatchTooLarge(limit=PICK_LIST_MAX_ORDERS, detail={"count": len(order_ids)})
    orders = list(
        order_list(actor=actor)
        .filter(pk__in=order_ids)
        .prefetch_related("items")
        .order_by("created_at", "id")
    )
    groups: dict[tuple[str, str], dict] = {}
    for order in orders:
        for item in order.items.all():
            g = groups.setdefault(
                (item.sku, item.spec),
                {
                    "sku": item.sku,
                    "spec": item.spec,
                    "name": item.product_name,
                    "quantity": 0,
                    "orders": [],
                },
            )
            g["quantity"] += item.quantity
            g["orders"].append(f"{order.order_no}×{item.quantity}")
    bins = dict(
        Product.objects.filter(shop=shop, sku__in={sku for sku, _spec in groups}).values_list(
            "sku", "bin_location"
        )
    )
    for g in groups.values():
        g["bin_location"] = bins.get(g["sku"], "")
    lines = sorted(
        groups.values(), key=lambda g: (_shelf_key(g["bin_location"]), g["sku"], g["spec"])
    )
    return orders, lines


def pick_list_pdf(*, actor: Actor, order_ids: list[int]) -> bytes:
    """拣货单 as a PDF: :func:`pick_list_lines`, one row per line with its 库位."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    from waybill_console.fonts import register_reportlab_cjk

    orders, lines = pick_list_lines(actor=actor, order_ids=order_ids)
    font = register_reportlab_cjk()
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    pdf.setTitle(_("Pick list"))
    width, height = A4
    margin = 15 * mm

    def header():
        pdf.setFont(font, 16)
        pdf.drawString(margin, height - margin, f"拣货单 · {actor.shop.name}")
        pdf.setFont(font, 9)
        pdf.drawString(
            margin,
            height - margin - 6 * mm,
            f"{len(orders)} 个订单 · {len(lines)} 种商品 · "
            f"{sum(g['quantity'] for g in lines)} 件 · "
            f"{timezone.localtime():%Y-%m-%d %H:%M}",
        )
        pdf.setFont(font, 10)
        y = height - margin - 16 * mm
        for x, text in ((0, "库位"), (25, "SKU"), (65, "商品"), (120, "规格"), (160, "数量")):
            pdf.drawString(margin + x * mm, y, text)
        pdf.line(margin, y - 2 * mm, width - margin, y - 2 * mm)
        return y - 7 * mm

    y = header()
    for g in lines:
        order_lines = []
        line = ""
        for ref in g["orders"]:
            if len(line) + len(ref) > 80:
                order_lines.append(line)
                line = ""
            line = f"{line}  {ref}" if line else ref
        if line:
            order_lines.append(line)
        needed = (6 + 4 * len(order_lines)) * mm
        if y - needed < margin:
            pdf.showPage()
            y = header()
        pdf.setFont(font, 10)
        pdf.drawString(margin, y, g["bin_location"][:12] or "—")
        pdf.drawString(margin + 25 * mm, y, g["sku"][:22])
        pdf.drawString(margin + 65 * mm, y, g["name"][:28])
        pdf.drawString(margin + 120 * mm, y, g["spec"][:20])
        pdf.setFont(font, 12)
        pdf.drawString(margin + 160 * mm, y, str(g["quantity"]))
        pdf.setFont(font, 8)
        for text in order_lines:
            y -= 4 * mm
            pdf.drawString(margin + 4 * mm, y, text)
        y -= 6 * mm
    pdf.showPage()
    pdf.save()
    return buf.getvalue()
