"""Streaming reader for the tables users bring: CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) and XLSX.

Rows come one at a time so a 10-million-row export never sits in memory. A line that does not decode is still
delivered (with replacement characters) and marked, so callers can report it instead of dropping it.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from corpus.readers import CSV_SUFFIXES, XLS_SUFFIXES, XLSX_SUFFIXES, table_width, xls_grids

SNIFF_BYTES = 1 << 20


class TableError(ValueError):
    """A table that cannot be read at all; the message names the file."""


def detect_encoding(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    # Cut back to a line end so a multi-byte character split by the sniff window does not mislead.
    cut = head.rfind(b"\n") if len(head) == SNIFF_BYTES else len(head)
    sample = head[: cut if cut > 0 else len(head)]
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        sample.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError:
        return "utf-8"  # mostly UTF-8 with damaged lines: those lines get marked


@dataclass
class TableRow:
    number: int  # 1-based row number as a person sees it in an editor or Excel (header = 1)
    values: dict[str, str]
    problem: str = ""  # e.g. an undecodable line


@dataclass
class Table:
    path: Path
    headers: list[str]
    encoding: str = ""
    sheet: str = ""
    _rows: Iterator[TableRow] = field(default=iter(()), repr=False)
    header_row: int = 1  # > 1 when title rows (工单明细表, 导出时间：…) stand above the header

    def __iter__(self) -> Iterator[TableRow]:
        return self._rows


# Exports put a title, and sometimes an export-time line, above the header; those rows hold one cell at most.
TITLE_SEARCH_ROWS = 10


def _header_position(first_rows: list[list]) -> int:
    """Index of the header among a table's first rows: the first one with two or more filled cells."""
    for i, cells in enumerate(first_rows):
        if sum(1 for c in cells if str(c if c is not None else "").strip()) >= 2:
            return i
    return 0


class _BlankRowsBetween:
    """Blank rows inside a table are rows too (a bulk job gives back every row it was given); blank rows after
    the last filled one are only spreadsheet formatting, and are dropped."""

    def __init__(self) -> None:
        self.pending: list[TableRow] = []

    def push(self, row: TableRow) -> list[TableRow]:
        if not row.problem and not any(v.strip() for v in row.values.values()):
            self.pending.append(row)
            return []
        out, self.pending = [*self.pending, row], []
        return out


def _decoded_lines(path: Path, encoding: str, bad_lines: set[int]) -> Iterator[str]:
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            try:
                yield raw.decode(encoding)
            except UnicodeDecodeError:
                bad_lines.add(n)
                yield raw.decode(encoding, errors="replace")


def _clean_header(h: object, i: int) -> str:
    text = "".join(str(h or "").split()).lstrip("\ufeff")
    return text or f"列{i + 1}"


def _clean_headers(cells) -> list[str]:
    """Trimmed header names, made unique (a second 备注 becomes 备注(2)) so no column's values are lost."""
    out: list[str] = []
    for i, h in enumerate(cells):
        name = base = _clean_header(h, i)
        n = 1
        while name in out:
            n += 1
            name = f"{base}({n})"
        out.append(name)
    return out


def _overflow_problem(headers: list[str], cells: list[str]) -> str:
    """Why a CSV row with filled cells beyond the header cannot be trusted, quoting those cells so nothing is lost.

    Usually a comma inside a text that the exporting program did not quote: the text is cut there and every later
    column is shifted, so classifying what sits under the text column would classify a fragment."""
    extra = [c for c in cells[len(headers) :] if c.strip()]
    if not extra:
        return ""  # trailing empty cells (a trailing comma) are harmless
    quoted = "、".join(f"「{c}」" for c in extra)
    # Reports count errors by the words before the first bracket, so the row's own figures come after them.
    return (
        f"列数多于表头（本行 {len(cells)} 列，表头 {len(headers)} 列）：可能是内容中的逗号未加引号，各列已错位；"
        f"多出的内容：{quoted}"
    )


