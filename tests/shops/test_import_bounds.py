"""The order import reads any file within fixed memory: attack files are built here with
openpyxl and zipfile and read in a subprocess whose peak memory (``ru_maxrss``) is
measured. A 5 KB XLSX with one cell at row 40,000, column 2,000 used to make a worker
grow by 850 MB; now it is refused, or its far cells ignored, for a few MB."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from shops.models import Order
from shops.services import imports
from tests.conftest import main_actor
from waybill_console import spreadsheets
from waybill_console.errors import AppError

ROOT = Path(__file__).resolve().parents[2]
#: peak memory a read may add, whatever the file (a correctness bound, not a timing)
MAX_GROWTH_MB = 100

LINE = ["MEM-1", "已付款", "", "S1", "保温杯", "500ml", "1", "9.90", "张三", "13812345678",
        "浙江省", "杭州市", "西湖区", "文三路 1 号", ""]  # fmt: skip

MEASURE = """
import json, resource, sys
import django
django.setup()
import csv, defusedxml.ElementTree, openpyxl.styles.numbers, openpyxl.utils.datetime  # noqa
from shops.services import imports
from waybill_console.errors import AppError
path, name = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    rows = imports.read_rows(file_name=name, raw=raw)
    outcome = {"rows": [[n, c[:16]] for n, c in rows]}
except AppError as err:
    outcome = {"refused": err.render_message(), "code": err.code, "detail": err.detail}
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth_mb": (after - before) / 1024, **outcome}, ensure_ascii=False))
"""


def measure(tmp_path: Path, raw: bytes, name: str) -> dict:
    """Read the file with the import's reader in a fresh process; its peak memory growth."""
    path = tmp_path / name
    path.write_bytes(raw)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "waybill_console.settings_test"}
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), name],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["growth_mb"] < MAX_GROWTH_MB, result
    return result


def book(*cells, header=True) -> bytes:
    """An XLSX with the template header, one good line and ``(row, column, value)`` cells."""
    wb = Workbook()
    sheet = wb.active
    if header:
        sheet.append(imports.TEMPLATE_HEADER)
        sheet.append(LINE)
    for row, column, value in cells:
        sheet.cell(row=row, column=column, value=value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def rewrite(raw: bytes, change) -> bytes:
    """The zip again, each part through ``change(name, data) -> data | None`` (None: as is);
    ``change`` may also add parts by returning a dict for the key ``None``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = change(info.filename, src.read(info))
            dst.writestr(info, data if data is not None else src.read(info),
                         compress_type=zipfile.ZIP_DEFLATED)  # fmt: skip
    return out.getvalue()


def without_dimension(raw: bytes) -> bytes:
    def change(name, data):
        if name.startswith("xl/worksheets/"):
            stripped = re.sub(rb"<dimension[^>]*/>", b"", data)
            assert stripped != data
            return stripped
        return None

    return rewrite(raw, change)


def with_part(raw: bytes, name: str, chunks, size: int) -> bytes:
    """``raw`` with one more (or a replaced) part streamed from ``chunks``, compressed hard."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename != name:
                dst.writestr(info, src.read(info), compress_type=zipfile.ZIP_DEFLATED)
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with dst.open(info, "w", force_zip64=True) as part:
            written = 0
            for chunk in chunks:
                part.write(chunk)
                written += len(chunk)
                if written >= size:
                    break
    return out.getvalue()


def huge_shared_strings(size: int):
    head = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    )
    yield head
    block = b"<si><t>aaaaaaaaaaaaaaaa</t></si>" * 32768
    while True:
        yield block


# --- the attack files -----------------------------------------------------------------------


def test_a_cell_at_row_40000_column_2000_is_refused_by_the_declared_dimension(tmp_path):
    raw = book((40_000, 2_000, "x"))
    assert len(raw) < 10_000
    result = measure(tmp_path, raw, "attack.xlsx")
    assert result["code"] == "VALIDATION_ERROR"
    assert "40000" in result["refused"] and "10001" in result["refused"]
    assert result["detail"] == {"file": [result["refused"]]}


def test_without_a_dimension_the_far_cell_is_skipped_and_a_far_row_refused(tmp_path):
    """Streaming alone: the cell right of column 50 is skipped on arrival (the file is its
    header and one line); a value in row 40,000 within the columns refuses the file."""
    skipped = measure(tmp_path, without_dimension(book((40_000, 2_000, "x"))), "attack.xlsx")
    assert [n for n, _cells in skipped["rows"]] == [1, 2]
    refused = measure(tmp_path, without_dimension(book((40_000, 3, "x"))), "attack.xlsx")
    assert refused["refused"] == "每个文件最多 10001 行（含表头）；该文件第 40000 行仍有数据。"


