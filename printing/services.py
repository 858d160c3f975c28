"""Templates, label data (the only place a label's receiver is decrypted, audited) and
rendering with print counts.

A label's receiver is decrypted through :func:`waybill_console.crypto.reveal`, which
writes a DecryptionAudit row per waybill: pages, lists and exports never decrypt. A
privacy template (隐私面单) decrypts the street only: the name and phone it prints are the
waybill's stored masks, so its audit row names ``receiver_detail`` alone.

What the carrier returned for the label (``Waybill.print_data``, written by the carrier
adapters in these normalised keys) prints instead of our own values:

* ``qr``: the QR code's content (SF's 丰密 ``twoDimensionCode``) instead of the order
  number, wherever the template places its QR code;
* the sort band (三段码) prints ``route_code`` (SF's ``destRouteLabel``), else the
  waybill's ``sort_code`` (the screening's routing); ``coding_mapping`` (SF's
  ``codingMapping``, the arriving hub's code) follows it after a space;
* ``pro_name`` (SF's product name, 顺丰标快) leads the service marks, in place of our
  own "standard" mark.

A key absent, empty or not text leaves the label as it was without it.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from carriers.models import Carrier
from carriers.quota.usage import printed_add
from printing import layout as L
from printing.errors import PaperSizeMismatch, WaybillNotPrintable
from printing.models import LabelTemplate, Printer
from printing.renderers import FORMATS, render
from printing.reprints import reprint_check, reprints_record
from shops.errors import OrderBlocked
from shops.models import OrderItem
from shops.services.order_events import LABEL_PRINTED, order_waybill_events_record
from shops.services.order_states import order_refuse_if_blocked
from waybill_console import permissions as perms
from waybill_console.crypto import mask_code, reveal
from waybill_console.errors import NotFound, ValidationError
from waybill_console.tenancy import Actor
from waybills.models import LIVE_STATUSES, Waybill
from waybills.selectors import waybill_check

SERVICE_MARKS = {"standard": "标快", "insured": "保价", "cod": "代收货款", "fresh": "生鲜"}
DPIS = (203, 300)


# --- templates ------------------------------------------------------------------------------


def _clean_template(data: dict, *, partial: bool, instance: LabelTemplate | None) -> dict:
    errors: dict = {}
    out: dict = {}
    if "carrier" in data or not partial:
        carrier = Carrier.objects.filter(code=str(data.get("carrier") or "").upper()).first()
        if carrier is None:
            errors["carrier"] = _("Unknown carrier code.")
        out["carrier"] = carrier
    if "size" in data or not partial:
        size = str(data.get("size") or "")
        if size not in L.SIZES:
            errors["size"] = _("One of %(values)s.") % {"values": ", ".join(L.SIZES)}
        out["size"] = size
    if "name" in data or not partial:
        name = str(data.get("name") or "").strip()
        if not name or len(name) > 40:
            errors["name"] = _("1 to 40 characters.")
        out["name"] = name
    for key, limit in (("free_text", 100), ("watermark", 20)):
        if key in data:
            value = str(data.get(key) or "").strip()
            if len(value) > limit:
                errors[key] = _("At most %(n)s characters.") % {"n": limit}
            out[key] = value
    for flag in ("grayscale", "privacy"):
        if flag in data:
            out[flag] = bool(data.get(flag))
    if errors:
        raise ValidationError.for_fields(**errors)
    size = out.get("size") or (instance.size if instance else "")
    carrier = out.get("carrier") or (instance.carrier if instance else None)
    if carrier and size and size not in (carrier.label_sizes or L.SIZES):
        raise ValidationError.for_fields(
            size=_("%(carrier)s prints %(sizes)s.")
            % {"carrier": carrier.name, "sizes": ", ".join(carrier.label_sizes)}
        )
    if "custom_fields" in data:
        out["custom_fields"] = L.clean_custom_fields(size, data.get("custom_fields"))
    elif not partial or ("size" in out and instance and out["size"] != instance.size):
        out["custom_fields"] = L.default_custom_fields(size)
    return out


def template_create(*, actor: Actor, data: dict) -> LabelTemplate:
    actor.require(perms.PRINT)
    shop = actor.require_shop()
    fields = _clean_template(data, partial=False, instance=None)
    if LabelTemplate.objects.filter(shop=shop, name=fields["name"]).exists():
        raise ValidationError.for_fields(name=_("A template with this name exists."))
    for _attempt in range(2):
        try:
            with transaction.atomic():
                first = not LabelTemplate.objects.filter(
                    shop=shop, carrier=fields["carrier"], is_default=True
                ).exists()
                return LabelTemplate.objects.create(shop=shop, is_default=first, **fields)
        except IntegrityError:
            # a concurrent create took the name, or became the carrier's default first
            if LabelTemplate.objects.filter(shop=shop, name=fields["name"]).exists():
                raise ValidationError.for_fields(
                    name=_("A template with this name exists.")
                ) from None
    raise ValidationError.for_fields(name=_("A template with this name exists."))


def template_update(*, actor: Actor, template: LabelTemplate, data: dict) -> LabelTemplate:
    actor.require(perms.PRINT)
    if template.shop_id != actor.require_shop().pk:
        raise NotFound()
    fields = _clean_template(data, partial=True, instance=template)
    for key, value in fields.items():
        setattr(template, key, value)
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:
        raise ValidationError.for_fields(name=_("A template with this name exists.")) from None
    if data.get("is_default"):
        template_set_default(actor=actor, template=template)
    return template


def template_set_default(*, actor: Actor, template: LabelTemplate) -> LabelTemplate:
    actor.require(perms.PRINT)
    if template.shop_id != actor.require_shop().pk:
        raise NotFound()
    with transaction.atomic():
        LabelTemplate.objects.filter(
            shop_id=template.shop_id, carrier_id=template.carrier_id, is_default=True
        ).exclude(pk=template.pk).update(is_default=False)
        LabelTemplate.objects.filter(pk=template.pk).update(is_default=True)
    template.is_default = True
    return template


def template_for(*, shop, carrier: Carrier, template_id: int | None = None) -> LabelTemplate:
    """The chosen template, else the shop's default for the carrier, else a built-in one
    (unsaved) at the carrier's first size. The built-in one is not a privacy label: a shop
    that never made a template keeps printing what it printed (a new template is one)."""
    qs = LabelTemplate.objects.filter(shop=shop, carrier=carrier)
    if template_id:
        chosen = LabelTemplate.objects.filter(shop=shop, pk=template_id).first()
        if chosen is None:
            raise ValidationError.for_fields(template=_("Not one of this shop's templates."))
        if chosen.carrier_id != carrier.pk:
            raise ValidationError.for_fields(template=_("This template is for another carrier."))
        return chosen
    default = qs.filter(is_default=True).first()
    if default:
        return default
    size = "100x150" if "100x150" in (carrier.label_sizes or []) else carrier.label_sizes[0]
    return LabelTemplate(
        shop=shop,
        carrier=carrier,
        size=size,
        name=f"{carrier.name} {size}",
        custom_fields=L.default_custom_fields(size),
        privacy=False,
    )


def template_layout(template: LabelTemplate) -> L.Layout:
    return L.build_layout(template.size, template.custom_fields, watermark=bool(template.watermark))


# --- label data -----------------------------------------------------------------------------


def _items_summary(order_id: int) -> tuple[str, str, str]:
    items = OrderItem.objects.filter(order_id=order_id).order_by("pk")
    return _summary(
        [{"name": i.product_name, "spec": i.spec, "quantity": i.quantity} for i in items]
    )


def _summary(items: list) -> tuple[str, str, str]:
    """Product names, specs and the piece count of ``[{"name", "spec", "quantity"}, …]``."""
    items = [i for i in items if isinstance(i, dict)]
    if not items:
        return "", "", ""
    names = "；".join(dict.fromkeys(str(i.get("name", "")) for i in items if i.get("name")))
    specs = "；".join(dict.fromkeys(str(i.get("spec", "")) for i in items if i.get("spec")))
    total = 0
    for i in items:
        try:
            total += int(i.get("quantity") or 0)
        except (TypeError, ValueError):
            continue
    return names, specs, f"共 {total} 件"


def _carrier_text(print_data: dict, key: str) -> str:
    """One of the carrier's label values (``print_data[key]``), or "" when absent or not
    text (a number is printed as given)."""
    value = print_data.get(key) if isinstance(print_data, dict) else None
    if isinstance(value, int | str) and not isinstance(value, bool):
        return str(value).strip()
    return ""


def _carrier_qr(print_data: dict, waybill_no: str) -> str:
    """The carrier's QR for this very number (SF gives one per parcel of a 子母件 order in
    ``qr_by_number``), else the order's (``qr``)."""
    per_number = print_data.get("qr_by_number") if isinstance(print_data, dict) else None
    if isinstance(per_number, dict):
        own = _carrier_text(per_number, waybill_no)
        if own:
            return own
    return _carrier_text(print_data, "qr")