def open_csv(path: Path) -> Table:
    encoding = detect_encoding(path)
    bad_lines: set[int] = set()
    lines = _decoded_lines(path, "utf-8" if encoding == "utf-8-sig" else encoding, bad_lines)
    reader = csv.reader((ln.lstrip("\ufeff") if i == 0 else ln for i, ln in enumerate(lines)))
    # The first rows are read ahead to find the header; the ones after it are given back as data.
    ahead: list[tuple[int, int, list[str], str]] = []  # (first line, last line, cells, CSV error)
    while len(ahead) < TITLE_SEARCH_ROWS:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            ahead.append((start, reader.line_num, [], f"CSV 格式错误：{exc}"))
            continue
        ahead.append((start, reader.line_num, cells, ""))
    if not ahead:
        raise TableError(f"{path.name}：文件为空")
    position = _header_position([cells for _, _, cells, _ in ahead])
    if ahead[position][3]:
        raise TableError(f"{path.name} 第 {ahead[position][0]} 行：无法解析表头（{ahead[position][3]}）")
    header_line = ahead[position][0]
    first_data = [cells for _, _, cells, _ in ahead[position + 1 :]]
    header = ahead[position][2]
    headers = _clean_headers(header + [""] * (table_width(len(header), first_data) - len(header)))  # unnamed: 列N

    def rows() -> Iterator[TableRow]:
        held = _BlankRowsBetween()

        def row(first: int, last: int, cells: list[str]) -> TableRow:
            problem = f"无法按 {encoding} 解码" if any(n in bad_lines for n in range(first, last + 1)) else ""
            return TableRow(first, dict(zip(headers, cells)), problem or _overflow_problem(headers, cells))

        for first, last, cells, error in ahead[position + 1 :]:
            if error:
                yield TableRow(first, {}, error)
            else:
                yield from held.push(row(first, last, cells))
        first_line = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield TableRow(first_line, {}, f"CSV 格式错误：{exc}")
                first_line = reader.line_num + 1
                continue
            yield from held.push(row(first_line, reader.line_num, cells))
            first_line = reader.line_num + 1

    return Table(path, headers, encoding, "", rows(), header_row=header_line)


def _sheet_table(path: Path, kind: str, sheet: str, cells: Iterator, close=lambda: None) -> Table:
    """A worksheet's rows of cell values as a Table, its header found below any title rows."""
    ahead = list(itertools.islice(cells, TITLE_SEARCH_ROWS))
    if not ahead:
        raise TableError(f"{path.name} 工作表「{sheet}」为空")
    position = _header_position(ahead)
    headers = _clean_headers(ahead[position])

    def rows() -> Iterator[TableRow]:
        held = _BlankRowsBetween()
        for n, row in enumerate(itertools.chain(ahead[position + 1 :], cells), start=position + 2):
            yield from held.push(TableRow(n, {h: ("" if c is None else str(c)) for h, c in zip(headers, row)}))
        close()

    return Table(path, headers, kind, sheet, rows(), header_row=position + 1)


def open_xlsx(path: Path, sheet: str | None = None) -> Table:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise TableError(f"{path.name}：无法作为 XLSX 打开（{exc}）") from None
    ws = book[sheet] if sheet else book.worksheets[0]
    return _sheet_table(path, "xlsx", ws.title, ws.iter_rows(values_only=True), book.close)


def open_xls(path: Path, sheet: str | None = None) -> Table:
    """An Excel 97-2003 export (.xls holds at most 65,536 rows, so reading it whole is bounded)."""
    try:
        grids = dict(xls_grids(path.read_bytes()))
    except ValueError as exc:
        raise TableError(f"{path.name}：无法作为 XLS 打开（{exc}）") from None
    if not grids:
        raise TableError(f"{path.name}：没有工作表")
    name = sheet if sheet in grids else next(iter(grids))
    return _sheet_table(path, "xls", name, iter(grids[name]))


def open_table(path: Path | str, sheet: str | None = None) -> Table:
    path = Path(path)
    if not path.exists():
        raise TableError(f"找不到文件：{path}")
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return open_xlsx(path, sheet)
    if suffix in XLS_SUFFIXES:
        return open_xls(path, sheet)
    if suffix in CSV_SUFFIXES or not suffix:
        return open_csv(path)
    raise TableError(f"{path.name}：不支持的文件类型 {suffix}（支持 CSV、XLSX、XLS）")


def read_rows(path: Path | str) -> list[TableRow]:
    """Whole small table (labelled sets, gold files); rows that failed to decode raise with file and row."""
    table = open_table(path)
    rows = [r for r in table if r.problem or any(v.strip() for v in r.values.values())]
    for row in rows:
        if row.problem:
            raise TableError(f"{Path(path).name} 第 {row.number} 行：{row.problem}")
    return rows


def atomic_write(path: Path, write) -> None:
    """Run write(tmp_path) then rename into place: no half-written file ever carries the final name."""
    import os
    import tempfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=".part" + path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_table(path: Path | str, rows: list[dict], sheet: str = "结果") -> None:
    """CSV (UTF-8 with BOM, so Excel opens it right) or XLSX by extension, written atomically."""
    path = Path(path)
    headers = list(dict.fromkeys(k for r in rows for k in r))

    def write_csv(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=headers)
            w.writeheader()
            w.writerows(rows)

    def write_xlsx(tmp: Path) -> None:
        import openpyxl

        book = openpyxl.Workbook(write_only=True)
        ws = book.create_sheet(sheet)
        ws.append(headers)
        for r in rows:
            ws.append([r.get(h, "") for h in headers])
        book.save(tmp)

    atomic_write(path, write_xlsx if path.suffix.lower() == ".xlsx" else write_csv)
