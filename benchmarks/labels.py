"""Labels per second per output format, in one process pinned to one core.

Every label differs (number, receiver, order) so that no cache of glyphs or QR codes
makes the run look better than a real batch; each format renders the same 100×150 mm
layout at 203 dpi with the grey watermark dithered. Baseline: drawing the raster alone
(what every thermal format starts from), measured in the same run.
"""

from __future__ import annotations

import os
import time

TARGET = 50.0  # labels/s for every thermal format on one core


def _data(i: int):
    from printing.layout import LabelData

    return LabelData(
        waybill_no=f"7310{i:010d}",
        carrier_name="中通快递",
        sort_code=f"{3301 + i % 7}-{i % 90:02d}-{i % 97:02d}",
        package_center="浙江转运中心",
        short_address="杭州 西湖区",
        receiver_line=f"收件人{i % 1000} 138{i:08d}"[:24],
        receiver_address=f"浙江省杭州市西湖区文三路 {i % 500} 号 {i % 30} 幢 {i % 900} 室",
        sender_line="王仓管 13800001111",
        sender_address="浙江省杭州市余杭区文一西路 1 号",
        service_marks="标快",
        print_time=f"打印时间 2026-11-23 10:{i % 60:02d}",
        product_name=f"保温杯 {i % 12} 号",
        spec="500ml 白色",
        quantity=f"共 {1 + i % 5} 件",
        order_no=f"订单 ORD{i:08d}",
        qr_code=f"ORD{i:08d}",
        watermark="样品",
    )


def run(args, results) -> None:
    from printing.layout import build_layout
    from printing.renderers import FORMATS, raster, render

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    count = args.labels
    layout = build_layout("100x150", watermark=True)
    for i in range(20):  # warm up: fonts loaded, first glyphs rasterised
        render("tspl", layout, _data(10_000_000 + i))
    print(f"\n== labels: {count} labels per format, 100x150 mm, 203 dpi, one core ==")

    started = time.perf_counter()
    for i in range(count):
        raster.render_image(layout, _data(i), dpi=203)
    base_rate = count / (time.perf_counter() - started)
    results.add("labels", "raster only (baseline)", base_rate, "/s")
    print(f"  raster only: {base_rate:,.0f} labels/s")

    for n, fmt in enumerate(FORMATS, start=1):
        offset = n * 1_000_000  # new numbers and receivers for every format
        started = time.perf_counter()
        for i in range(count):
            render(fmt, layout, _data(offset + i), dpi=203, grayscale=True)
        rate = count / (time.perf_counter() - started)
        thermal = fmt in ("escpos", "tspl", "zpl")
        results.add(
            "labels",
            fmt.upper() if fmt != "escpos" else "ESC/POS",
            rate,
            "/s",
            ratio=f"{rate / base_rate:.2f}× raster",
            target=f"≥ {TARGET:.0f}/s" if thermal else "",
            verdict=("PASS" if rate >= TARGET else "MISS") if thermal else "",
        )
        print(f"  {fmt}: {rate:,.0f} labels/s")
