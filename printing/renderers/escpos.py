"""ESC/POS: the 1-bit raster as ``GS v 0`` raster bit images, then a partial cut.

The stream is built with python-escpos's printer model (its ``Dummy`` printer collects
what a real one would be sent, including the cut). The raster rows are packed here
from the already 1-bit image in bands of at most 960 rows (python-escpos's own
``image()`` converts every band through RGBA again, several times slower); the tests
check the bytes are the same as python-escpos's ``bitImageRaster`` output."""

from __future__ import annotations

from escpos.printer import Dummy
from PIL import Image, ImageChops

GS_V0 = b"\x1dv0"
BAND_ROWS = 960


def raster_bands(mono: Image.Image) -> bytes:
    width_bytes = (mono.width + 7) // 8
    padded = Image.new("1", (width_bytes * 8, mono.height), 1)
    padded.paste(mono, (0, 0))
    inked = ImageChops.invert(padded)  # ESC/POS: a 1 bit is a black dot
    out = bytearray()
    for top in range(0, mono.height, BAND_ROWS):
        band = inked.crop((0, top, padded.width, min(top + BAND_ROWS, mono.height)))
        out += GS_V0 + bytes([0])  # m = 0: normal density
        out += width_bytes.to_bytes(2, "little") + band.height.to_bytes(2, "little")
        out += band.tobytes()
    return bytes(out)


def encode_escpos(mono: Image.Image) -> bytes:
    printer = Dummy()
    printer.hw("INIT")
    printer._raw(raster_bands(mono))
    printer.cut(mode="PART")
    return printer.output
