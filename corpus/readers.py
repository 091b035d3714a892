"""Turning CSV, XLSX and JSON files into rows of cell text, reporting unreadable input as ImportProblems."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from corpus.import_errors import ImportProblem, ProblemLog

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
JSON_SUFFIXES = (".json",)
DOCX_SUFFIXES = (".docx",)
XLS_SUFFIXES = (".xls",)


@dataclass(frozen=True)
class Sheet:
    """One CSV file or one worksheet: (row number as a person sees it, cell texts) for every row."""

    file: Path
    name: str  # worksheet title; "" for CSV
    rows: tuple[tuple[int, tuple[str, ...]], ...]

    @property
    def is_empty(self) -> bool:
        return not any(any(cells) for _, cells in self.rows)


@dataclass(frozen=True)
class JsonDocument:
    file: Path
    entries: tuple[object, ...]
    name: str = ""
    list_type: str = ""


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _looks_like_damaged_utf8(data: bytes) -> bool:
    # GBK text read as UTF-8 fails on almost every Chinese character; a UTF-8 file with a few
    # damaged bytes decodes nearly everywhere. Falling back to GB18030 for the latter would
    # silently turn the whole file into mojibake.
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    return good >= 5 * bad


def decode_text(data: bytes, file: Path, log: ProblemLog) -> str | None:
    """UTF-8 (with or without BOM) first, then GBK/GB18030; None after logging when neither fits."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's 「Unicode 文本」 export.
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            log.add(
                ImportProblem(file.name, "文件以 UTF-16 标记开头，但内容无法按 UTF-16 读取，请另存为 UTF-8 编码的 CSV")
            )
            return None
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        utf8_error_at = error.start + (len(data) - len(body))
    if _looks_like_damaged_utf8(body):
        line = _line_of(data, utf8_error_at)
        log.add(
            ImportProblem(
                file.name, "这一行含有无法识别的字节：文件是 UTF-8 编码，但这里的内容已损坏，请检查后重新保存", row=line
            )
        )
        return None
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as error:
        line = _line_of(data, error.start)
        log.add(
            ImportProblem(
                file.name,
                "这一行含有无法识别的字节：文件既不是 UTF-8 也不是 GBK/GB18030 编码，请另存为 UTF-8 编码的 CSV",
                row=line,
            )
        )
        return None


def _read_bytes(file: Path, log: ProblemLog) -> bytes | None:
    try:
        return file.read_bytes()
    except FileNotFoundError:
        log.add(ImportProblem(file.name, f"文件不存在：{file}"))
    except IsADirectoryError:
        log.add(ImportProblem(file.name, f"这是一个文件夹，不是清单文件：{file}"))
    except OSError as error:
        log.add(ImportProblem(file.name, f"无法读取文件：{error.strerror or error}"))
    return None


def _package_bytes(file: Path, log: ProblemLog) -> bytes | None:
    """A binary workbook or document's bytes; None (logged) when unreadable or empty."""
    data = _read_bytes(file, log)
    if data is not None and not data:
        log.add(ImportProblem(file.name, "文件为空"))
        return None
    return data


def filled_width(cells: Sequence[str]) -> int:
    """Cells up to and including the last one with text."""
    return max((i + 1 for i, c in enumerate(cells) if str(c).strip()), default=0)


def table_width(header_cells: int, data: Sequence[Sequence[str]]) -> int:
    """How many cells a CSV row may fill: the header's, or more when more than half of the data rows fill cells past
    it, which is a column the export left unnamed rather than rows shifted by a stray comma."""
    widths = sorted((w for w in map(filled_width, data) if w), reverse=True)
    typical = widths[len(widths) // 2] if len(widths) >= 2 else 0  # more than half reach this width
    return max(header_cells, typical)


def _guess_delimiter(text: str) -> str:
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    return "\t" if first_line.count("\t") > first_line.count(",") else ","


def read_csv(file: Path, log: ProblemLog) -> list[Sheet]:
    data = _read_bytes(file, log)
    if data is None:
        return []
    text = decode_text(data, file, log)
    if text is None:
        return []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_guess_delimiter(text))
    rows: list[tuple[int, tuple[str, ...]]] = []
    start_line = 1
    try:
        for cells in reader:
            rows.append((start_line, tuple(cell.strip() for cell in cells)))
            start_line = reader.line_num + 1
    except csv.Error as error:
        log.add(ImportProblem(file.name, f"CSV 格式错误：{error}", row=start_line))
        return []
    return [Sheet(file, "", tuple(rows))]


def cell_text(value: object) -> str:
    """A spreadsheet or JSON value as the text a person reads in the cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    return str(value).strip()


def read_xlsx(file: Path, log: ProblemLog) -> list[Sheet]:
    import openpyxl  # imported here so CSV/JSON imports do not pay for it
    from openpyxl.utils.exceptions import InvalidFileException

    data = _package_bytes(file, log)
    if data is None:
        return []
    try:
        # Not read-only: merged-cell ranges are only available on a fully loaded workbook.
        workbook = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as error:
        log.add(
            ImportProblem(
                file.name, f"无法打开 XLSX 文件，文件可能已损坏或不是 Excel 2007 以后的格式（{type(error).__name__}）"
            )
        )
        return []
    sheets = []
    try:
        for worksheet in workbook.worksheets:
            grid = [
                [cell_text(v) for v in row]
                for row in worksheet.iter_rows(min_row=1, max_row=worksheet.max_row, values_only=True)
            ]
            _fill_vertical_merges(grid, worksheet.merged_cells.ranges)
            rows = tuple((number, tuple(cells)) for number, cells in enumerate(grid, start=1))
            sheets.append(Sheet(file, worksheet.title, rows))
    finally:
        workbook.close()
    return sheets


@dataclass(frozen=True)
class _XlsMerge:
    """xlrd's half-open 0-based merge, as the 1-based inclusive range _fill_vertical_merges reads."""

    min_row: int
    max_row: int
    min_col: int
    max_col: int


