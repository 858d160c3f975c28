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


class SafeCsvWriter:
    """``csv.writer`` whose every row goes through :func:`safe_cell`."""

    def __init__(self, f, **kwargs):
        self._writer = csv.writer(f, **kwargs)

    def writerow(self, row) -> None:
        self._writer.writerow(safe_row(row))

    def writerows(self, rows) -> None:
        for row in rows:
            self.writerow(row)


class SafeSheet:
    """A write-only openpyxl sheet whose text cells are escaped strings, never formulas."""

    def __init__(self, sheet):
        self.sheet = sheet

    def _cell(self, value):
        from openpyxl.cell import WriteOnlyCell

        value = safe_cell(value)
        if not isinstance(value, str):
            return value
        cell = WriteOnlyCell(self.sheet, value=_ILLEGAL_XML.sub("", value))
        cell.data_type = "s"  # a text, whatever it looks like
        return cell

    def append(self, row) -> None:
        self.sheet.append([self._cell(v) for v in row])


def xlsx_sheet(book, title: str) -> SafeSheet:
    """A new sheet of a ``Workbook(write_only=True)``, escaped."""
    return SafeSheet(book.create_sheet(title))
