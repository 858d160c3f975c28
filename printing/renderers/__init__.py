"""One layout, many outputs: PDF, PNG, and ESC/POS, TSPL and ZPL streams from the raster."""

from __future__ import annotations

from printing.layout import LabelData, Layout

FORMATS = ("pdf", "png", "escpos", "tspl", "zpl")
THERMAL = ("escpos", "tspl", "zpl")
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "escpos": "application/octet-stream",
    "tspl": "application/octet-stream",
    "zpl": "application/octet-stream",
}


def render(
    fmt: str,
    layout: Layout,
    data: LabelData,
    *,
    dpi: int = 203,
    grayscale: bool = False,
    offset_mm: tuple[float, float] = (0.0, 0.0),
) -> bytes:
    """The label in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "pdf":
        from printing.renderers.pdf import render_pdf

        return render_pdf(layout, data)
    from printing.renderers import raster

    image = raster.render_image(layout, data, dpi=dpi)
    if fmt == "png":
        return raster.to_png(image, dpi=dpi)
    mono = raster.to_mono(image, dpi=dpi, grayscale=grayscale, offset_mm=offset_mm)
    if fmt == "escpos":
        from printing.renderers.escpos import encode_escpos

        return encode_escpos(mono)
    if fmt == "tspl":
        from printing.renderers.tspl import encode_tspl

        return encode_tspl(mono, width_mm=layout.width, height_mm=layout.height)
    if fmt == "zpl":
        from printing.renderers.zpl import encode_zpl

        return encode_zpl(mono, dpi=dpi)
    raise ValueError(fmt)