def xls_grids(data: bytes) -> list[tuple[str, list[list[str]]]]:
    """(sheet name, cell texts) of every sheet of an Excel 97-2003 workbook, merges filled as read_xlsx fills them.
    Raises ValueError for a file that is not one."""
    import xlrd  # imported here so other formats do not pay for it

    try:
        book = xlrd.open_workbook(file_contents=data, formatting_info=True, on_demand=False)
    except Exception as error:  # xlrd raises many types (zip errors included) for files that are not .xls
        raise ValueError(type(error).__name__) from error
    out = []
    for sheet in book.sheets():
        grid = []
        for r in range(sheet.nrows):
            row = []
            for cell in sheet.row(r):
                value = cell.value
                if cell.ctype == xlrd.XL_CELL_DATE:
                    try:
                        value = xlrd.xldate_as_datetime(value, book.datemode)
                    except (ValueError, OverflowError):
                        pass
                elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                    value = bool(value)
                elif cell.ctype in (xlrd.XL_CELL_ERROR, xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                    value = None
                row.append(cell_text(value))
            grid.append(row)
        _fill_vertical_merges(
            grid, [_XlsMerge(rlo + 1, rhi, clo + 1, chi) for rlo, rhi, clo, chi in sheet.merged_cells]
        )
        out.append((sheet.name, grid))
    return out


def read_xls(file: Path, log: ProblemLog) -> list[Sheet]:
    """An Excel 97-2003 workbook (.xls), as many lists are still published."""
    data = _package_bytes(file, log)
    if data is None:
        return []
    try:
        grids = xls_grids(data)
    except ValueError as error:
        log.add(ImportProblem(file.name, f"无法打开 XLS 文件，文件可能已损坏或不是 Excel 97-2003 工作簿（{error}）"))
        return []
    return [Sheet(file, name, tuple(enumerate((tuple(r) for r in grid), start=1))) for name, grid in grids]


def read_docx(file: Path, log: ProblemLog) -> list[Sheet]:
    """The tables of a Word document, as published lists often are. A table is named after the paragraph above it
    (附件2：配合履职事项清单), which may say its list type; a table with as many columns as the one before it and no
    paragraph between them continues it (Word users split long tables at page breaks)."""
    import docx  # python-docx; imported here so other formats do not pay for it
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    data = _package_bytes(file, log)
    if data is None:
        return []
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError, OSError) as error:
        log.add(
            ImportProblem(
                file.name, f"无法打开 DOCX 文件，文件可能已损坏或不是 Word 2007 以后的格式（{type(error).__name__}）"
            )
        )
        return []
    tables: list[tuple[str, list[tuple[str, ...]]]] = []  # (name, rows)
    heading, continues = "", False
    for block in document.element.body.iterchildren():
        kind = block.tag.rsplit("}", 1)[-1]
        if kind == "p":
            text = "".join(node.text or "" for node in block.iter() if node.tag.endswith("}t")).strip()
            if text:
                heading, continues = text, False
        elif kind == "tbl":
            rows = [tuple(cell.text.strip() for cell in row.cells) for row in Table(block, document).rows]
            width = max((len(r) for r in rows), default=0)
            if continues and tables and width == max((len(r) for r in tables[-1][1]), default=-1):
                tables[-1][1].extend(rows)
            else:
                name = f"表格{len(tables) + 1}" + (f"（{heading}）" if heading else "")
                tables.append((name, rows))
            continues = True
    return [Sheet(file, name, tuple(enumerate(rows, start=1))) for name, rows in tables]


def _fill_vertical_merges(grid: list[list[str]], ranges) -> None:
    # A category or department merged down several rows belongs to each of those rows. Single-row
    # merges (titles, section headings, notes) stay in their first cell so they still read as one value.
    for merged in ranges:
        if merged.max_row == merged.min_row:
            continue
        try:
            value = grid[merged.min_row - 1][merged.min_col - 1]
        except IndexError:
            continue
        for r in range(merged.min_row, merged.max_row + 1):
            for c in range(merged.min_col, merged.max_col + 1):
                if r - 1 < len(grid) and c - 1 < len(grid[r - 1]):
                    grid[r - 1][c - 1] = value


def read_json(file: Path, log: ProblemLog) -> JsonDocument | None:
    data = _read_bytes(file, log)
    if data is None:
        return None
    text = decode_text(data, file, log)
    if text is None:
        return None
    if not text.strip():
        log.add(ImportProblem(file.name, "文件为空"))
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        log.add(ImportProblem(file.name, f"JSON 格式错误：{error.msg}（第 {error.colno} 个字符）", row=error.lineno))
        return None
    if isinstance(document, list):
        return JsonDocument(file, tuple(document))
    if isinstance(document, dict):
        entries = document.get("entries", document.get("事项"))
        if isinstance(entries, list):
            list_type = document.get("list_type", document.get("清单类型", ""))
            return JsonDocument(file, tuple(entries), str(document.get("name", "") or ""), str(list_type or ""))
    log.add(ImportProblem(file.name, 'JSON 内容应为事项列表，或含有 "entries" 列表的对象'))
    return None
