"""The label layout, in millimetres: one description that every renderer draws.

A layout is a page size and a list of :class:`Element`. The carrier's **standard area**
(sort code 三段码 in large type, package centre 集包地, short address 大头笔, the Code128
barcode of the number with the number printed under it, receiver, sender, service marks,
print time, reprint mark) is fixed per size; the merchant's **custom area** (product,
spec, quantity, remark, order number, shop name, free text, QR code) comes from the
template, each field placed and sized by the merchant inside the custom area's box.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from django.utils.translation import gettext_lazy as _

from waybill_console import inputs
from waybill_console.errors import ValidationError

#: size code -> (width, height) in mm
SIZES: dict[str, tuple[int, int]] = {
    "76x130": (76, 130),
    "100x150": (100, 150),
    "100x180": (100, 180),
    "100x100": (100, 100),
}

#: the fields a merchant can place in the custom area
CUSTOM_FIELDS = (
    "product_name",
    "spec",
    "quantity",
    "remark",
    "order_no",
    "shop_name",
    "free_text",
    "qr_code",
)
MIN_FONT, MAX_FONT = 6, 36  # points


@dataclass(frozen=True)
class Element:
    kind: str  # text | barcode | qr | line | box
    key: str  # which datum (LabelData attribute) or a fixed caption
    x: float
    y: float
    w: float
    h: float
    font_size: float = 9.0  # points
    bold: bool = False
    align: str = "left"  # left | center
    caption: str = ""  # printed before the value ("收 ", "寄 ")
    grey: bool = False


@dataclass(frozen=True)
class Layout:
    size: str
    width: float
    height: float
    elements: tuple[Element, ...]
    custom_box: tuple[float, float, float, float]  # x, y, w, h


def _standard(width: float, height: float, two_part: bool, compact: bool) -> tuple[list, tuple]:
    """The carrier's fixed area, proportioned for the page; returns (elements, custom box)."""
    m = 2.0  # margin
    inner = width - 2 * m
    s = width / 100.0  # scale for the 76 mm width
    els: list[Element] = []
    y = m
    els.append(Element("text", "carrier_name", m, y, inner * 0.5, 6 * s, 11 * s, bold=True))
    els.append(
        Element("text", "service_marks", m + inner * 0.5, y, inner * 0.5, 6 * s, 8 * s,
                align="center")
    )  # fmt: skip
    y += 6.5 * s
    els.append(Element("text", "print_time", m, y, inner * 0.6, 3.5 * s, 6 * s))
    els.append(
        Element("text", "reprint_mark", m + inner * 0.6, y, inner * 0.4, 3.5 * s, 7 * s, bold=True,
                align="center")
    )  # fmt: skip
    y += 4 * s
    els.append(Element("line", "", m, y, inner, 0.3, 0))
    sort_h = (12 if not compact else 10) * s
    sort_font = (30 if not compact else 25) * s  # the type must fit its band's height
    els.append(
        Element("text", "sort_code", m, y + 0.5, inner, sort_h, sort_font, bold=True,
                align="center")
    )  # fmt: skip
    y += sort_h + 1
    els.append(Element("line", "", m, y, inner, 0.3, 0))
    els.append(Element("text", "package_center", m, y + 0.5, inner * 0.5, 6 * s, 11 * s, bold=True))
    els.append(
        Element("text", "short_address", m + inner * 0.5, y + 0.5, inner * 0.5, 6 * s, 11 * s,
                bold=True, align="center")
    )  # fmt: skip
    y += 7 * s
    els.append(Element("line", "", m, y, inner, 0.3, 0))
    bar_h = (16 if not compact else 13) * s
    els.append(Element("barcode", "waybill_no", m + 3, y + 1.5, inner - 6, bar_h))
    y += bar_h + 2
    els.append(Element("text", "waybill_no", m, y, inner, 4.5 * s, 10 * s, align="center"))
    y += 5 * s
    els.append(Element("line", "", m, y, inner, 0.3, 0))
    els.append(Element("text", "receiver_line", m, y + 0.8, inner, 5.5 * s, 10 * s, bold=True,
                       caption="收 "))  # fmt: skip
    els.append(Element("text", "receiver_address", m, y + 6.5 * s, inner, 9 * s, 8.5 * s))
    y += 16 * s
    els.append(Element("line", "", m, y, inner, 0.3, 0))
    els.append(Element("text", "sender_line", m, y + 0.8, inner, 4 * s, 7.5 * s, caption="寄 "))
    els.append(Element("text", "sender_address", m, y + 5 * s, inner, 4 * s, 7 * s))
    y += 9.5 * s
    els.append(Element("line", "", m, y, inner, 0.3, 0))
    if two_part:
        # the stub (存根联) repeats the number and its barcode at the bottom
        stub_y = height - m - 22 * s
        els.append(Element("line", "", m, stub_y - 1, inner, 0.3, 0))
        els.append(Element("barcode", "waybill_no", m + 8, stub_y, inner - 16, 12 * s))
        els.append(
            Element("text", "waybill_no", m, stub_y + 12.5 * s, inner, 4.5 * s, 9 * s,
                    align="center")
        )  # fmt: skip
        els.append(
            Element("text", "receiver_line", m, stub_y + 17.5 * s, inner, 4 * s, 7.5 * s,
                    caption="收 ")
        )  # fmt: skip
        bottom = stub_y - 2
    else:
        bottom = height - m
    custom_box = (m, y + 1, inner, max(bottom - (y + 1), 0))
    return els, custom_box