def _receiver_line(
    waybill: Waybill, *, actor: Actor, purpose: str, privacy: bool
) -> tuple[str, str]:
    """The receiver's name and phone, and the street, for the label. A privacy label takes
    the stored masks and decrypts the street only (its audit row says so)."""
    if privacy:
        plain = reveal(waybill, ("receiver_detail",), actor=actor, purpose=purpose)
        line = f"{waybill.receiver_name_masked} {waybill.receiver_phone_masked}"
        return line, plain["receiver_detail"]
    plain = reveal(
        waybill,
        ("receiver_name", "receiver_phone", "receiver_detail"),
        actor=actor,
        purpose=purpose,
    )
    return f"{plain['receiver_name']} {plain['receiver_phone']}", plain["receiver_detail"]


def label_data(
    *,
    actor: Actor,
    waybill: Waybill,
    template: LabelTemplate,
    now: datetime | None = None,
    purpose: str = "print_label",
) -> L.LabelData:
    """What the label shows, with the receiver decrypted (and the decryption audited):
    with ``template.privacy`` the name and phone masked and only the street decrypted.
    The carrier's label data (``waybill.print_data``) takes the QR code, the sort band and
    the service marks as the module's docstring says.

    Every label, whatever its door (the label API, print jobs and their retries, the
    print agent, PDFs), is made here: the number must still be one ``actor`` may act on
    (a factory's number for a withdrawn or unbound dropship order is not: 404)."""
    waybill_check(actor=actor, waybill=waybill)
    receiver_line, street = _receiver_line(
        waybill, actor=actor, purpose=purpose, privacy=template.privacy
    )
    sender = waybill.sender or {}
    order = waybill.order
    # a number drawn by a factory for a merchant's order (代发) carries the factory's items
    # only, the merchant's dropship name and sender, and a masked order number
    for_other_shop = waybill.shop_id != order.shop_id
    if waybill.items:
        product, spec, quantity = _summary(waybill.items)
    else:
        product, spec, quantity = _items_summary(order.pk)
    order_no = mask_code(order.order_no) if for_other_shop else order.order_no
    at = timezone.localtime(now or timezone.now())
    package = ""
    if not for_other_shop and (waybill.package_no > 1 or waybill.parent_id):
        package = f" 第{waybill.package_no}件"
    carrier_data = waybill.print_data or {}
    sort_code = _carrier_text(carrier_data, "route_code") or waybill.sort_code
    coding_mapping = _carrier_text(carrier_data, "coding_mapping")
    if coding_mapping:
        sort_code = f"{sort_code} {coding_mapping}".strip()
    marks = [SERVICE_MARKS.get(code, code) for code in waybill.services or []]
    product_name = _carrier_text(carrier_data, "pro_name")
    if product_name:
        marks = [product_name] + [m for m in marks if m != SERVICE_MARKS["standard"]]
    return L.LabelData(
        waybill_no=waybill.waybill_no,
        carrier_name=waybill.carrier.name,
        sort_code=sort_code,
        package_center=waybill.package_center_name,
        short_address=waybill.short_address_name,
        receiver_line=receiver_line,
        receiver_address=f"{waybill.receiver_province}{waybill.receiver_city}"
        f"{waybill.receiver_district}{street}",
        sender_line=f"{sender.get('name', '')} {sender.get('phone', '')}",
        sender_address=f"{sender.get('province', '')}{sender.get('city', '')}"
        f"{sender.get('district', '')}{sender.get('detail', '')}",
        service_marks=" ".join(marks) + package,
        print_time=f"打印时间 {at:%Y-%m-%d %H:%M}",
        reprint_mark="重打" if waybill.print_count else "",
        product_name=product,
        spec=spec,
        quantity=quantity,
        remark=order.buyer_note,
        order_no=f"订单 {order_no}",
        shop_name=sender.get("shop_name") or waybill.shop.name,
        free_text=template.free_text,
        qr_code=_carrier_qr(carrier_data, waybill.waybill_no) or order_no,
        watermark=template.watermark,
    )


