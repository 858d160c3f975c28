"""Reading an uploaded CSV or XLSX table within fixed memory, whatever the file claims.

An XLSX file is a zip of XML parts, and both layers can be made to explode: a 5 KB file
with one cell at row 40,000, column 2,000 made openpyxl pad 80 million empty cells (850 MB
in a web worker); a zip entry can unpack a thousand times its size; one ``<row>`` can hold
millions of cells, one shared-string table millions of strings. So, before anything is
parsed:

* the upload is at most :data:`MAX_UPLOAD_BYTES`;
* the zip's central directory is checked: at most :data:`XLSX_MAX_PARTS` parts, at most
  :data:`XLSX_MAX_UNPACKED_BYTES` unpacked in all, no part unpacking to more than
  :data:`XLSX_MAX_RATIO` times its compressed size (past :data:`XLSX_RATIO_GRACE_BYTES`),
  no encrypted part. Python's zipfile never yields more than a part's declared size (it
  fails the CRC instead), so the declared sizes are a real bound;
* the sheet's declared dimensions (``<dimension ref="A1:BXX40000">``) are checked against
  the line limit.

Then every part is streamed (``iterparse``; each element is dropped as soon as it is read,
parsing stops at the end of ``<sheetData>``): rows past ``max_rows`` refuse the file as
soon as one holds a value, cells right of ``max_columns`` are skipped on arrival, and only
the shared strings the kept cells refer to are kept. What stays in memory is at most
``max_rows`` x ``max_columns`` short texts. XML entities and DTDs are refused (defusedxml).

CSV gets the same line and column limits; a line with more than
:data:`CSV_MAX_SEPARATORS` separators is refused before it is split. A cell written as
``="0123"`` (how the product's own CSV exports keep digits a text in Excel) reads as
``0123``.

Every refusal is a :class:`FileRefused` whose message names the limit.
"""

from __future__ import annotations

import csv
import io
import posixpath
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, iterparse
from django.utils.translation import gettext_lazy as _

from waybill_console.errors import ValidationError
from waybill_console.exports import excel_text_value

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
XLSX_MAX_PARTS = 1000
XLSX_MAX_UNPACKED_BYTES = 40 * 1024 * 1024
XLSX_MAX_RATIO = 100
XLSX_RATIO_GRACE_BYTES = 1024 * 1024
#: XML elements inside one cell or one shared string (rich-text runs and their properties)
MAX_ELEMENTS_PER_CELL = 2000
#: Excel's own limit for the characters of one cell
MAX_CELL_CHARS = 32767
CSV_MAX_SEPARATORS = 1000
#: Excel's sheet size; a dimension beyond it is not a real sheet
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384

MB = 1024 * 1024
#: built-in number formats that are dates or times (ECMA-376 18.8.30, with the CJK ids)
DATE_FORMAT_IDS = frozenset([*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)])

Row = tuple[int, list[str]]


class FileRefused(ValidationError):
    """The uploaded file breaks a limit; the message names it (``detail.file`` too)."""

    message = _("The file cannot be read.")

    def __init__(self, message, **params):
        super().__init__(message, **params)
        self.detail = {"file": [self.render_message()]}


