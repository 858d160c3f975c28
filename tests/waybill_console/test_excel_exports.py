"""Exports as Excel reads them: a digits-only identifier (waybill number, order number) stays
a text (CSV: ="…" in a UTF-8 file with BOM; XLSX: a string cell in the text format @),
money is a number (XLSX: a numeric cell in the format 0.00), counts are numbers. The files
are written by the real jobs and read back byte for byte, with openpyxl and with the
product's own reader (an export can be imported again)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from printing.services import prints_record
from shops.services import exports
from tests.conftest import main_actor, make_order
from tests.waybills.conftest import open_service
from waybill_console.exports import SafeCsvWriter
from waybill_console.jobs import job_run
from waybill_console.spreadsheets import read_table
from waybills.services import waybill_allocate
from waybills.services.jobs import reconciliation_start

pytestmark = pytest.mark.django_db

ORDER_NO = "6921234567890123456"  # 19 digits, as the platforms number orders


def test_the_csv_writer_keeps_digits_a_text_and_our_reader_takes_them_back():
    out = io.StringIO()
    SafeCsvWriter(out).writerow(
        ["73100012345678", "0012", "SF1234567890", "138****5678", Decimal("12.50"), 3, "=1+1", ""]
    )
    line = out.getvalue().strip()
    assert line == '"=""73100012345678""","=""0012""",SF1234567890,138****5678,12.50,3,\'=1+1,'
    assert next(csv.reader([line])) == [
        '="73100012345678"', '="0012"', "SF1234567890", "138****5678", "12.50", "3", "'=1+1", ""
    ]  # fmt: skip
    [(_, cells)] = read_table(file_name="x.csv", raw=line.encode(), max_rows=5, max_columns=10)
    assert cells == [
        "73100012345678", "0012", "SF1234567890", "138****5678", "12.50", "3", "'=1+1", ""
    ]  # fmt: skip


@pytest.fixture
def numbered(shop_a, settings, tmp_path):
    """One order with a 19-digit order number and a ZTO number (14 digits), printed once."""
    settings.MEDIA_ROOT = str(tmp_path)
    sub = open_service(shop_a, "ZTO", balance=5)
    order = make_order(
        shop_a,
        ORDER_NO,
        items=[{"sku": "CUP", "product_name": "保温杯", "spec": "白", "quantity": 2,
                "unit_price": "39.90"}],
    )  # fmt: skip
    waybill = waybill_allocate(actor=main_actor(shop_a), order=order, subscription=sub).parent
    prints_record(waybill_ids=[waybill.pk])
    return order, waybill


def _run(job):
    assert job_run(job_id=job.pk) == "succeeded"
    job.refresh_from_db()
    with open(job.file_path, "rb") as f:
        return f.read()


def test_the_reconciliation_csv_keeps_the_waybill_and_order_numbers_as_texts(shop_a, numbered):
    order, waybill = numbered
    assert len(waybill.waybill_no) == 14 and waybill.waybill_no.isdigit()
    raw = _run(reconciliation_start(actor=main_actor(shop_a), params={}, file_format="csv"))

    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel reads the Chinese
    header, line = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert header[0] == "运单号" and header[3] == "订单号"
    assert line[0] == f'="{waybill.waybill_no}"' and line[3] == f'="{ORDER_NO}"'
    assert line[-1] == "1"  # prints: a count, a plain number
    rows = read_table(file_name="r.csv", raw=raw, max_rows=10, max_columns=20)
    assert rows[1][1][0] == waybill.waybill_no and rows[1][1][3] == ORDER_NO


def test_the_xlsx_files_hold_identifiers_as_texts_and_amounts_as_numbers(shop_a, numbered):
    order, waybill = numbered
    actor = main_actor(shop_a)

    sheet = load_workbook(
        io.BytesIO(_run(exports.order_export_start(actor=actor, params={}, file_format="xlsx")))
    ).active
    header = [c.value for c in sheet[1]]
    cells = dict(zip(header, sheet[2], strict=True))
    number, amount = cells["订单号"], cells["金额"]
    assert (number.data_type, number.value, number.number_format) == ("s", ORDER_NO, "@")
    assert (amount.data_type, amount.value, amount.number_format) == ("n", 79.8, "0.00")
    tracking = cells["运单号"]
    assert (tracking.data_type, tracking.value, tracking.number_format) == (
        "s",
        waybill.waybill_no,
        "@",
    )

    sheet = load_workbook(
        io.BytesIO(_run(reconciliation_start(actor=actor, params={}, file_format="xlsx")))
    ).active
    first, prints = sheet["A2"], sheet.cell(row=2, column=sheet.max_column)
    assert (first.data_type, first.value, first.number_format) == ("s", waybill.waybill_no, "@")
    assert (prints.data_type, prints.value) == ("n", 1)
