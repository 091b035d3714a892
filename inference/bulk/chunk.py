"""One chunk of rows in, its finished output rows and report counts out. Engines only decide where this runs."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np

from inference.bulk.classify import ChunkClassifier
from inference.bulk.columns import ColumnChoice
from inference.bulk.dates import parse_date
from inference.bulk.dedup import band_keys
from inference.bulk.output import result_cells
from inference.bulk.rowtext import row_text
from inference.bulk.stats import TicketStats
from inference.matcher import Match

NO_DAY = -1


@dataclass(frozen=True)
class ChunkSpec:
    """What every chunk of one job shares."""

    headers: tuple[str, ...]
    columns: ColumnChoice
    max_chars: int


@dataclass
class ChunkInput:
    index: int
    first_row: int  # 0-based position of the chunk's first data row in the whole export
    values: list[list[str]]  # cells in header order
    problems: list[str]
    numbers: list[int]  # row numbers as a person sees them in the export (header = 1)


@dataclass
class ChunkOutput:
    index: int
    first_row: int
    csv_text: str  # output rows, no header
    stats: TicketStats
    arrays: dict[str, np.ndarray]  # per row: near-duplicate keys, day number, row number in the export

    @property
    def rows(self) -> int:
        return self.stats.rows


def _csv_text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


def _classify_safely(classifier: ChunkClassifier, texts: list[str]) -> tuple[list[Match | None], list[bool], list[str]]:
    """Never lose a chunk to one bad row: on failure, retry row by row and mark only the row that fails."""
    try:
        matches, routed = classifier.classify(texts)
        return list(matches), routed, [""] * len(texts)
    except Exception:  # noqa: BLE001 - any failure inside the model must become a row error, not a crash
        out_m: list[Match | None] = []
        out_r, out_e = [], []
        for t in texts:
            try:
                (m,), (r,) = classifier.classify([t])
                out_m.append(m)
                out_r.append(r)
                out_e.append("")
            except Exception as exc:  # noqa: BLE001
                out_m.append(None)
                out_r.append(False)
                out_e.append(f"分类失败：{type(exc).__name__}: {exc}"[:200])
        return out_m, out_r, out_e


def process_chunk(chunk: ChunkInput, spec: ChunkSpec, classifier: ChunkClassifier) -> ChunkOutput:
    headers = spec.headers
    width = len(headers)
    prepared = [
        row_text(dict(zip(headers, values)), spec.columns, problem, spec.max_chars)
        for values, problem in zip(chunk.values, chunk.problems)
    ]
    todo = [i for i, p in enumerate(prepared) if not p.error]
    matches, routed, failures = _classify_safely(classifier, [prepared[i].text for i in todo])
    match_of: dict[int, tuple[Match | None, bool, str]] = dict(zip(todo, zip(matches, routed, failures)))

    n = len(chunk.values)
    stats = TicketStats()
    days = np.full(n, NO_DAY, dtype=np.int32)
    rows, key_texts = [], []
    date_at = headers.index(spec.columns.date) if spec.columns.date else -1
    for i, (values, prep) in enumerate(zip(chunk.values, prepared)):
        m, was_routed, failure = match_of.get(i, (None, False, ""))
        error = prep.error or failure
        cells = list(values[:width]) + [""] * (width - len(values))
        rows.append(cells + result_cells(None if error else m, error))
        day = parse_date(cells[date_at]) if date_at >= 0 else None
        if day is not None:
            days[i] = day.toordinal()
        stats.add(chunk.first_row + i, None if error else m, error, day, was_routed and not error)
        key_texts.append(m.cleaned if (m is not None and not error) else "")
    keys, valid = band_keys(key_texts)
    arrays = {"keys": keys, "valid": valid, "days": days, "numbers": np.asarray(chunk.numbers, dtype=np.int64)}
    return ChunkOutput(chunk.index, chunk.first_row, _csv_text(rows), stats, arrays)