def sample_data(template: LabelTemplate) -> L.LabelData:
    """Made-up data for the designer's preview (no consumer data involved); a privacy
    template shows the receiver masked as its labels print it."""
    return L.LabelData(
        waybill_no="73100000000019",
        carrier_name=template.carrier.name,
        sort_code="3301-06-42",
        package_center="浙江转运中心",
        short_address="杭州 西湖区",
        receiver_line="张* 138****5678" if template.privacy else "张三 13800005678",
        receiver_address="浙江省杭州市西湖区文三路 90 号",
        sender_line="王仓管 13800001111",
        sender_address="浙江省杭州市余杭区文一西路 1 号",
        service_marks="标快",
        print_time="打印时间 2026-11-23 10:00",
        product_name="保温杯",
        spec="500ml 白色",
        quantity="共 2 件",
        remark="请小心轻放",
        order_no="订单 DEMO0001",
        shop_name=template.shop.name if template.shop_id else "",
        free_text=template.free_text or "感谢惠顾",
        qr_code="DEMO0001",
        watermark=template.watermark,
    )


def template_preview(*, template: LabelTemplate, dpi: int = 203) -> bytes:
    """Exactly what a thermal printer prints: the 1-bit raster, thresholded or (grayscale)
    dithered, as a PNG."""
    from printing.renderers import raster

    image = raster.render_image(template_layout(template), sample_data(template), dpi=dpi)
    mono = raster.to_mono(image, dpi=dpi, grayscale=template.grayscale)
    return raster.to_png(mono.convert("L"), dpi=dpi)


