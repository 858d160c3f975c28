"""The raster renderer (Pillow): the layout drawn at 203 or 300 dpi.

Text uses the bundled CJK TrueType font; the barcode is Code128 (python-barcode's
encoder) drawn with a whole number of pixels per module and a quiet zone of at least
10 modules, so that it scans at either resolution; the QR code uses ``qrcode``.
"""

from __future__ import annotations

import io
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache, wraps

from barcode import Code128
from PIL import Image, ImageDraw, ImageFont

from printing.layout import Element, LabelData, Layout
from waybill_console.fonts import cjk_font_path

WATERMARK_GREY = 110  # prints black when thresholded, grey when dithered
QUIET_MODULES = 10

#: what the text caches may hold, in bytes (keys and values): line breaks of label texts,
#: and the rendered ink of lines. Bounded by memory, not by entries: a cache of entries
#: grows with the texts' length (a 900 KB product name is one entry).
TEXT_CACHE_BYTES = 4 * 1024 * 1024
GLYPH_CACHE_BYTES = 32 * 1024 * 1024


class SizedCache:
    """A least-recently-used cache bounded by the bytes its entries take (``size`` of each
    key and value, estimated from what they hold): the oldest entries go once the total
    passes ``max_bytes``, and one entry larger than ``max_entry_bytes`` is computed but
    never kept. Thread-safe."""

    def __init__(self, max_bytes: int, *, max_entry_bytes: int | None = None):
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes or max_bytes // 16
        self.bytes = 0
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key):
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key, value, size: int) -> None:
        if size > self.max_entry_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._entries[key] = (value, size)
            self.bytes += size
            while self.bytes > self.max_bytes:
                _key, (_value, freed) = self._entries.popitem(last=False)
                self.bytes -= freed

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0


def sized_cache(max_bytes: int, size: Callable[[tuple, object], int]):
    """Memoize a function of hashable arguments in a :class:`SizedCache` of ``max_bytes``;
    ``size(args, result)`` estimates an entry's bytes. The cache is ``function.cache``."""

    def decorate(function):
        cache = SizedCache(max_bytes)

        @wraps(function)
        def wrapper(*args):
            found = cache.get(args)
            if found is not None:
                return found[0]
            result = function(*args)
            cache.put(args, result, size(args, result))
            return result

        wrapper.cache = cache
        wrapper.cache_clear = cache.clear
        return wrapper

    return decorate


def _text_bytes(value) -> int:
    return sys.getsizeof(value) if isinstance(value, str) else 64


def _lines_size(args: tuple, lines: tuple[str, ...]) -> int:
    return (
        sum(map(_text_bytes, args))
        + sys.getsizeof(lines)
        + sum(sys.getsizeof(line) for line in lines)
        + 200  # the entry's own bookkeeping
    )


def _glyphs_size(args: tuple, result: tuple) -> int:
    mask = result[0]
    return sum(map(_text_bytes, args)) + mask.width * mask.height + 400


def px(mm: float, dpi: int) -> int:
    return round(mm * dpi / 25.4)


@lru_cache(maxsize=64)
def _font(size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(cjk_font_path()), size=max(size_px, 6), index=0)


def code128_modules(value: str) -> str:
    """The bar pattern ('1' = bar) of ``value`` in Code128, start/check/stop included."""
    return Code128(value).build()[0]


@lru_cache(maxsize=8192)
def _char_width(size_px: int, ch: str) -> float:
    return _font(size_px).getlength(ch)


def text_width(text: str, size_px: int) -> float:
    """Width in pixels, from cached per-character advances (no kerning in CJK labels)."""
    return sum(_char_width(size_px, ch) for ch in text)


@sized_cache(TEXT_CACHE_BYTES, _lines_size)
def fit_lines(text: str, size_px: int, width: int, max_lines: int) -> tuple[str, ...]:
    """Greedy line breaks by character (CJK has no spaces) within ``width`` pixels."""
    lines, current, current_w = [], "", 0.0
    for ch in text:
        cw = _char_width(size_px, ch)
        if current_w + cw <= width or not current:
            current, current_w = current + ch, current_w + cw
        else:
            lines.append(current)
            current, current_w = ch, cw
            if len(lines) == max_lines:
                break
    if current and len(lines) < max_lines:
        lines.append(current)
    return tuple(lines)


@sized_cache(GLYPH_CACHE_BYTES, _glyphs_size)
def _glyphs(line: str, size_px: int, bold: bool) -> tuple[Image.Image, int]:
    """The line's ink as an 8-bit mask (cached: captions, names and addresses repeat
    across a batch) and the offset of its top from the line's origin."""
    font = _font(size_px)
    left, top, right, bottom = font.getbbox(line)
    extra = 1 if bold else 0
    mask = Image.new("L", (max(right - left + extra, 1), max(bottom - top, 1)), 0)
    ImageDraw.Draw(mask).text((-left, -top), line, font=font, fill=255)
    if bold:  # the CJK font has one weight: the ink again, one pixel to the right
        mask.paste(255, (1, 0), mask.crop((0, 0, mask.width - 1, mask.height)))
    return mask, top


