"""Settlement prices (kept by the factory, per merchant and SKU) and statements (对账单).

A statement lists, for one merchant–factory pair and a date range, every order the
factory returned a number for in that range, item by item with its settlement price and
amount; an item without a price is flagged (``缺少结算价``) and left out of the total. At
most 3 statements per pair a day, at least 10 minutes apart, whichever side asks: the
count is taken with the pair's binding row locked, so two requests at the same moment
cannot both pass.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from dropship.errors import BindingNotActive, StatementLimit
from dropship.models import Allocation, Binding, FactoryOrder, SettlementPrice, Statement
from dropship.services.identity import FACTORY, MERCHANT, profile_for
from shops.models import Shop
from shops.services.order_intake import item_text_error
from waybill_console import inputs
from waybill_console import permissions as perms
from waybill_console.crypto import mask_code
from waybill_console.errors import ValidationError
from waybill_console.exports import SafeCsvWriter, xlsx_sheet
from waybill_console.jobs import job_create, job_file_path, job_progress
from waybill_console.models import Job
from waybill_console.tenancy import Actor

STATEMENTS_PER_DAY = 3
STATEMENT_GAP = timedelta(minutes=10)
MAX_RANGE_DAYS = 92
PRICE_BATCH_LIMIT = 1000
MAX_PRICE = Decimal("9999999999.99")
CENT = Decimal("0.01")


def _side(actor: Actor) -> tuple[Shop, str]:
    actor.require(perms.DROPSHIP_MANAGE)
    shop = actor.require_shop()
    return shop, profile_for(shop).identity


def _bound(merchant_id: int, factory_id: int) -> bool:
    """A pair that is, or once was, bound (statements cover past work too)."""
    return Binding.objects.filter(
        merchant_id=merchant_id, factory_id=factory_id, confirmed_at__isnull=False
    ).exists()


# --- prices ---------------------------------------------------------------------------------


def prices_set(*, actor: Actor, prices: list) -> list[SettlementPrice]:
    """The factory sets prices ``[{"merchant": shop_no, "sku", "price", "product_name"?}]``
    (upsert; ``price: null`` removes one). All or nothing: one bad row refuses the lot."""
    shop, side = _side(actor)
    if side != FACTORY:
        from dropship.errors import NotAMerchant

        raise NotAMerchant(identity=FACTORY.label)
    if not isinstance(prices, list) or not prices:
        raise ValidationError.for_fields(prices=_("A list of prices."))
    if len(prices) > PRICE_BATCH_LIMIT:
        raise ValidationError.for_fields(
            prices=_("At most %(n)s at a time.") % {"n": PRICE_BATCH_LIMIT}
        )
    merchants = {
        s.shop_no: s
        for s in Shop.objects.filter(
            factory_bindings__factory=shop, factory_bindings__confirmed_at__isnull=False
        ).distinct()
    }
    errors: dict[str, str] = {}
    rows = []
    for i, entry in enumerate(prices):
        if not isinstance(entry, dict):
            errors[f"prices[{i}]"] = str(_("An object."))
            continue
        merchant = merchants.get(str(entry.get("merchant", "")).strip())
        if merchant is None:
            # the factory names merchants by masked id (the API door resolves it)
            errors[f"prices[{i}].merchant"] = str(
                _("The masked ID of a merchant bound to your factory, as shown to you.")
            )
        sku = str(entry.get("sku") or "").strip()
        if not sku or len(sku) > 64:
            errors[f"prices[{i}].sku"] = str(_("The product's SKU (at most 64 characters)."))
        raw = entry.get("price")
        price = None
        if raw is not None and raw != "":
            try:
                price = inputs.finite_decimal(raw).quantize(Decimal("0.01"))
            except (InvalidOperation, ValueError):
                price = Decimal(-1)
            if price < 0 or price > MAX_PRICE:
                errors[f"prices[{i}].price"] = str(_("A price of 0 or more, in yuan."))
        name = str(entry.get("product_name") or "").strip()
        if problem := item_text_error("product_name", name):
            errors[f"prices[{i}].product_name"] = problem
        rows.append((merchant, sku, price, name))
    if errors:
        raise ValidationError.for_fields(**errors)
    saved = []
    with transaction.atomic():
        for merchant, sku, price, name in rows:
            if price is None:
                SettlementPrice.objects.filter(factory=shop, merchant=merchant, sku=sku).delete()
                continue
            obj, _created = SettlementPrice.objects.update_or_create(
                factory=shop,
                merchant=merchant,
                sku=sku,
                defaults={"price": price, **({"product_name": name} if name else {})},
            )
            saved.append(obj)
    return saved


def price_sheet(*, actor: Actor, merchant: Shop | None = None) -> list[dict]:
    """For the factory: every product its merchants handed to it, with its price or none
    (missing prices first), plus prices kept for products not handed over yet. A row
    names its merchant as the factory sees it: ``merchant`` is the masked id, never the
    shop number (``merchant_id`` is for the server's own pages, never rendered)."""
    shop, side = _side(actor)
    scope = Q(factory=shop)
    if merchant is not None:
        scope &= Q(merchant=merchant)
    handed = (
        Allocation.objects.filter(scope)
        .values_list(
            "merchant_id", "merchant__shop_no", "order_item__sku", "order_item__product_name"
        )
        .distinct()
    )
    prices = {
        (p.merchant_id, p.sku): p
        for p in SettlementPrice.objects.filter(scope).select_related("merchant")
    }
    sheet: dict[tuple, dict] = {}
    for merchant_id, shop_no, sku, name in handed:
        price = prices.get((merchant_id, sku))
        sheet[(merchant_id, sku)] = {
            "merchant_id": merchant_id,
            "merchant": mask_code(shop_no),
            "sku": sku,
            "product_name": name,
            "price": price.price if price else None,
        }
    for (merchant_id, sku), price in prices.items():
        sheet.setdefault(
            (merchant_id, sku),
            {
                "merchant_id": merchant_id,
                "merchant": mask_code(price.merchant.shop_no),
                "sku": sku,
                "product_name": price.product_name,
                "price": price.price,
            },
        )
    return sorted(
        sheet.values(),
        key=lambda r: (r["price"] is not None, r["merchant"], r["merchant_id"], r["sku"]),
    )


# --- statements -----------------------------------------------------------------------------


def _date(value, field: str, errors: dict) -> date | None:
    try:
        return inputs.parse_day(value)
    except ValueError:
        errors[field] = inputs.day_message()
        return None


def statement_start(
    *,
    actor: Actor,
    counterpart: str,
    date_from,
    date_to,
    file_format: str = "csv",
    now: datetime | None = None,
) -> Statement:
    """A merchant asks for a statement with a factory (``counterpart``: the factory's shop
    number), or a factory with a merchant; a job builds the file."""
    shop, side = _side(actor)
    errors: dict[str, str] = {}
    other = Shop.objects.filter(shop_no=str(counterpart or "").strip()).first()
    field = "factory" if side == MERCHANT else "merchant"
    start = _date(date_from, "date_from", errors)
    end = _date(date_to, "date_to", errors)
    if file_format not in ("csv", "xlsx"):
        errors["format"] = str(_("CSV or XLSX."))
    if start and end:
        if end < start:
            errors["date_to"] = str(_("On or after the start date."))
        elif (end - start).days >= MAX_RANGE_DAYS:
            errors["date_to"] = str(_("At most %(n)s days.") % {"n": MAX_RANGE_DAYS})
    if other is None:
        errors[field] = str(
            _("The shop number of a bound factory.")
            if field == "factory"
            else _("The shop number of a bound merchant.")
        )
    if errors:
        raise ValidationError.for_fields(**errors)
    merchant, factory = (shop, other) if side == MERCHANT else (other, shop)
    if not _bound(merchant.pk, factory.pk):
        raise BindingNotActive()  # no shop number or id in the answer
    at = now or timezone.now()
    with transaction.atomic():
        # the pair's bindings, locked: the count below cannot race another request
        list(
            Binding.objects.select_for_update()
            .filter(merchant=merchant, factory=factory)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        day_start = timezone.localtime(at).replace(hour=0, minute=0, second=0, microsecond=0)
        day_end = day_start + timedelta(days=1)
        # the gap holds across midnight too: look back at least STATEMENT_GAP
        recent = list(
            Statement.objects.filter(
                merchant=merchant,
                factory=factory,
                created_at__gte=min(day_start, at - STATEMENT_GAP),
                created_at__lt=max(day_end, at + STATEMENT_GAP),
            ).values_list("created_at", flat=True)
        )
        today = [t for t in recent if day_start <= t < day_end]
        near = [t for t in recent if abs(at - t) < STATEMENT_GAP]
        if len(today) >= STATEMENTS_PER_DAY or near:
            retry = day_end if len(today) >= STATEMENTS_PER_DAY else max(near) + STATEMENT_GAP
            raise StatementLimit(
                per_day=STATEMENTS_PER_DAY,
                minutes=int(STATEMENT_GAP.total_seconds() // 60),
                detail={"today": len(today), "retry_after": retry.isoformat()},
            )
        statement = Statement.objects.create(
            merchant=merchant,
            factory=factory,
            requested_by=shop,
            date_from=start,
            date_to=end,
            file_format=file_format,
            created_at=at,
        )
        statement.job = job_create(
            actor=actor,
            kind="dropship_statement",
            params={"statement": statement.pk, "side": side},
        )
        statement.save(update_fields=["job"])
    return statement


COLUMNS = (
    _("Merchant"),
    _("Factory"),
    _("Order number"),
    _("Returned at"),
    _("Carrier"),
    _("Tracking number"),
    _("SKU"),
    _("Product"),
    _("Spec"),
    _("Quantity"),
    _("Settlement price"),
    pgettext_lazy("money", "Amount"),  # 金额 (the ledger's "Amount" is a count: 数量)
    _("Note"),
)


def statement_rows(statement: Statement, *, side: str):
    """``(row, amount or None)`` per returned item, in return order. The factory's copy
    masks the merchant's id and order numbers."""
    tz = timezone.get_current_timezone()
    start = datetime.combine(statement.date_from, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(statement.date_to + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    prices = dict(
        SettlementPrice.objects.filter(
            merchant=statement.merchant, factory=statement.factory
        ).values_list("sku", "price")
    )
    orders = (
        FactoryOrder.objects.filter(
            merchant=statement.merchant,
            factory=statement.factory,
            returned_at__gte=start,
            returned_at__lt=end,
        )
        .select_related("order")
        .order_by("returned_at", "pk")
    )
    merchant_name = profile_for(statement.merchant).display_name or statement.merchant.name
    merchant_id = statement.merchant.shop_no
    if side == FACTORY:
        merchant_id = mask_code(merchant_id)
    for fo in orders.iterator(chunk_size=500):
        order_no = fo.order.order_no if side == MERCHANT else mask_code(fo.order.order_no)
        items = (
            Allocation.objects.filter(factory_order=fo, status=Allocation.Status.ALLOCATED)
            .select_related("order_item")
            .order_by("order_item_id")
        )
        for a in items:
            item = a.order_item
            price = prices.get(item.sku)
            amount = price * item.quantity if price is not None else None
            yield (
                [
                    f"{merchant_name} ({merchant_id})",
                    statement.factory.name,
                    order_no,
                    timezone.localtime(fo.returned_at).strftime("%Y-%m-%d %H:%M:%S"),
                    fo.carrier_code,
                    fo.tracking_no,
                    item.sku,
                    item.product_name,
                    item.spec,
                    item.quantity,
                    # Decimals: numbers in XLSX, 12.50 in CSV (waybill_console.exports)
                    "" if price is None else price.quantize(CENT),
                    "" if amount is None else amount.quantize(CENT),
                    "" if price is not None else "缺少结算价",
                ],
                amount,
            )


def statement_run(job: Job) -> dict:
    from django.utils import translation

    statement = Statement.objects.select_related("merchant", "factory").get(
        pk=job.params["statement"]
    )
    side = job.params.get("side", MERCHANT)
    name = (
        f"statement-{statement.factory.shop_no}-{statement.date_from:%Y%m%d}-"
        f"{statement.date_to:%Y%m%d}-{statement.pk}.{statement.file_format}"
    )
    path = job_file_path(job, name)
    count, missing, total = 0, 0, Decimal("0.00")
    with translation.override("zh-hans"):
        header = [str(c) for c in COLUMNS]
        rows = statement_rows(statement, side=side)
        if statement.file_format == "csv":
            out = path.open("w", encoding="utf-8-sig", newline="")
            writer = SafeCsvWriter(out)
            write = writer.writerow
        else:
            from openpyxl import Workbook

            book = Workbook(write_only=True)
            sheet = xlsx_sheet(book, "对账单")
            write = sheet.append
        write(header)
        for row, amount in rows:
            write(row)
            count += 1
            if amount is None:
                missing += 1
            else:
                total += amount
            if count % 1000 == 0:
                job_progress(job, done=count)
        write(["合计", "", "", "", "", "", "", "", "", "", "", total.quantize(CENT),
               f"缺少结算价 {missing} 项" if missing else ""])  # fmt: skip
        if statement.file_format == "csv":
            out.close()
        else:
            book.save(path)
    Job.objects.filter(pk=job.pk).update(file_path=str(path), file_name=name)
    job.file_path, job.file_name = str(path), name
    return {"rows": count, "missing_prices": missing, "total": f"{total:.2f}", "file_name": name}