# --- rendering and counting -----------------------------------------------------------------


def check_paper(template: LabelTemplate, printer: Printer) -> None:
    width, height = L.SIZES[template.size]
    if width > printer.paper_width_mm or height > printer.paper_height_mm:
        raise PaperSizeMismatch(
            label=f"{width}×{height}",
            paper=f"{printer.paper_width_mm}×{printer.paper_height_mm}",
        )


def printable(waybill: Waybill) -> None:
    """Only a live number prints; an order the order rule blocks for printing (after-sale,
    or a cancellation request waiting for its answer:
    :func:`~shops.services.order_states.order_refuse_if_blocked`), or whose receiver
    changed after the number was drawn (the label would carry the old address; printing's
    own rule), is refused. A receiver changed on the waybill itself is written to the
    order at the same moment (``receiver_changed_at``): its label carries the new address
    and prints."""
    if waybill.status not in LIVE_STATUSES:
        raise WaybillNotPrintable(status=waybill.get_status_display())
    order = waybill.order
    order_refuse_if_blocked(order, purpose="print")
    snapshot_at = waybill.receiver_changed_at or waybill.allocated_at
    if order.address_changed_at is not None and order.address_changed_at > snapshot_at:
        raise OrderBlocked(
            reason=str(_("the receiver changed after the number was drawn")),
            detail={"address_changed_at": order.address_changed_at.isoformat()},
        )