def test_far_columns_are_ignored_and_cost_nothing(tmp_path, db, shop_a):
    """Row 9,000 is within the line limit; its only cell, in column 2,000, is skipped, so
    the file is the header and one line (openpyxl padded the declared 9,000 x 2,000 cells:
    18 million, about 140 MB more)."""
    raw = book((9_000, 2_000, "far away"))  # declares A1:BXX9000, within the line limit
    result = measure(tmp_path, raw, "far.xlsx")
    assert [n for n, _cells in result["rows"]] == [1, 2]
    assert result["rows"][1][1] == LINE[:14]  # the empty last column is not written
    imported = imports.order_import(actor=main_actor(shop_a), file_name="far.xlsx", raw=raw)
    assert imported == {"orders": 1, "items": 1}


def test_a_row_at_1048576_is_refused(tmp_path):
    for raw in (book((1_048_576, 1, "x")), without_dimension(book((1_048_576, 1, "x")))):
        result = measure(tmp_path, raw, "tall.xlsx")
        assert "1048576" in result["refused"]


def test_a_highly_compressed_shared_string_table_is_refused_as_a_zip_bomb(tmp_path):
    raw = with_part(book(), "xl/sharedStrings.xml", huge_shared_strings(30 * 2**20), 30 * 2**20)
    assert len(raw) < 1_000_000
    result = measure(tmp_path, raw, "bomb.xlsx")
    assert result["refused"] == (
        "该 XLSX 文件被拒绝：其中某个部件解压后超过压缩大小的 100 倍（压缩炸弹）。"
    )


def test_a_file_unpacking_past_the_size_cap_is_refused(tmp_path):
    """Each part packs only ~8:1 (random bits), but together they unpack past 40 MB."""
    table = bytes(ord("a") if i < 128 else ord("b") for i in range(256))

    def noise():
        while True:
            yield os.urandom(2**20).translate(table)

    raw = with_part(book(), "xl/media/noise.bin", noise(), 42 * 2**20)
    assert len(raw) < spreadsheets.MAX_UPLOAD_BYTES
    result = measure(tmp_path, raw, "big.xlsx")
    assert result["refused"] == (
        "该 XLSX 文件解压后超过 40 MB；最大 40 MB。请删除图片和其他工作表，或拆分文件。"
    )


def test_xml_entities_are_refused():
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol2;</t></is></c></row>'
        b"</sheetData></worksheet>"
    )
    raw = rewrite(book(), lambda name, data: laughs if name == "xl/worksheets/sheet1.xml" else None)
    with pytest.raises(AppError) as refused:
        imports.read_rows(file_name="lol.xlsx", raw=raw)
    assert refused.value.render_message() == "无法读取该 XLSX 文件（请用 Excel 或 WPS 重新保存）。"


def test_a_csv_line_with_a_million_columns_is_refused(tmp_path):
    raw = ",".join(imports.TEMPLATE_HEADER).encode() + b"\n" + b"," * 2_000_000 + b"\n"
    result = measure(tmp_path, raw, "wide.csv")
    assert result["refused"] == "第 2 行超过 1000 列。"


def test_a_csv_past_the_line_limit_is_refused_at_the_first_line_past_it(tmp_path):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(imports.TEMPLATE_HEADER)
    for i in range(imports.MAX_LINES + 1):
        writer.writerow([f"L-{i}", *LINE[1:]])
    result = measure(tmp_path, out.getvalue().encode(), "long.csv")
    assert result["refused"] == "每个文件最多 10001 行（含表头）；该文件第 10002 行仍有数据。"


@pytest.mark.django_db
def test_an_xlsx_with_blank_rows_reports_the_sheets_own_line_numbers(shop_a):
    bad = [*LINE]
    bad[0], bad[9] = "MEM-2", "12345"
    raw = book((5, 1, None), *[(7, i + 1, v) for i, v in enumerate(bad)])
    with pytest.raises(AppError) as refused:
        imports.order_import(actor=main_actor(shop_a), file_name="gaps.xlsx", raw=raw)
    assert [(p["line"], p["label"]) for p in refused.value.detail["lines"]] == [(7, "手机号")]
    assert Order.objects.count() == 0
