"""The CJK font that comes with the install (WenQuanYi Micro Hei, a TrueType collection
shipped in the ``paperang-p2-fonts-cjk`` wheel), so that Chinese renders on a machine
with no system fonts. reportlab embeds only the glyphs a document uses (a subset)."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

CJK_FONT_NAME = "WQYMicroHei"


@lru_cache(maxsize=1)
def cjk_font_path() -> Path:
    spec = importlib.util.find_spec("paperang_p2_fonts_cjk")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the paperang-p2-fonts-cjk package (CJK font) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "fonts" / "wqy-microhei.ttc"


@lru_cache(maxsize=1)
def register_reportlab_cjk() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont(CJK_FONT_NAME, str(cjk_font_path()), subfontIndex=0))
    return CJK_FONT_NAME
