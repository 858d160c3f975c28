"""The PDF renderer (reportlab): the same layout, vector text and bars, the bundled CJK
TrueType font embedded as a subset (only the glyphs used), page size = label size."""

from __future__ import annotations

import io

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import code128, qr
from reportlab.graphics.shapes import Drawing
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as pdf_canvas

from printing.layout import Element, LabelData, Layout
from printing.renderers.raster import QUIET_MODULES, WATERMARK_GREY, code128_modules
from waybill_console.fonts import register_reportlab_cjk

PT = 1.0  # reportlab's unit is the point


def _lines(c, text: str, font: str, size: float, width: float, max_lines: int) -> list[str]:
    lines, current = [], ""
    for ch in text:
        trial = current + ch
        if c.stringWidth(trial, font, size) <= width or not current:
            current = trial
        else:
            lines.append(current)
            current = ch
            if len(lines) == max_lines:
                break
    if current and len(lines) < max_lines:
        lines.append(current)
    return lines


def _text(c, el: Element, value: str, height_pt: float, font: str) -> None:
    if not value:
        return
    text = f"{el.caption}{value}"
    x, w, h = el.x * mm, el.w * mm, el.h * mm
    top = height_pt - el.y * mm
    size = el.font_size
    while True:
        line_h = size * 1.15
        max_lines = max(int(h // line_h), 1)
        lines = _lines(c, text, font, size, w, max_lines)
        if sum(len(line) for line in lines) >= len(text) or size <= el.font_size * 0.6:
            break
        size -= 0.5
    grey = WATERMARK_GREY / 255 if el.grey else 0
    c.setFillGray(grey)
    c.setStrokeGray(grey)
    t = c.beginText()
    t.setFont(font, size)
    if el.bold:
        t.setTextRenderMode(2)  # fill and stroke: a heavier stroke from the one weight
        c.setLineWidth(size * 0.04)
    for i, line in enumerate(lines):
        lx = x
        if el.align == "center":
            lx = x + max((w - c.stringWidth(line, font, size)) / 2, 0)
        t.setTextOrigin(lx, top - (i + 1) * line_h + size * 0.2)
        t.textLine(line)
    c.drawText(t)
    c.setFillGray(0)
    c.setStrokeGray(0)


def _barcode(c, el: Element, value: str, height_pt: float) -> None:
    n = len(code128_modules(value))
    w, h = el.w * mm, el.h * mm
    bar_width = w / (n + 2 * QUIET_MODULES)
    symbol = code128.Code128(
        value, barWidth=bar_width, barHeight=h, humanReadable=False, quiet=False
    )
    x = el.x * mm + (w - symbol.width) / 2
    symbol.drawOn(c, x, height_pt - el.y * mm - h)


def _qr(c, el: Element, value: str, height_pt: float) -> None:
    if not value:
        return
    side = min(el.w, el.h) * mm
    widget = qr.QrCodeWidget(value, barLevel="M", barBorder=1)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(side, side, transform=[side / (x1 - x0), 0, 0, side / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, c, el.x * mm, height_pt - el.y * mm - side)


def render_pdf(layout: Layout, data: LabelData, pages: list[LabelData] | None = None) -> bytes:
    """One page per label (``pages`` for a batch, else just ``data``)."""
    font = register_reportlab_cjk()
    out = io.BytesIO()
    width_pt, height_pt = layout.width * mm, layout.height * mm
    c = pdf_canvas.Canvas(out, pagesize=(width_pt, height_pt), pageCompression=1)
    c.setTitle(f"{data.carrier_name} {data.waybill_no}")
    for page in pages or [data]:
        for el in sorted(layout.elements, key=lambda e: not e.grey):
            if el.kind == "line":
                c.setLineWidth(0.6)
                y = height_pt - el.y * mm
                c.line(el.x * mm, y, (el.x + el.w) * mm, y)
            elif el.kind == "text":
                _text(c, el, page.value(el.key), height_pt, font)
            elif el.kind == "barcode":
                _barcode(c, el, page.value(el.key), height_pt)
            elif el.kind == "qr":
                _qr(c, el, page.value(el.key), height_pt)
        c.showPage()
    c.save()
    return out.getvalue()
