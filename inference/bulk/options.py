"""The public shapes of a bulk job: what to do, how far it is, what it produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from inference.bulk.rowtext import DEFAULT_MAX_CHARS
from inference.fast import CascadePolicy


@dataclass
class BulkOptions:
    text_col: str | None = None
    title_col: str | None = None  # None = detect; "" = no title column
    date_col: str | None = None  # None = detect; "" = no date column
    engine: str = "local"  # local | ray
    ray_address: str | None = None
    zombie_months: int = 12
    chunk_rows: int = 2000
    fast: bool = False
    report_format: str = "md"  # md | html (a JSON twin is always written)
    max_chars: int = DEFAULT_MAX_CHARS  # longer tickets get an error instead of a guess
    fast_policy: CascadePolicy | None = None  # which rows --fast sends to the transformer (None = the default)


@dataclass
class BulkProgress:
    done: int  # rows finished, resumed ones included
    total: int | None  # rows in the export (estimated from line count for CSV), None when unknown
    rate: float  # rows per second in this run
    eta_s: float | None


@dataclass
class BulkResult:
    output: Path
    report: Path
    charts: list[Path]
    rows: int
    errors: int
    columns: dict  # what was picked: text, title, date and a Chinese note on how
    report_json: Path | None = None
    notes: list[str] = field(default_factory=list)  # Chinese messages worth showing (resumed, fallbacks…)
