"""TSPL (TSC label printers): SIZE, GAP, DIRECTION, CLS, BITMAP, PRINT.

TSPL's BITMAP has the opposite polarity of most rasters: a 1 bit is *white* (no dot),
a 0 bit prints. Pillow's mode "1" stores white as 1, which is exactly that, so the
packed rows go out as they are; the test decodes them back to prove it.
"""

from __future__ import annotations

from PIL import Image


def encode_tspl(
    mono: Image.Image, *, width_mm: float, height_mm: float, gap_mm: float = 2, copies: int = 1
) -> bytes:
    width_bytes = (mono.width + 7) // 8
    # pad to whole bytes with white
    padded = Image.new("1", (width_bytes * 8, mono.height), 1)
    padded.paste(mono, (0, 0))
    data = padded.tobytes()  # 1 = white, rows packed MSB first
    head = (
        f"SIZE {width_mm:g} mm,{height_mm:g} mm\r\n"
        f"GAP {gap_mm:g} mm,0 mm\r\n"
        "DIRECTION 1\r\n"
        "CLS\r\n"
        f"BITMAP 0,0,{width_bytes},{mono.height},0,"
    ).encode("ascii")
    return head + data + f"\r\nPRINT {copies},1\r\n".encode("ascii")