def _text(image: Image.Image, el: Element, value: str, dpi: int) -> None:
    if not value:
        return
    text = f"{el.caption}{value}"
    x, y, w, h = px(el.x, dpi), px(el.y, dpi), px(el.w, dpi), px(el.h, dpi)
    size = round(el.font_size * dpi / 72)
    fill = WATERMARK_GREY if el.grey else 0
    # shrink to fit on the lines the box holds (at least 60 % of the asked size)
    while True:
        line_h = round(size * 1.15)
        max_lines = max(h // line_h, 1)
        lines = fit_lines(text, size, w, max_lines)
        fits = sum(len(line) for line in lines) >= len(text)
        if fits or size <= el.font_size * dpi / 72 * 0.6:
            break
        size -= 1
    for i, line in enumerate(lines):
        lx = x
        if el.align == "center":
            lx = x + max(int(w - text_width(line, size)) // 2, 0)
        ly = y + i * line_h
        mask, top = _glyphs(line, size, el.bold)
        image.paste(fill, (int(lx), int(ly + top)), mask)


def _barcode(draw, el: Element, value: str, dpi: int) -> None:
    modules = code128_modules(value)
    x, y, w, h = px(el.x, dpi), px(el.y, dpi), px(el.w, dpi), px(el.h, dpi)
    n = len(modules)
    module = max(w // (n + 2 * QUIET_MODULES), 1)
    start = x + (w - n * module) // 2
    draw.rectangle([x, y, x + w, y + h], fill=255)
    run_start = None
    for i, bit in enumerate(modules + "0"):
        if bit == "1" and run_start is None:
            run_start = i
        elif bit == "0" and run_start is not None:
            draw.rectangle(
                [start + run_start * module, y, start + i * module - 1, y + h - 1], fill=0
            )
            run_start = None


@lru_cache(maxsize=1024)
def qr_matrix(value: str) -> tuple[tuple[bool, ...], ...]:
    import qrcode

    qr = qrcode.QRCode(border=1, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(value)
    qr.make(fit=True)
    return tuple(tuple(row) for row in qr.get_matrix())


def _qr(image: Image.Image, el: Element, value: str, dpi: int) -> None:
    if not value:
        return
    matrix = qr_matrix(value)
    side = min(px(el.w, dpi), px(el.h, dpi))
    cell = max(side // len(matrix), 1)
    small = Image.new("L", (len(matrix), len(matrix)), 255)
    small.putdata([0 if v else 255 for row in matrix for v in row])
    big = small.resize((cell * len(matrix),) * 2, Image.NEAREST)
    image.paste(big, (px(el.x, dpi), px(el.y, dpi)))


def render_image(layout: Layout, data: LabelData, *, dpi: int = 203) -> Image.Image:
    """The label as an 8-bit grey image (white paper, black ink, grey watermark)."""
    image = Image.new("L", (px(layout.width, dpi), px(layout.height, dpi)), 255)
    draw = ImageDraw.Draw(image)
    # the watermark first, so that everything else prints over it
    for el in sorted(layout.elements, key=lambda e: not e.grey):
        if el.kind == "line":
            draw.rectangle(
                [px(el.x, dpi), px(el.y, dpi), px(el.x + el.w, dpi), px(el.y, dpi) + 1], fill=0
            )
        elif el.kind == "text":
            _text(image, el, data.value(el.key), dpi)
        elif el.kind == "barcode":
            _barcode(draw, el, data.value(el.key), dpi)
        elif el.kind == "qr":
            _qr(image, el, data.value(el.key), dpi)
    return image


def to_png(image: Image.Image, *, dpi: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi), optimize=False)
    return out.getvalue()


def to_mono(
    image: Image.Image,
    *,
    dpi: int,
    grayscale: bool = False,
    offset_mm: tuple[float, float] = (0.0, 0.0),
) -> Image.Image:
    """The 1-bit raster a thermal printer gets: thresholded, or dithered (grayscale) so a
    grey watermark prints as grey dots; shifted by the printer's x/y calibration."""
    if grayscale:
        mono = image.convert("1")  # Floyd–Steinberg: pure black and white stay exact
    else:
        mono = image.point(lambda v: 255 if v >= 128 else 0, mode="1")
    dx, dy = px(offset_mm[0], dpi), px(offset_mm[1], dpi)
    if dx or dy:
        shifted = Image.new("1", mono.size, 1)
        shifted.paste(mono, (dx, dy))
        mono = shifted
    return mono
