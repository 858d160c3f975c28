"""The label text caches are bounded by memory, not only by entries: rendering many
labels with distinct long texts keeps them under their byte budgets (counted by the cache,
and measured with tracemalloc), and repeated texts are still served from the cache."""

from __future__ import annotations

import gc
import tracemalloc
from dataclasses import replace

import pytest

from printing import layout as L
from printing.renderers import raster

BASE = L.LabelData(
    waybill_no="73100000000019",
    carrier_name="中通快递",
    sort_code="3301-06-42",
    package_center="浙江转运中心",
    short_address="杭州 西湖区",
    sender_line="王仓管 13800001111",
    sender_address="浙江省杭州市余杭区文一西路 1 号",
    receiver_line="张三 138****5678",
    receiver_address="浙江省杭州市西湖区文三路 90 号",
    product_name="保温杯",
    spec="500ml 白色",
    quantity="共 2 件",
    remark="请小心轻放",
    order_no="订单 DEMO0001",
)
LAYOUT = L.build_layout("100x150", L.default_custom_fields("100x150"))


@pytest.fixture(autouse=True)
def _empty_caches():
    raster.fit_lines.cache_clear()
    raster._glyphs.cache_clear()
    yield
    raster.fit_lines.cache_clear()
    raster._glyphs.cache_clear()


def long_text(i: int, n: int = 100_000) -> str:
    return f"{i:06d}" + "保温杯不锈钢真空" * (n // 8)


def test_many_distinct_long_texts_stay_under_the_byte_budget():
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(80):
            data = replace(BASE, product_name=long_text(i), remark=long_text(i + 1000, 4_000))
            raster.render_image(LAYOUT, data, dpi=203)
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    lines, glyphs = raster.fit_lines.cache, raster._glyphs.cache
    assert 0 < lines.bytes <= lines.max_bytes == raster.TEXT_CACHE_BYTES
    assert 0 < glyphs.bytes <= glyphs.max_bytes == raster.GLYPH_CACHE_BYTES
    # what the Python heap still holds after 80 labels with a 200 KB product name each
    # (an entry-counted cache kept all of them: over 16 MB)
    assert retained < raster.TEXT_CACHE_BYTES + 2 * 1024 * 1024, retained


def test_one_huge_text_is_rendered_but_not_kept():
    huge = "保温杯" * 300_000  # a 900 KB product name already in the database
    raster.render_image(LAYOUT, replace(BASE, product_name=huge), dpi=203)
    kept = [key for key in raster.fit_lines.cache._entries if huge in key[0]]
    assert kept == [] and raster.fit_lines.cache.bytes <= raster.TEXT_CACHE_BYTES


def test_repeated_texts_are_served_from_the_cache():
    raster.render_image(LAYOUT, BASE, dpi=203)
    entries, size = len(raster.fit_lines.cache), raster.fit_lines.cache.bytes
    first = raster.render_image(LAYOUT, BASE, dpi=203)
    again = raster.render_image(LAYOUT, BASE, dpi=203)
    assert (len(raster.fit_lines.cache), raster.fit_lines.cache.bytes) == (entries, size) != (0, 0)
    assert first.tobytes() == again.tobytes()


def test_the_oldest_entries_go_first_once_the_budget_is_reached():
    cache = raster.SizedCache(1000, max_entry_bytes=400)
    for key in "abcd":
        cache.put(key, key.upper(), 300)
    assert list(cache._entries) == ["b", "c", "d"] and cache.bytes == 900
    assert cache.get("b") == ("B", 300)  # used: now the newest
    cache.put("e", "E", 300)
    assert list(cache._entries) == ["d", "b", "e"] and cache.bytes == 900
    cache.put("big", "X", 401)  # larger than one entry may be: computed, not kept
    assert "big" not in cache._entries and cache.bytes == 900
