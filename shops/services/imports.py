"""CSV and XLSX order import: every line checked first; a file with any bad line imports nothing.

One line per order item; lines with the same order number make one order (the receiver
is taken from its first line). Headers may be Chinese (as merchants' exports have them)
or the API's English field names.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from shops.errors import ImportInvalid
from shops.models import Order, OrderEvent, OrderItem, OrderStatus
from shops.services.orders import clean_order, order_build
from waybill_console import permissions as perms
from waybill_console.errors import ValidationError
from waybill_console.tenancy import Actor

MAX_LINES = 10_000
MAX_BYTES = 10 * 1024 * 1024

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
]


def _rows_from_csv(raw: bytes) -> list[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValidationError.for_fields(file="The file is neither UTF-8 nor GB18030 text.")
    return [row for row in csv.reader(io.StringIO(text))]


def _rows_from_xlsx(raw: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ValidationError.for_fields(file=f"Not a readable XLSX file ({type(exc).__name__}).")
    sheet = book.worksheets[0]
    rows = []
    for values in sheet.iter_rows(values_only=True):
        rows.append(
            [
                "" if v is None else (v.isoformat(sep=" ") if isinstance(v, datetime) else str(v))
                for v in values
            ]
        )
    book.close()
    return rows


def read_rows(*, file_name: str, raw: bytes) -> list[list[str]]:
    if len(raw) > MAX_BYTES:
        raise ValidationError.for_fields(file="At most 10 MB.")
    name = (file_name or "").lower()
    if name.endswith(".xlsx"):
        return _rows_from_xlsx(raw)
    if name.endswith(".csv") or name.endswith(".txt"):
        return _rows_from_csv(raw)
    raise ValidationError.for_fields(file="Choose a .csv or .xlsx file.")


def _column_map(header: list[str]) -> tuple[dict[str, int], list[dict]]:
    index: dict[str, int] = {}
    normalized = [h.strip().lstrip("\ufeff") for h in header]
    for field, names in HEADERS.items():
        for i, h in enumerate(normalized):
            if h in names or h.lower() in names:
                index[field] = i
                break
    missing = [HEADERS[f][0] for f in REQUIRED if f not in index]
    errors = [{"line": 1, "field": "header", "message": f"Missing column: {m}"} for m in missing]
    return index, errors


def _number(value: str) -> str:
    value = value.strip()
    return value[:-2] if value.endswith(".0") and value[:-2].isdigit() else value


def order_import(*, actor: Actor, file_name: str, raw: bytes) -> dict:
    """Import a file; returns counts, or raises ImportInvalid listing every bad line."""
    actor.require(perms.ORDER_MANAGE)
    shop = actor.require_shop()
    rows = read_rows(file_name=file_name, raw=raw)
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise ValidationError.for_fields(file="The file is empty.")
    if len(rows) - 1 > MAX_LINES:
        raise ValidationError.for_fields(file=f"At most {MAX_LINES} lines per file.")
    index, problems = _column_map(rows[0])
    if problems:
        raise ImportInvalid(count=len(problems), detail={"lines": problems})

    def cell(row, field):
        i = index.get(field)
        return row[i].strip() if i is not None and i < len(row) else ""

    groups: dict[str, dict] = {}
    for line_no, row in enumerate(rows[1:], start=2):
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
    for order_no, group in groups.items():
        row = group["row"]
        errors: dict[str, str] = {}
        status_word = cell(row, "status").lower()
        status = STATUS_WORDS.get(status_word)
        if status is None:
            errors["status"] = "paid/unpaid (已付款/待付款)."
            status = OrderStatus.PAID
        paid_at = None
        if cell(row, "paid_at"):
            paid_at = parse_datetime(cell(row, "paid_at"))
            if paid_at is None:
                errors["paid_at"] = "A time like 2026-11-23 10:30:00."
            elif timezone.is_naive(paid_at):
                paid_at = timezone.make_aware(paid_at)
        if order_no in existing:
            errors["order_no"] = "This order number already exists in the shop."
        data = clean_order(
            order_no=order_no,
            items=group["items"],
            status=status,
            paid_at=paid_at,
            buyer_note=cell(row, "buyer_note"),
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
            problems.append({"line": line, "field": field, "message": message})
        if data is not None and not errors:
            valid.append(data)
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
                actor=actor.describe(),
                data={"status": o.status, "import": file_name[:100]},
            )
            for o in orders
        )
    return {"orders": len(orders), "items": sum(len(d.items) for d in valid)}


def template_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(TEMPLATE_HEADER)
    writer.writerow(
        [
            "DY20261123001",
            "已付款",
            "2026-11-23 10:30:00",
            "CUP-500-W",
            "真空保温杯",
            "500ml 白色",
            "2",
            "39.90",
            "张三",
            "13812345678",
            "浙江省",
            "杭州市",
            "西湖区",
            "文三路 90 号 3 幢 501",
            "请尽快发货",
        ]
    )
    return ("\ufeff" + out.getvalue()).encode("utf-8")
