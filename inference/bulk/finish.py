"""The end of a job: merge the chunks' counts, find duplicates and themes, draw charts, and write the report and
the output file — each under its final name only once it is complete."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from corpus.schema import Catalog
from corpus.tables import atomic_write
from inference.bulk import charts
from inference.bulk.checkpoint import Checkpoint
from inference.bulk.chunk import NO_DAY, ChunkSpec
from inference.bulk.dedup import BANDS, group_labels
from inference.bulk.report import DuplicateGroup, DuplicateSummary, build_report, sections, write_report
from inference.bulk.rowtext import row_text
from inference.bulk.stats import TicketStats
from inference.bulk.themes import cluster_themes

TOP_DUPLICATE_GROUPS = 20
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit less the header row
SHOWN_ROWS = 10


@dataclass(frozen=True)
class Outputs:
    output: Path
    report: Path
    report_json: Path
    charts: list[Path]


def output_paths(output: Path, report_format: str) -> tuple[Path, Path]:
    suffix = ".html" if report_format == "html" else ".md"
    return output.with_name(output.stem + ".report" + suffix), output.with_name(output.stem + ".report.json")


def merged_stats(cp: Checkpoint, n_chunks: int) -> TicketStats:
    total = TicketStats()
    for i in range(n_chunks):
        total.merge(cp.stats(i))
    return total


def part_rows(cp: Checkpoint, chunk: int) -> list[list[str]]:
    # newline="" keeps line breaks inside cells exactly as the export had them.
    with open(cp.part_path(chunk), encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


class PartRows:
    """Random access to a few finished rows, reading one part file at a time."""

    def __init__(self, cp: Checkpoint, chunk_rows: int) -> None:
        self.cp, self.chunk_rows = cp, chunk_rows
        self._chunk, self._rows = -1, []

    def get(self, row_index: int) -> list[str]:
        chunk = row_index // self.chunk_rows
        if chunk != self._chunk:
            self._chunk, self._rows = chunk, part_rows(self.cp, chunk)
        return self._rows[row_index % self.chunk_rows]


def _column(cp: Checkpoint, n_chunks: int, name: str, band: int | None = None) -> np.ndarray:
    parts = []
    for i in range(n_chunks):
        a = cp.arrays(i)[name]
        parts.append(a[:, band] if band is not None else a)
    return np.concatenate(parts) if parts else np.zeros(0)


def _day_text(ordinal: int) -> str:
    return date.fromordinal(int(ordinal)).isoformat() if ordinal != NO_DAY else ""


def summarise_duplicates(cp: Checkpoint, n_chunks: int, spec: ChunkSpec, chunk_rows: int) -> DuplicateSummary:
    numbers = _column(cp, n_chunks, "numbers").astype(np.int64)
    n = len(numbers)
    if n == 0:
        return DuplicateSummary(0, 0)
    valid = _column(cp, n_chunks, "valid").astype(bool)
    labels = group_labels(((_column(cp, n_chunks, "keys", b), valid) for b in range(BANDS)), n)
    sizes = np.bincount(labels)
    multi = np.flatnonzero(sizes >= 2)
    if len(multi) == 0:
        return DuplicateSummary(0, 0)
    _, first_index = np.unique(labels, return_index=True)
    order = sorted(multi.tolist(), key=lambda g: (-int(sizes[g]), int(first_index[g])))[:TOP_DUPLICATE_GROUPS]
    days = _column(cp, n_chunks, "days").astype(np.int64)
    rows = PartRows(cp, chunk_rows)
    width = len(spec.headers)
    top = []
    for g in sorted(order, key=lambda g: int(first_index[g])):  # read parts front to back
        members = np.flatnonzero(labels == g)
        cells = rows.get(int(members[0]))
        text = row_text(dict(zip(spec.headers, cells[:width])), spec.columns, max_chars=10**9).text
        entry = " ".join(c for c in cells[width : width + 2] if c)
        member_days = days[members][days[members] != NO_DAY]
        top.append(
            (
                g,
                DuplicateGroup(
                    int(sizes[g]),
                    tuple(int(x) for x in numbers[members[:SHOWN_ROWS]]),
                    text,
                    entry,
                    _day_text(member_days.min()) if len(member_days) else "",
                    _day_text(member_days.max()) if len(member_days) else "",
                ),
            )
        )
    rank = {g: i for i, g in enumerate(order)}
    top.sort(key=lambda t: rank[t[0]])
    return DuplicateSummary(len(multi), int(sizes[multi].sum()), tuple(g for _, g in top))


def make_charts(r: dict, output: Path) -> dict[str, Path]:
    """Chart key -> PNG path. A chart that cannot be drawn is skipped: the report stands without it."""
    made: dict[str, Path] = {}
    stem = output.stem
    cr = r["cooperate_reclaimed"]
    jobs = {
        "office": lambda p: charts.office_chart([(o["office"], o["tickets"]) for o in r["by_office"]], p),
        "share": lambda p: charts.share_chart(cr["ticket_share"], cr["entry_share"], cr["national_entry_share"], p),
    }
    if r["monthly"]:
        jobs["monthly"] = lambda p: charts.monthly_chart(r["monthly"], p)
    for key, draw in jobs.items():
        path = output.with_name(f"{stem}.chart-{key}.png")
        try:
            made[key] = draw(path)
        except Exception:  # noqa: BLE001 - e.g. a matplotlib without fonts; the numbers are in the report anyway
            continue
    return made


def write_csv_output(output: Path, header: list[str], cp: Checkpoint, n_chunks: int) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\r\n").writerow(header)
            fh.write(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))  # BOM: Excel then reads UTF-8 right
            for i in range(n_chunks):
                fh.write(cp.part_path(i).read_bytes())

    atomic_write(output, write)


def _normalise_xlsx(path: Path, made_at: datetime) -> None:
    """Rewrite the workbook with one fixed time on every zip member and as the document's modified time (openpyxl
    stamps "now" while saving), so the same content always gives the same bytes."""
    import re
    import zipfile

    stamp = made_at.timetuple()[:6]
    fixed = made_at.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(path) as src:
        members = [(info.filename, src.read(info)) for info in src.infolist()]
    members = [
        (
            name,
            re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rb"\g<1>" + fixed + rb"\g<2>", data)
            if name == "docProps/core.xml"
            else data,
        )
        for name, data in members
    ]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, data)


def write_xlsx_output(
    output: Path,
    header: list[str],
    cp: Checkpoint,
    n_chunks: int,
    report: dict,
    chart_paths: dict[str, Path],
    confidence_col: int,
    made_at: datetime,
) -> None:
    import openpyxl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.drawing.image import Image

    def cell(value: str) -> str:
        # Control characters (binary junk in the export) are not allowed in a worksheet; mark where they were.
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)

    def write(tmp: Path) -> None:
        book = openpyxl.Workbook(write_only=True)
        # Fixed document times (the input's) instead of "now": a resumed run must write the same bytes.
        book.properties.creator = "lvzhi"
        book.properties.created = book.properties.modified = made_at
        sheet, count, number = None, XLSX_MAX_ROWS, 0
        for i in range(n_chunks):
            for cells in part_rows(cp, i):
                if count >= XLSX_MAX_ROWS:
                    number += 1
                    sheet = book.create_sheet("结果" if number == 1 else f"结果{number}")
                    sheet.append(header)
                    count = 0
                row: list = [cell(c) for c in cells]
                if row[confidence_col]:
                    row[confidence_col] = float(row[confidence_col])
                sheet.append(row)
                count += 1
        if sheet is None:
            book.create_sheet("结果").append(header)
        summary = book.create_sheet("汇总")
        for s in sections(report):
            summary.append([s.title])
            for p in s.paragraphs:
                summary.append([cell(p)])
            for t in s.tables:
                if t.caption:
                    summary.append([t.caption])
                summary.append(t.headers)
                for r in t.rows:
                    summary.append([cell(c) if isinstance(c, str) else c for c in r])
            summary.append([])
        if chart_paths:
            pictures = book.create_sheet("图表")
            anchor_row = 1
            for path in chart_paths.values():
                img = Image(str(path))
                img.anchor = f"A{anchor_row}"
                pictures.add_image(img)
                anchor_row += int(img.height / 20) + 2
        book.save(tmp)
        _normalise_xlsx(tmp, made_at)

    atomic_write(output, write)


def remove_stale_temporaries(paths: list[Path]) -> None:
    """Temp files a killed run left beside the outputs (atomic_write names them .NAME*.partSUFFIX)."""
    for path in paths:
        for stale in path.parent.glob(f".{path.name}*.part{path.suffix}"):
            stale.unlink(missing_ok=True)


def finish(
    *,
    cp: Checkpoint,
    n_chunks: int,
    spec: ChunkSpec,
    chunk_rows: int,
    catalog: Catalog,
    output: Path,
    header: list[str],
    zombie_months: int,
    report_format: str,
    input_path: Path,
    fast: bool,
    segmenter=None,
) -> tuple[Outputs, TicketStats]:
    stats = merged_stats(cp, n_chunks)
    duplicates = summarise_duplicates(cp, n_chunks, spec, chunk_rows)
    numbers = _column(cp, n_chunks, "numbers").astype(np.int64)
    sample = [(int(numbers[i]), text, cleaned) for i, text, cleaned in stats.sample_texts()]
    themes = cluster_themes(sample, stats.by_list_type.get("清单之外", 0), segmenter)
    r = build_report(
        catalog=catalog,
        stats=stats,
        duplicates=duplicates,
        themes=themes,
        zombie_months=zombie_months,
        columns=spec.columns.to_dict(),
        input_name=input_path.name,
        output_name=output.name,
        fast=fast,
    )
    report_path, json_path = output_paths(output, report_format)
    remove_stale_temporaries(
        [
            output,
            report_path,
            json_path,
            *(output.with_name(f"{output.stem}.chart-{k}.png") for k in ("office", "share", "monthly")),
        ]
    )
    chart_paths = make_charts(r, output)
    r["charts"] = [p.name for p in chart_paths.values()]
    write_report(r, report_path, json_path, {k: p.name for k, p in chart_paths.items()})
    if output.suffix.lower() == ".xlsx":
        made_at = datetime.fromtimestamp(int(input_path.stat().st_mtime), tz=UTC).replace(tzinfo=None)
        write_xlsx_output(output, header, cp, n_chunks, r, chart_paths, len(spec.headers) + 5, made_at)
    else:
        write_csv_output(output, header, cp, n_chunks)
    return Outputs(output, report_path, json_path, list(chart_paths.values())), stats
