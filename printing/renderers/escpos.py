"""ESC/POS: the 1-bit raster as ``GS v 0`` raster bit images, then a partial cut.

The stream is built with python-escpos's printer model (its ``Dummy`` printer collects
what a real one would be sent, including the cut). The raster rows are packed here
from the already 1-bit image in bands of at most 960 rows (python-escpos's own
``image()`` converts every band through RGBA again, several times slower); the tests
check the bytes are the same as python-escpos's ``bitImageRaster`` output."""

from __future__ import annotations

from escpos.printer import Dummy
from PIL import Image

GS_V0 = b"\x1dv0"
BAND_ROWS = 960
#: Pillow's mode "1" packs white as 1; ESC/POS wants a 1 for a black dot
INK = bytes(b ^ 0xFF for b in range(256))


def raster_bands(mono: Image.Image) -> bytes:
    width_bytes = (mono.width + 7) // 8
    padded = Image.new("1", (width_bytes * 8, mono.height), 1)
    padded.paste(mono, (0, 0))
    rows = padded.tobytes().translate(INK)
    out = bytearray()
    for top in range(0, mono.height, BAND_ROWS):
        height = min(BAND_ROWS, mono.height - top)
        out += GS_V0 + bytes([0])  # m = 0: normal density
        out += width_bytes.to_bytes(2, "little") + height.to_bytes(2, "little")
        out += rows[top * width_bytes : (top + height) * width_bytes]
    return bytes(out)


def encode_escpos(mono: Image.Image) -> bytes:
    printer = Dummy()
    printer.hw("INIT")
    printer._raw(raster_bands(mono))
    printer.cut(mode="PART")
    return printer.output
