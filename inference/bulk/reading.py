"""Reading an export as chunks of rows, and guessing its size for the progress bar."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from corpus.readers import XLS_SUFFIXES, XLSX_SUFFIXES
from corpus.tables import Table, open_table
from inference.bulk.chunk import ChunkInput

SAMPLE_ROWS = 200


def sample_rows(path: Path, n: int = SAMPLE_ROWS) -> tuple[list[str], list[dict[str, str]], int]:
    """(headers, the first n readable rows, the header's row number)."""
    table = open_table(path)
    sample = []
    for row in table:
        if not row.problem:
            sample.append(row.values)
        if len(sample) >= n:
            break
    return list(table.headers), sample, table.header_row


def estimate_rows(path: Path) -> int | None:
    """Data rows, counted cheaply: newlines for CSV (a cell with line breaks makes this an overestimate),
    the sheet's recorded size for XLSX and XLS."""
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        try:
            import openpyxl

            book = openpyxl.load_workbook(path, read_only=True)
            rows = book.worksheets[0].max_row
            book.close()
            return max(rows - 1, 0) if rows else None
        except Exception:  # noqa: BLE001 - only an estimate
            return None
    if suffix in XLS_SUFFIXES:
        try:
            import xlrd

            return max(xlrd.open_workbook(str(path), on_demand=True).sheet_by_index(0).nrows - 1, 0)
        except Exception:  # noqa: BLE001 - only an estimate
            return None
    lines = 0
    last = b"\n"
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            lines += block.count(b"\n")
            last = block[-1:]
    return max(lines + (last != b"\n") - 1, 0)


@dataclass
class ChunkReader:
    """Consecutive chunks of chunk_rows rows; chunks in `skip` (already done) are read past, not built."""

    table: Table
    chunk_rows: int
    skip: set[int]
    rows_seen: int = 0

    def __iter__(self) -> Iterator[ChunkInput]:
        headers = self.table.headers
        size = self.chunk_rows
        values: list[list[str]] = []
        problems: list[str] = []
        numbers: list[int] = []
        for n, row in enumerate(self.table):
            self.rows_seen = n + 1
            index = n // size
            if index in self.skip:
                continue
            values.append([row.values.get(h, "") for h in headers])
            problems.append(row.problem)
            numbers.append(row.number)
            if len(values) == size:
                yield ChunkInput(index, index * size, values, problems, numbers)
                values, problems, numbers = [], [], []
        if values:
            index = (self.rows_seen - 1) // size
            yield ChunkInput(index, index * size, values, problems, numbers)

    @property
    def chunk_total(self) -> int:
        return (self.rows_seen + self.chunk_rows - 1) // self.chunk_rows