DEFAULT_CUSTOM = [
    {"key": "product_name", "x": 0, "y": 0, "w": 60, "h": 5, "font_size": 9},
    {"key": "spec", "x": 0, "y": 5.5, "w": 45, "h": 4.5, "font_size": 8},
    {"key": "quantity", "x": 46, "y": 5.5, "w": 14, "h": 4.5, "font_size": 8},
    {"key": "order_no", "x": 0, "y": 10.5, "w": 60, "h": 4, "font_size": 7},
    {"key": "remark", "x": 0, "y": 15, "w": 60, "h": 4, "font_size": 7},
    {"key": "qr_code", "x": 70, "y": 0, "w": 18, "h": 18, "font_size": 0},
]


def clean_custom_fields(size: str, fields: list) -> list[dict]:
    """Validate the merchant's fields: known keys, inside the custom box, sane fonts.

    Positions are relative to the custom box's top-left corner, in millimetres."""
    if size not in SIZES:
        raise ValidationError.for_fields(
            size=_("One of %(values)s.") % {"values": ", ".join(SIZES)}
        )
    _elements, box = _standard(*SIZES[size], size == "100x180", size in ("76x130", "100x100"))
    bw, bh = box[2], box[3]
    if not isinstance(fields, list) or len(fields) > 20:
        raise ValidationError.for_fields(custom_fields=_("A list of at most 20 fields."))
    cleaned, errors = [], {}
    for i, raw in enumerate(fields):
        where = f"custom_fields[{i}]"
        if not isinstance(raw, dict) or raw.get("key") not in CUSTOM_FIELDS:
            errors[where] = _("key: one of %(values)s.") % {"values": ", ".join(CUSTOM_FIELDS)}
            continue
        try:
            x, y, w, h = (round(inputs.finite_float(raw[k]), 1) for k in ("x", "y", "w", "h"))
            font = round(inputs.finite_float(raw.get("font_size", 9)), 1)
        except (KeyError, TypeError, ValueError):
            errors[where] = _("x, y, w, h (mm) and font_size (pt) are numbers.")
            continue
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > bw + 0.05 or y + h > bh + 0.05:
            errors[where] = _("Keep the field inside the custom area (%(w)s×%(h)s mm).") % {
                "w": f"{bw:.0f}",
                "h": f"{bh:.0f}",
            }
            continue
        if raw["key"] != "qr_code" and not MIN_FONT <= font <= MAX_FONT:
            errors[where] = _("font_size from %(low)s to %(high)s pt.") % {
                "low": MIN_FONT,
                "high": MAX_FONT,
            }
            continue
        cleaned.append(
            {"key": raw["key"], "x": x, "y": y, "w": w, "h": h, "font_size": font,
             "bold": bool(raw.get("bold", False))}
        )  # fmt: skip
    if errors:
        raise ValidationError.for_fields(**errors)
    return cleaned


def default_custom_fields(size: str) -> list[dict]:
    """The default custom area, scaled to fit the size's custom box."""
    _elements, box = _standard(*SIZES[size], size == "100x180", size in ("76x130", "100x100"))
    sx = box[2] / 96.0  # narrower labels: narrower fields; heights stay readable
    sy = 1.0
    out = []
    for f in DEFAULT_CUSTOM:
        w, h = f["w"] * sx, f["h"] * sy
        if f["key"] == "qr_code":
            w = h = min(f["w"] * sx, box[3] * 0.9)
        out.append(
            {**f, "x": round(f["x"] * sx, 1), "y": round(f["y"] * sy, 1), "w": round(w, 1),
             "h": round(h, 1), "font_size": round(max(f["font_size"] * min(sx, 1), MIN_FONT), 1)
             if f["font_size"] else 0, "bold": False}
        )  # fmt: skip
    return [f for f in out if f["y"] + f["h"] <= box[3] + 0.05]


def build_layout(size: str, custom_fields: list[dict] | None = None, watermark: bool = False):
    """The full layout for a size with the merchant's custom fields placed in their box."""
    if size not in SIZES:
        raise ValidationError.for_fields(
            size=_("One of %(values)s.") % {"values": ", ".join(SIZES)}
        )
    width, height = SIZES[size]
    els, box = _standard(width, height, size == "100x180", size in ("76x130", "100x100"))
    bx, by = box[0], box[1]
    for f in custom_fields if custom_fields is not None else default_custom_fields(size):
        kind = "qr" if f["key"] == "qr_code" else "text"
        els.append(
            Element(kind, f["key"], bx + f["x"], by + f["y"], f["w"], f["h"],
                    f.get("font_size") or 9, bold=f.get("bold", False))
        )  # fmt: skip
    if watermark:
        els.append(
            Element("text", "watermark", 0, box[1], width, min(box[3], 20), 26, bold=True,
                    align="center", grey=True)
        )  # fmt: skip
    return Layout(size, width, height, tuple(els), box)


@dataclass
class LabelData:
    """Everything a label shows. The receiver is plain text here: it comes only from the
    audited decryption in :func:`printing.services.label_data`."""

    waybill_no: str
    carrier_name: str
    sort_code: str
    package_center: str
    short_address: str
    receiver_line: str
    receiver_address: str
    sender_line: str
    sender_address: str
    service_marks: str = ""
    print_time: str = ""
    reprint_mark: str = ""
    product_name: str = ""
    spec: str = ""
    quantity: str = ""
    remark: str = ""
    order_no: str = ""
    shop_name: str = ""
    free_text: str = ""
    qr_code: str = ""
    watermark: str = ""
    extra: dict = field(default_factory=dict)

    def value(self, key: str) -> str:
        return str(getattr(self, key, "") or "")

    def as_dict(self) -> dict:
        return asdict(self)
