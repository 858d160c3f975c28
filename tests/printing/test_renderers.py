"""One layout, five outputs: for every size × carrier × format the barcode scans back to
the waybill number, from the PNG, the rasterised PDF, and the raster carried inside the
ESC/POS, TSPL and ZPL bytes (decoded back into an image here)."""

import logging

import pytest
from escpos.printer import Dummy
from PIL import Image, ImageDraw, ImageOps

from carriers.catalog import CARRIERS
from carriers.gateways.builtin import FORMATS as NUMBER_FORMATS
from carriers.gateways.builtin import check_digit
from printing.layout import SIZES, LabelData, build_layout, clean_custom_fields
from printing.renderers import FORMATS, render
from printing.renderers.escpos import raster_bands
from printing.renderers.tspl import encode_tspl
from tests.printing.decode import DECODERS, scan
from waybill_console.errors import AppError

logging.getLogger("escpos").setLevel(logging.ERROR)

CARRIER_SIZES = [(c[0], c[1], size) for c in CARRIERS for size in c[8]]


def number_for(code: str, serial: int = 4242) -> str:
    prefix, length = NUMBER_FORMATS[code]
    body = f"{serial:0{length - 1}d}"
    return f"{prefix}{body}{check_digit(body)}"


def data_for(code: str, name: str) -> LabelData:
    return LabelData(
        waybill_no=number_for(code),
        carrier_name=name,
        sort_code="3301-06-42",
        package_center="浙江转运中心",
        short_address="杭州 西湖区",
        receiver_line="张三 13812345678",
        receiver_address="浙江省杭州市西湖区文三路 90 号 3 幢 501 室",
        sender_line="王仓管 13800001111",
        sender_address="浙江省杭州市余杭区文一西路 1 号",
        service_marks="标快",
        print_time="打印时间 2026-11-23 10:00",
        product_name="保温杯",
        spec="500ml 白色",
        quantity="共 2 件",
        order_no="订单 ORD0001",
        qr_code="ORD0001",
        watermark="样品",
    )


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("code", "name", "size"), CARRIER_SIZES)
def test_barcode_scans_back_to_the_number(code, name, size, fmt):
    data = data_for(code, name)
    stream = render(fmt, build_layout(size, watermark=True), data, dpi=203, grayscale=True)
    image = DECODERS[fmt](stream)
    found = scan(image)
    assert ("Code128", data.waybill_no) in found, found
    assert ("QRCode", "ORD0001") in found


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("fmt", ["png", "tspl", "zpl", "escpos"])
def test_300_dpi_outputs_scan_and_have_the_physical_size(size, fmt):
    data = data_for("ZTO", "中通快递")
    image = DECODERS[fmt](render(fmt, build_layout(size), data, dpi=300))
    width_mm, height_mm = SIZES[size]
    assert abs(image.width - width_mm * 300 / 25.4) <= 8  # padded to whole bytes
    assert abs(image.height - height_mm * 300 / 25.4) <= 1
    assert ("Code128", data.waybill_no) in scan(image)


def test_100x180_two_part_label_carries_the_number_twice():
    data = data_for("YTO", "圆通速递")
    found = scan(DECODERS["png"](render("png", build_layout("100x180"), data)))
    assert found.count(("Code128", data.waybill_no)) == 2


def test_pdf_embeds_a_subset_of_the_cjk_font():
    stream = render("pdf", build_layout("100x150"), data_for("ZTO", "中通快递"))
    assert b"/FontFile2" in stream  # an embedded TrueType font …
    assert b"WQYMicroHei" in stream or b"SUBSET" in stream.upper() or b"+" in stream
    assert len(stream) < 120_000  # … a subset, not the 5 MB collection


def test_escpos_raster_matches_python_escpos_own_bit_image_raster():
    image = Image.new("1", (203, 1200), 1)
    draw = ImageDraw.Draw(image)
    draw.rectangle([10, 10, 100, 1100], fill=0)
    draw.line([0, 0, 202, 1199], fill=0)
    reference = Dummy()
    reference.image(image, impl="bitImageRaster", center=False, fragment_height=960)
    assert raster_bands(image) == reference.output


def test_tspl_bitmap_polarity_is_inverted():
    """TSPL prints a 0 bit: a black pixel at (0, 0) makes the first data byte 0x7F."""
    image = Image.new("1", (16, 2), 1)
    image.putpixel((0, 0), 0)
    stream = encode_tspl(image, width_mm=2, height_mm=1)
    head, _, rest = stream.partition(b"BITMAP 0,0,2,2,0,")
    assert head.startswith(b"SIZE 2 mm,1 mm\r\nGAP 2 mm,0 mm\r\nDIRECTION 1\r\nCLS\r\n")
    assert rest[:4] == b"\x7f\xff\xff\xff"
    assert rest[4:] == b"\r\nPRINT 1,1\r\n"


def test_grayscale_dithers_the_watermark_threshold_prints_it_black():
    from printing.renderers import raster

    data = data_for("ZTO", "中通快递")
    layout = build_layout("100x150", [], watermark=True)  # only the watermark in the box
    grey = raster.render_image(layout, data, dpi=203)
    x, y, w, h = (round(v * 203 / 25.4) for v in layout.custom_box)
    box = (x, y, x + w, y + min(h, round(20 * 203 / 25.4)))
    solid = raster.to_mono(grey, dpi=203, grayscale=False).crop(box)
    dithered = raster.to_mono(grey, dpi=203, grayscale=True).crop(box)
    ink = lambda img: img.histogram()[0]  # noqa: E731  (black pixels)
    assert ink(solid) > 1000
    assert ink(dithered) < ink(solid) * 0.75  # grey prints as a lighter dot pattern


def test_printer_offsets_shift_the_raster():
    from printing.renderers import raster

    data = data_for("ZTO", "中通快递")
    image = raster.render_image(build_layout("100x150"), data, dpi=203)
    plain = raster.to_mono(image, dpi=203)
    shifted = raster.to_mono(image, dpi=203, offset_mm=(2.5, 1.0))
    dx, dy = round(2.5 * 203 / 25.4), round(1.0 * 203 / 25.4)
    assert plain.getbbox() is not None
    box = ImageOps.invert(plain.convert("L")).getbbox()  # the inked area
    moved = ImageOps.invert(shifted.convert("L")).getbbox()
    assert (moved[0] - box[0], moved[1] - box[1]) == (dx, dy)


def test_custom_fields_must_stay_in_the_custom_area():
    with pytest.raises(AppError) as refused:
        clean_custom_fields(
            "76x130", [{"key": "product_name", "x": 70, "y": 0, "w": 20, "h": 5, "font_size": 9}]
        )
    assert "custom_fields[0]" in refused.value.detail
    with pytest.raises(AppError) as refused:
        clean_custom_fields("100x150", [{"key": "password", "x": 0, "y": 0, "w": 5, "h": 5}])
    assert "custom_fields[0]" in refused.value.detail
    ok = clean_custom_fields(
        "100x150", [{"key": "spec", "x": 1, "y": 2, "w": 30, "h": 5, "font_size": 12}]
    )
    assert ok == [{"key": "spec", "x": 1, "y": 2, "w": 30, "h": 5, "font_size": 12, "bold": False}]