def label_render(
    *,
    actor: Actor,
    waybill: Waybill,
    fmt: str,
    template_id: int | None = None,
    dpi: int = 203,
    printer: Printer | None = None,
    count: bool = True,
) -> tuple[bytes, LabelTemplate]:
    """Render one waybill's label; a printable format counts as a print (PNG does not:
    it is the preview), and a reprint is written to the order's history."""
    actor.require(perms.PRINT)
    if fmt not in FORMATS:
        raise ValidationError.for_fields(
            format=_("One of %(values)s.") % {"values": ", ".join(FORMATS)}
        )
    if dpi not in DPIS:
        raise ValidationError.for_fields(dpi=_("203 or 300."))
    printable(waybill)
    template = template_for(shop=waybill.shop, carrier=waybill.carrier, template_id=template_id)
    offset = (0.0, 0.0)
    grayscale = template.grayscale
    if printer is not None:
        check_paper(template, printer)
        offset = (float(printer.offset_x_mm), float(printer.offset_y_mm))
        dpi, grayscale = printer.dpi, grayscale or printer.grayscale
    data = label_data(actor=actor, waybill=waybill, template=template)
    body = render(fmt, template_layout(template), data, dpi=dpi, grayscale=grayscale,
                  offset_mm=offset)  # fmt: skip
    if count and fmt != "png":
        with transaction.atomic():
            prints_record(waybill_ids=[waybill.pk], actor_name=actor.describe())
            reprints_record(actor=actor, waybills=reprint_check(waybills=[waybill], ask=False))
    return body, template


def labels_pdf(
    *,
    actor: Actor,
    waybills: list[Waybill],
    template_id: int | None = None,
    ask_before_reprint: bool = False,
) -> bytes:
    """One PDF of many labels (one page each) for printing from the browser; all the
    waybills must share a carrier (one template). ``ask_before_reprint`` as for print jobs
    (:func:`printing.print_jobs.print_job_create`): a page asks before a reprint."""
    from printing.renderers.pdf import render_pdf

    actor.require(perms.PRINT)
    if not waybills:
        raise ValidationError.for_fields(waybills=_("Choose at least one waybill."))
    if len(waybills) > 50:
        from printing.errors import PrintTooMany

        raise PrintTooMany(limit=50)
    carriers = {w.carrier_id for w in waybills}
    if len(carriers) > 1:
        raise ValidationError.for_fields(waybills=_("One carrier per batch (one template)."))
    for waybill in waybills:
        printable(waybill)
    again = reprint_check(waybills=waybills, ask=ask_before_reprint)
    first = waybills[0]
    template = template_for(shop=first.shop, carrier=first.carrier, template_id=template_id)
    pages = [label_data(actor=actor, waybill=w, template=template) for w in waybills]
    body = render_pdf(template_layout(template), pages[0], pages=pages)
    with transaction.atomic():
        prints_record(waybill_ids=[w.pk for w in waybills], actor_name=actor.describe())
        reprints_record(actor=actor, waybills=again)
    return body


def prints_record(
    *, waybill_ids: list[int], at: datetime | None = None, actor_name: str = "system"
) -> None:
    """Each printed label: the waybill's print count and its subscription's printed
    counter move by one (a print also counts as a change for recycling). A number's first
    print is written to its order's history as printed by ``actor_name`` (a reprint is,
    by :func:`~printing.reprints.reprints_record`, when it is asked for).

    Locks are taken in one order everywhere (waybills by id, then subscriptions by id),
    so a batch and a single confirmation can never deadlock."""
    from collections import Counter

    at = at or timezone.now()
    per_waybill = Counter(waybill_ids)
    with transaction.atomic():
        rows = list(
            Waybill.objects.select_for_update(of=("self",))
            .filter(pk__in=per_waybill)
            .order_by("pk")
            .values_list(
                "pk", "subscription_id", "print_count", "order_id", "shop_id", "waybill_no",
                "carrier__code",
            )
        )  # fmt: skip
        order_waybill_events_record(
            kind=LABEL_PRINTED,
            waybills=[
                {"order_id": r[3], "shop_id": r[4], "waybill_no": r[5], "carrier": r[6]}
                for r in rows
                if r[2] == 0
            ],
            actor_name=actor_name,
            at=at,
        )
        per_subscription: Counter = Counter()
        for waybill_id, sub_id, *_rest in rows:
            Waybill.objects.filter(pk=waybill_id).update(
                print_count=F("print_count") + per_waybill[waybill_id], last_changed_at=at
            )
            per_subscription[sub_id] += per_waybill[waybill_id]
        printed_add(per_subscription=dict(per_subscription))
