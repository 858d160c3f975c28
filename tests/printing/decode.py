"""Turn printer byte streams back into images, so that the tests can scan them."""

from __future__ import annotations

import io
import re

from PIL import Image


def escpos_image(stream: bytes) -> Image.Image:
    """Stack the ``GS v 0`` raster bands of an ESC/POS stream (1 bit = black dot)."""
    bands, width_px, pos = [], None, 0
    while True:
        pos = stream.find(b"\x1dv0", pos)
        if pos < 0:
            break
        xl, xh, yl, yh = stream[pos + 4 : pos + 8]
        width_bytes, height = xl + 256 * xh, yl + 256 * yh
        data = stream[pos + 8 : pos + 8 + width_bytes * height]
        white_is_one = bytes(b ^ 0xFF for b in data)  # ESC/POS: a 1 bit is a black dot
        bands.append(Image.frombytes("1", (width_bytes * 8, height), white_is_one))
        width_px = width_bytes * 8
        pos += 8 + len(data)
    image = Image.new("1", (width_px, sum(b.height for b in bands)), 1)
    top = 0
    for band in bands:
        image.paste(band, (0, top))
        top += band.height
    return image


def tspl_image(stream: bytes) -> Image.Image:
    """The BITMAP of a TSPL stream. TSPL's polarity: a 1 bit is white (no dot)."""
    match = re.search(rb"BITMAP (\d+),(\d+),(\d+),(\d+),(\d+),", stream)
    assert match, "no BITMAP command"
    width_bytes, height = int(match[3]), int(match[4])
    data = stream[match.end() : match.end() + width_bytes * height]
    assert len(data) == width_bytes * height
    return Image.frombytes("1", (width_bytes * 8, height), data)


def zpl_image(stream: bytes) -> Image.Image:
    from zebrafy import ZebrafyZPL

    (image,) = ZebrafyZPL(stream.decode("ascii")).to_images()
    return image


def pdf_image(stream: bytes, dpi: int = 300) -> Image.Image:
    import pypdfium2

    page = pypdfium2.PdfDocument(stream)[0]
    return page.render(scale=dpi / 72).to_pil().convert("L")


def png_image(stream: bytes) -> Image.Image:
    return Image.open(io.BytesIO(stream))


DECODERS = {
    "png": png_image,
    "pdf": pdf_image,
    "escpos": escpos_image,
    "tspl": tspl_image,
    "zpl": zpl_image,
}


def scan(image: Image.Image) -> list[tuple[str, str]]:
    import zxingcpp

    # try_invert=False: a stream with the wrong bit polarity (white bars on black) fails
    found = zxingcpp.read_barcodes(image.convert("L"), try_invert=False)
    return [(r.format.name, r.text) for r in found]
