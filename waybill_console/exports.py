"""The one way this product writes CSV and XLSX files: every text cell escaped against
formula injection (CSV/spreadsheet injection, OWASP).

A merchant controls many texts that end up in someone else's spreadsheet (product name,
spec, SKU, order number, receiver name, cancel reason, shop display name …): the factory
opens the dropship statement, the merchant's accountant the reconciliation statement. A
cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return in front of
one, or their full-width forms, which some spreadsheet locales read the same way) is
evaluated as a formula by Excel, WPS and LibreOffice: ``=HYPERLINK(...)`` leaks data,
DDE formulas run commands.

:func:`safe_cell` puts an apostrophe in front of such a text, which every spreadsheet
shows as a literal text. Numbers stay numbers (``int``/``float``/``Decimal`` values and
texts that are a plain number such as ``-12.50``). In XLSX the escaped cells are
written as strings (``t="s"``), never as formulas. Every CSV and XLSX writer of the
product goes through :class:`SafeCsvWriter` or :class:`SafeSheet`.

**Excel keeps identifiers as texts, amounts as numbers.** The value's Python type says what
a cell is, so a writer passes numbers as numbers and identifiers as texts:

* a ``str`` is a text. An identifier made of digits only (a waybill number such as
  ``73100012345678``, an order number, an account number) would be read by Excel as a
  number from a CSV: shown as ``7.31E+13``, cut to 15 significant digits, leading zeros
  lost. So in CSV such a text is written as ``="73100012345678"`` (:func:`excel_text`),
  the form Taobao's and Douyin's order exports use: Excel, WPS and LibreOffice show the
  digits as a text. The file is UTF-8 with a BOM (``utf-8-sig``), which Excel needs to
  read Chinese. Our own reader (:func:`waybill_console.spreadsheets.read_table`) takes the
  ``="…"`` form back (:func:`excel_text_value`), so an export can be imported again. In
  XLSX every text is a string cell with the text format ``@``;
* a ``Decimal`` is money: a numeric cell with the number format ``0.00`` in XLSX (sums and
  sorting work), ``12.50`` in CSV;
* an ``int`` is a count (quantity, prints): a numeric cell.
"""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from typing import Any

#: first characters that make a spreadsheet read a cell as a formula (or a command)
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
#: characters XML 1.0 (and so XLSX) cannot hold; openpyxl refuses the whole file otherwise
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: a text of digits only: an identifier Excel would turn into a number (a formula's text
#: literal holds at most 255 characters)
_DIGITS = re.compile(r"^\d{1,255}$")
_EXCEL_TEXT = re.compile(r'^="(\d{1,255})"$')
#: XLSX number formats: texts stay texts when edited, money shows two decimals
TEXT_FORMAT = "@"
MONEY_FORMAT = "0.00"


def safe_cell(value: Any) -> Any:
    """``value`` as it may be written to a CSV or XLSX cell.

    Texts starting with a formula trigger get a leading apostrophe; numbers, dates, ``None``
    and texts that are just a number are returned unchanged."""
    if value is None or isinstance(value, bool | int | float | Decimal):
        return value
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def safe_row(row) -> list:
    return [safe_cell(v) for v in row]


def excel_text(value: Any) -> Any:
    """A CSV cell's value: a text of digits only as ``="…"`` (Excel keeps it a text); any
    other value unchanged. Only digits go inside the quotes, so the formula is inert."""
    if isinstance(value, str) and _DIGITS.match(value):
        return f'="{value}"'
    return value


def excel_text_value(text: str) -> str:
    """The text a CSV cell written by :func:`excel_text` holds: ``="0123"`` → ``0123``;
    anything else unchanged (the readers of uploaded and exported CSV files use it)."""
    match = _EXCEL_TEXT.match(text)
    return match.group(1) if match else text


class SafeCsvWriter:
    """``csv.writer`` whose every row goes through :func:`safe_cell`, then
    :func:`excel_text` (digits-only identifiers stay texts in Excel)."""

    def __init__(self, f, **kwargs):
        self._writer = csv.writer(f, **kwargs)

    def writerow(self, row) -> None:
        self._writer.writerow([excel_text(v) for v in safe_row(row)])

    def writerows(self, rows) -> None:
        for row in rows:
            self.writerow(row)


class SafeSheet:
    """A write-only openpyxl sheet whose text cells are escaped strings (text format ``@``),
    never formulas, and whose ``Decimal`` cells are numbers in the money format ``0.00``."""

    def __init__(self, sheet):
        self.sheet = sheet

    def _cell(self, value):
        from openpyxl.cell import WriteOnlyCell

        value = safe_cell(value)
        if isinstance(value, Decimal):
            cell = WriteOnlyCell(self.sheet, value=value)
            cell.number_format = MONEY_FORMAT
            return cell
        if not isinstance(value, str):
            return value
        cell = WriteOnlyCell(self.sheet, value=_ILLEGAL_XML.sub("", value))
        cell.data_type = "s"  # a text, whatever it looks like
        cell.number_format = TEXT_FORMAT
        return cell

    def append(self, row) -> None:
        self.sheet.append([self._cell(v) for v in row])


def xlsx_sheet(book, title: str) -> SafeSheet:
    """A new sheet of a ``Workbook(write_only=True)``, escaped."""
    return SafeSheet(book.create_sheet(title))
