"""ZPL (Zebra): the raster as one ``^GFA`` graphic field, compressed (Z64: zlib + base64
(zebrafy), in a complete ``^XA … ^XZ`` label."""

from __future__ import annotations

from PIL import Image
from zebrafy import ZebrafyImage


def encode_zpl(mono: Image.Image, *, dpi: int = 203) -> bytes:
    zpl = ZebrafyImage(
        mono,  # already 1-bit: zebrafy keeps it as it is
        format="Z64",
        invert=False,
        dither=False,
        threshold=128,
        complete_zpl=True,
        set_label_size=True,
    ).to_zpl()
    return zpl.encode("ascii")