def read_table(*, file_name: str, raw: bytes, max_rows: int, max_columns: int) -> list[Row]:
    """The non-empty rows of a .csv or .xlsx file as ``(row number, texts)``, the header
    included; row numbers are the spreadsheet's (1-based, blank rows counted).

    Refuses (:class:`FileRefused`) a file with a value in a row past ``max_rows``, and
    every malformed or oversized file; cells right of ``max_columns`` are ignored."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise FileRefused(
            _("The file is larger than %(limit)s MB; at most %(limit)s MB."),
            limit=MAX_UPLOAD_BYTES // MB,
        )
    name = (file_name or "").lower()
    if name.endswith(".xlsx"):
        return _XlsxReader(raw, max_rows=max_rows, max_columns=max_columns).rows()
    if name.endswith(".csv") or name.endswith(".txt"):
        return _csv_rows(raw, max_rows=max_rows, max_columns=max_columns)
    raise FileRefused(_("Choose a .csv or .xlsx file."))


def _too_many_rows(row: int, max_rows: int) -> FileRefused:
    return FileRefused(
        _(
            "At most %(limit)s lines per file (the header included); this one has data "
            "in line %(row)s."
        ),
        limit=max_rows,
        row=row,
    )


# --- CSV ------------------------------------------------------------------------------------


def _csv_rows(raw: bytes, *, max_rows: int, max_columns: int) -> list[Row]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise FileRefused(_("The file is neither UTF-8 nor GB18030 text."))
    del raw

    def lines() -> Iterator[str]:
        for number, line in enumerate(io.StringIO(text, newline=""), start=1):
            if line.count(",") > CSV_MAX_SEPARATORS:
                raise FileRefused(
                    _("Line %(line)s has more than %(limit)s columns."),
                    line=number,
                    limit=CSV_MAX_SEPARATORS,
                )
            yield line

    rows: list[Row] = []
    reader = csv.reader(lines())
    row_no = 0
    try:
        for values in reader:
            row_no += 1
            # ="0123": a text our own exports wrote for Excel (waybill_console.exports)
            cells = [excel_text_value(v.strip()) for v in values[:max_columns]]
            if not any(cells):
                continue
            if row_no > max_rows:
                raise _too_many_rows(row_no, max_rows)
            rows.append((row_no, cells))
    except csv.Error:
        raise FileRefused(
            _(
                "Line %(line)s is not valid CSV (an unclosed quote, or a field over %(limit)s "
                "characters)."
            ),
            line=row_no + 1,
            limit=csv.field_size_limit(),
        ) from None
    return rows


# --- XLSX -----------------------------------------------------------------------------------


def _local(tag) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _column_number(letters: str) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + (ord(ch.upper()) - 64)
        if number > EXCEL_MAX_COLUMNS:
            return EXCEL_MAX_COLUMNS + 1
    return number


def _split_ref(ref: str) -> tuple[int, int]:
    """ "BXX40000" -> (row 40000, column 2000); (0, 0) for what is not a cell reference."""
    letters = ""
    i = 0
    while i < len(ref) and ref[i].isalpha():
        letters += ref[i]
        i += 1
    digits = ref[i:]
    if not letters or not digits.isdigit() or len(digits) > 9:
        return 0, 0
    return int(digits), _column_number(letters)


def _texts(element) -> str:
    """The text of an ``<is>`` or ``<si>``: its ``<t>`` and rich-text runs' ``<t>``, without
    the phonetic guides (``<rPh>``)."""
    parts = []
    for child in element:
        tag = _local(child.tag)
        if tag == "t":
            parts.append(child.text or "")
        elif tag == "r":
            parts.extend(t.text or "" for t in child if _local(t.tag) == "t")
    return "".join(parts)


class _XlsxReader:
    def __init__(self, raw: bytes, *, max_rows: int, max_columns: int):
        self.max_rows = max_rows
        self.max_columns = max_columns
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(raw))
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
            raise self._unreadable() from None
        self._check_sizes(infos)
        self.names = {info.filename for info in infos}

    @staticmethod
    def _unreadable() -> FileRefused:
        return FileRefused(_("Not a readable XLSX file (save it again from Excel or WPS)."))

    def _check_sizes(self, infos) -> None:
        if len(infos) > XLSX_MAX_PARTS:
            raise FileRefused(
                _("The XLSX file has more than %(limit)s parts."), limit=XLSX_MAX_PARTS
            )
        total = 0
        for info in infos:
            if info.flag_bits & 0x1:
                raise FileRefused(_("The XLSX file is encrypted; save it without a password."))
            total += info.file_size
            if info.file_size > XLSX_RATIO_GRACE_BYTES and info.file_size > XLSX_MAX_RATIO * max(
                info.compress_size, 1
            ):
                raise FileRefused(
                    _(
                        "The XLSX file is refused: a part of it unpacks to more than "
                        "%(limit)s times its packed size (a zip bomb)."
                    ),
                    limit=XLSX_MAX_RATIO,
                )
        if total > XLSX_MAX_UNPACKED_BYTES:
            raise FileRefused(
                _(
                    "The XLSX file unpacks to more than %(limit)s MB; at most %(limit)s MB. "
                    "Remove pictures and other sheets, or split the file."
                ),
                limit=XLSX_MAX_UNPACKED_BYTES // MB,
            )

    # streaming --------------------------------------------------------------------------

    def _walk(self, part: str, keep: tuple[str, ...] = ()):
        """``(event, local tag, element)`` of a part, streamed. An element is dropped from
        its parent once its end was handed out, unless it lies inside a ``keep`` element
        (read whole at that element's end; at most MAX_ELEMENTS_PER_CELL inside)."""
        if part not in self.names:
            return
        stack: list = []
        open_keeps = 0
        inside = 0
        try:
            with self.zip.open(part) as source:
                for event, element in iterparse(source, events=("start", "end")):
                    tag = _local(element.tag)
                    if event == "start":
                        stack.append(element)
                        if open_keeps:
                            inside += 1
                            if inside > MAX_ELEMENTS_PER_CELL:
                                raise FileRefused(
                                    _(
                                        "A cell of the XLSX file holds more than %(limit)s "
                                        "formatting parts."
                                    ),
                                    limit=MAX_ELEMENTS_PER_CELL,
                                )
                        if tag in keep:
                            open_keeps += 1
                        yield event, tag, element
                        continue
                    stack.pop()
                    yield event, tag, element
                    if tag in keep:
                        open_keeps -= 1
                        if not open_keeps:
                            inside = 0
                    if not open_keeps and stack:
                        stack[-1].remove(element)
        except (ParseError, DefusedXmlException, zipfile.BadZipFile, EOFError, ValueError):
            raise self._unreadable() from None

    def _relationships(self, part: str) -> dict[str, tuple[str, str]]:
        """Relationship id -> (type, target path) of ``part``."""
        folder, name = posixpath.split(part)
        rels_part = posixpath.join(folder, "_rels", name + ".rels")
        found = {}
        for event, tag, el in self._walk(rels_part):
            if event == "end" and tag == "Relationship" and len(found) < XLSX_MAX_PARTS:
                target = el.get("Target") or ""
                if target.startswith("/"):
                    path = target.lstrip("/")
                else:
                    path = posixpath.normpath(posixpath.join(folder, target))
                found[el.get("Id") or ""] = (el.get("Type") or "", path)
        return found

    def _workbook(self) -> tuple[str, str, str, bool]:
        """(first worksheet, shared strings, styles, 1904 date system)."""
        root = self._relationships("")
        workbook = next(
            (p for t, p in root.values() if t.endswith("/officeDocument")), "xl/workbook.xml"
        )
        rels = self._relationships(workbook)
        by_type = {t.rpartition("/")[2]: p for t, p in rels.values()}
        sheet, date1904 = None, False
        for event, tag, el in self._walk(workbook):
            if event != "start":
                continue
            if tag == "workbookPr":
                date1904 = el.get("date1904") in ("1", "true")
            elif tag == "sheet":
                rid = next((v for k, v in el.attrib.items() if _local(k) == "id"), "")
                kind, path = rels.get(rid, ("", ""))
                if kind.endswith("/worksheet"):
                    sheet = path
                    break
        if sheet is None or sheet not in self.names:
            raise self._unreadable()
        return sheet, by_type.get("sharedStrings", ""), by_type.get("styles", ""), date1904

    def _date_styles(self, styles: str) -> set[int]:
        """Indexes of the cell formats (``s="…"``) that show a date or time."""
        from openpyxl.styles.numbers import is_date_format

        custom: dict[int, bool] = {}
        dates: set[int] = set()
        index = 0
        in_cell_xfs = False
        for event, tag, el in self._walk(styles):
            if tag == "cellXfs":
                in_cell_xfs = event == "start"
            elif event == "start" and tag == "numFmt":
                try:
                    custom[int(el.get("numFmtId", ""))] = is_date_format(el.get("formatCode", ""))
                except ValueError:
                    continue
            elif event == "start" and tag == "xf" and in_cell_xfs:
                try:
                    fmt = int(el.get("numFmtId", "0"))
                except ValueError:
                    fmt = 0
                if custom.get(fmt, fmt in DATE_FORMAT_IDS):
                    dates.add(index)
                index += 1
        return dates

    def _check_dimension(self, ref: str) -> None:
        last = ref.rpartition(":")[2]
        rows, _columns = _split_ref(last)
        if rows > self.max_rows:
            raise FileRefused(
                _(
                    "The sheet declares %(rows)s rows; at most %(limit)s lines per file (the "
                    "header included). Delete the empty rows below the data, or split the file."
                ),
                rows=rows,
                limit=self.max_rows,
            )

    def rows(self) -> list[Row]:
        sheet, strings_part, styles_part, date1904 = self._workbook()
        raw_rows: list[tuple[int, dict[int, tuple]]] = []
        needed: set[int] = set()
        row_no = 0
        cells: dict[int, tuple] = {}
        column = 0
        for event, tag, el in self._walk(sheet, keep=("c",)):
            if event == "start":
                if tag == "row":
                    r = el.get("r")
                    try:
                        row_no = int(float(r)) if r else row_no + 1
                    except ValueError:
                        raise self._unreadable() from None
                    cells, column = {}, 0
                elif tag == "dimension":
                    self._check_dimension(el.get("ref") or "")
                continue
            if tag == "c":
                ref = el.get("r")
                column = _split_ref(ref)[1] if ref else column + 1
                if column < 1 or column > self.max_columns:
                    continue
                cell = self._raw_cell(el)
                if cell is None:
                    continue
                if row_no > self.max_rows:
                    raise _too_many_rows(row_no, self.max_rows)
                cells[column] = cell
                if cell[0] == "s":
                    needed.add(cell[1])
            elif tag == "row" and cells:
                raw_rows.append((row_no, cells))
            elif tag == "sheetData":
                break
        strings = self._shared_strings(strings_part, needed)
        date_styles = self._date_styles(styles_part) if raw_rows else set()
        result = []
        for number, row in raw_rows:
            texts = [""] * max(row)
            for col, cell in row.items():
                texts[col - 1] = self._text(cell, strings, date_styles, date1904).strip()
            if any(texts):
                result.append((number, texts))
        return result

    @staticmethod
    def _raw_cell(el) -> tuple | None:
        """("s", shared index) / ("t", text) / ("n", number text, style) / ("b", "1"), or
        None for an empty cell."""
        kind = el.get("t") or "n"
        value = None
        inline = None
        for child in el:
            tag = _local(child.tag)
            if tag == "v":
                value = child.text
            elif tag == "is":
                inline = _texts(child)
        if kind == "inlineStr":
            return ("t", inline[:MAX_CELL_CHARS]) if inline else None
        if value is None or value == "":
            return None
        if kind == "s":
            try:
                return ("s", int(value))
            except ValueError:
                return None
        if kind == "n":
            try:
                style = int(el.get("s") or 0)
            except ValueError:
                style = 0
            return ("n", value[:64], style)
        if kind == "b":
            return ("t", "TRUE" if value.strip() == "1" else "FALSE")
        return ("t", value[:MAX_CELL_CHARS])  # str (a formula's text), d (ISO date), e (#N/A)

    def _shared_strings(self, part: str, needed: set[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        if not needed:
            return found
        index = -1
        last = max(needed)
        for event, tag, el in self._walk(part, keep=("si",)):
            if event == "end" and tag == "si":
                index += 1
                if index in needed:
                    found[index] = _texts(el)[:MAX_CELL_CHARS]
                if index >= last:
                    break
        return found

    @staticmethod
    def _text(cell: tuple, strings: dict[int, str], date_styles: set[int], date1904: bool) -> str:
        kind = cell[0]
        if kind == "s":
            return strings.get(cell[1], "")
        if kind == "t":
            return cell[1]
        text, style = cell[1], cell[2]
        try:
            number = float(text)
        except ValueError:
            return text
        if style in date_styles:
            from openpyxl.utils.datetime import CALENDAR_MAC_1904, WINDOWS_EPOCH, from_excel

            try:
                value = from_excel(number, CALENDAR_MAC_1904 if date1904 else WINDOWS_EPOCH)
            except (OverflowError, ValueError):
                return text
            if isinstance(value, datetime):
                return value.isoformat(sep=" ")
            if isinstance(value, date | time):
                return value.isoformat()
            return text
        if number.is_integer() and abs(number) < 1e15:
            return str(int(number))
        return text
