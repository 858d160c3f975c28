"""Formula (CSV/spreadsheet) injection: every text a merchant controls that reaches a CSV or
XLSX file (order export, reconciliation statement, dropship statement, the factory's copy
too) is written as an inert text: a leading apostrophe before = + - @ tab CR, a string cell
(never a formula) in XLSX; numbers stay numbers. The files are produced by the real jobs and
read back with the csv module and openpyxl."""

from __future__ import annotations

import csv
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from dropship.services import factory as fs
from dropship.services import identity
from shops.services import exports
from tests.conftest import main_actor, make_order
from tests.dropship.conftest import (  # noqa: F401 (fixtures)
    FACTORY_NO,
    MERCHANT_NO,
    MERCHANT_PROFILE,
    RECEIVER,
    allocated,
    binding,
    factory,
    factory_sub,
    make_merchant,
    merchant,
)
from tests.dropship.test_statements import at, set_prices, start
from tests.waybills.conftest import open_service
from waybill_console.exports import FORMULA_TRIGGERS, safe_cell
from waybill_console.jobs import job_run
from waybill_console.models import Job
from waybills.services import waybill_allocate
from waybills.services.jobs import reconciliation_start

pytestmark = pytest.mark.django_db

PAYLOADS = ['=HYPERLINK("http://e.test","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def test_safe_cell_escapes_triggers_and_keeps_numbers():
    assert [safe_cell(p) for p in PAYLOADS] == ["'" + p for p in PAYLOADS]
    assert safe_cell("＝1+1") == "'＝1+1"
    assert safe_cell("保温杯") == "保温杯"
    assert safe_cell("") == ""
    for number in (-12, 3.5, Decimal("-9.90"), None):
        assert safe_cell(number) is number or safe_cell(number) == number
    assert safe_cell("-12.50") == "-12.50" and safe_cell("+86") == "+86"


def _cells(path: str) -> list[list]:
    """Every cell of the file: CSV texts, or the openpyxl cells of every sheet."""
    if path.endswith(".csv"):
        with open(path, encoding="utf-8-sig", newline="") as f:
            return list(csv.reader(f))
    book = load_workbook(path)  # not read-only: data_type tells formulas from texts
    return [list(row) for sheet in book.worksheets for row in sheet.iter_rows()]


#: the one formula a CSV cell may hold: ="digits", a text literal (Excel keeps a waybill
#: number a text: waybill_console.exports.excel_text); it computes nothing
EXCEL_TEXT = re.compile(r'="\d+"')


def _assert_inert(path: str, planted: list[str]) -> list[str]:
    """No formula but ="digits" in CSV, no text starting with a bare trigger; returns the
    texts written."""
    texts = []
    for row in _cells(path):
        for cell in row:
            if path.endswith(".xlsx"):
                assert cell.data_type != "f", (cell.coordinate, cell.value)
                value = cell.value
            else:
                value = cell[2:-1] if EXCEL_TEXT.fullmatch(cell) else cell
            if isinstance(value, str):
                assert not value.startswith(FORMULA_TRIGGERS), repr(value)
                texts.append(value)
    for text in planted:
        assert any(t.startswith("'" + text) for t in texts), (text, texts)
    return texts


def _planted_order(shop, payload: str, index: int):
    item = {"sku": f"{payload}S", "product_name": f"{payload}P", "spec": f"{payload}Q",
            "quantity": 1, "unit_price": "1.00"}  # fmt: skip
    receiver = {**RECEIVER, "name": f"{payload}N"}
    return make_order(
        shop,
        f"{payload.strip()}#{index}",
        items=[item],
        receiver=receiver,
        buyer_note=f"{payload}B",
    )


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_order_export_writes_planted_formulas_as_text(fmt, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    shop = make_merchant()
    actor = main_actor(shop)
    for i, payload in enumerate(PAYLOADS):
        _planted_order(shop, payload, i)

    job = exports.order_export_start(actor=actor, params={}, file_format=fmt)
    assert job_run(job_id=job.pk) == "succeeded"
    job.refresh_from_db()

    texts = _assert_inert(job.file_path, [p.strip() for p in PAYLOADS])
    assert "'" + '=HYPERLINK("http://e.test","x")#0' in texts  # the order number
    assert "'" + '=HYPERLINK("http://e.test","x")P =HYPERLINK("http://e.test","x")Q ×1' in texts
    assert "'-2+3#2" in texts and "'@SUM(A1)#3" in texts


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_reconciliation_statement_writes_planted_formulas_as_text(fmt, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    shop = make_merchant()
    actor = main_actor(shop)
    sub = open_service(shop, "ZTO", balance=10)
    for i, payload in enumerate(PAYLOADS):
        waybill_allocate(actor=actor, order=_planted_order(shop, payload, i), subscription=sub.pk)

    job = reconciliation_start(actor=actor, params={}, file_format=fmt)
    assert job_run(job_id=job.pk) == "succeeded"
    job.refresh_from_db()

    texts = _assert_inert(job.file_path, [p.strip() for p in PAYLOADS])
    assert "'+1+1#1" in texts and "'=1#4" in texts


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("side", ["merchant", "factory"])
def test_dropship_statement_writes_planted_formulas_as_text(side, fmt, request, tmp_path, settings):
    request.getfixturevalue("binding")
    shop = request.getfixturevalue("merchant")
    maker = request.getfixturevalue("factory")
    sub = request.getfixturevalue("factory_sub")
    settings.MEDIA_ROOT = str(tmp_path)
    identity.profile_update(
        actor=main_actor(shop),
        data={**MERCHANT_PROFILE, "display_name": "=cmd|'/C calc'!A0"},
    )
    for i, payload in enumerate(PAYLOADS):
        fo = allocated(shop, maker, order=_planted_order(shop, payload, i))
        fs.factory_order_draw(actor=main_actor(maker), factory_order_id=fo.pk, subscription=sub.pk)
        fs.factory_order_return(actor=main_actor(maker), factory_order_id=fo.pk, now=at(2))
    set_prices(maker, {"merchant": MERCHANT_NO, "sku": "+1+1S", "price": "12.50"})
    owner, counterpart = (shop, FACTORY_NO) if side == "merchant" else (maker, MERCHANT_NO)

    statement = start(owner, counterpart, at(10), file_format=fmt)
    assert job_run(job_id=statement.job_id) == "succeeded"
    job = Job.objects.get(pk=statement.job_id)

    planted = [f"{p.strip()}{suffix}" for p in PAYLOADS for suffix in "SPQ"]
    texts = _assert_inert(job.file_path, planted + ["=cmd|'/C calc'!A0"])
    assert "'=cmd|'/C calc'!A0 (" in " ".join(texts)
    if fmt == "csv":
        assert "12.50" in texts  # the price of +1+1S, a number: not escaped
    else:  # the quantities and the price stay numbers
        rows = _cells(job.file_path)[1:-1]
        quantities = [row[9] for row in rows]
        assert [(c.data_type, c.value) for c in quantities] == [("n", 1)] * len(PAYLOADS) * 1
        assert [(c.data_type, c.value) for c in [row[10] for row in rows] if c.value] == [
            ("n", 12.5)
        ]
