"""run_bulk: a hotline export in, every row classified out, plus the county report — streamed, checkpointed,
resumable, on the local engine or on Ray."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

from corpus.tables import TableError, open_table
from inference.bulk.checkpoint import Checkpoint, input_fingerprint
from inference.bulk.chunk import ChunkSpec
from inference.bulk.classify import ChunkClassifier, StaticSource
from inference.bulk.columns import detect_columns
from inference.bulk.engine import LocalEngine
from inference.bulk.finish import finish
from inference.bulk.options import BulkOptions, BulkProgress, BulkResult
from inference.bulk.output import result_headers
from inference.bulk.reading import ChunkReader, estimate_rows, sample_rows
from inference.fast import CascadePolicy
from inference.matcher import Matcher
from lvzhi.config import Settings

OUTPUT_SUFFIXES = (".csv", ".xlsx")
ENGINES = ("local", "ray")


def check_bulk_input(input: Path, output: Path, options: BulkOptions) -> None:
    """The cheap checks run_bulk starts with (files, options, columns), for a caller that wants them answered before
    it spends time loading a model."""
    input, output = Path(input), Path(output)
    _check(input, output, options)
    headers, sample, _ = sample_rows(input)
    detect_columns(headers, sample, options.text_col, options.title_col, options.date_col)


def _check(input: Path, output: Path, options: BulkOptions) -> None:
    if not input.is_file():
        raise TableError(f"找不到输入文件：{input}")
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ValueError(f"输出文件须为 .csv 或 .xlsx：{output.name}")
    if output.resolve() == input.resolve():
        raise ValueError("输出文件不能与输入文件相同")
    if options.engine not in ENGINES:
        raise ValueError(f"未知的引擎「{options.engine}」（可选：local、ray）")
    if options.chunk_rows < 1:
        raise ValueError("每块行数须为正整数")
    if options.report_format not in ("md", "html"):
        raise ValueError("报告格式须为 md 或 html")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _examples_hash(examples: dict[str, list[str]]) -> str:
    return _digest(json.dumps(examples, ensure_ascii=False, sort_keys=True))


class _Pace:
    """Rows per second over this run (resumed rows excluded) and the time left."""

    def __init__(self, done: int, total: int | None) -> None:
        self.start, self.base, self.done, self.total = time.monotonic(), done, done, total

    def advance(self, rows: int) -> BulkProgress:
        self.done += rows
        if self.total is not None and self.done > self.total:
            self.total = self.done  # the CSV line count was an estimate
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = (self.done - self.base) / elapsed
        eta = (self.total - self.done) / rate if self.total is not None and rate > 0 else None
        return BulkProgress(self.done, self.total, rate, eta)


def run_bulk(
    input: Path,
    output: Path,
    options: BulkOptions,
    settings: Settings,
    matcher: Matcher | None = None,
    progress: Callable[[BulkProgress], None] | None = None,
    resume: bool = False,
    *,
    examples: dict[str, list[str]] | None = None,
    static_source: StaticSource | None = None,
) -> BulkResult:
    """Classify every row of `input` into `output` and write the report beside it.

    matcher: the loaded matcher to answer with. Without one, the local engine loads it from settings (with
    `examples`, the confirmed texts the caller gathered) and the Ray engine has each worker load the same.
    static_source: gives --fast's static vectors for a matcher (training.distill.ensure_static_encoder, which
    distils them at first use); needed with options.fast unless the matcher is lexical-only.
    """
    input, output = Path(input), Path(output)
    _check(input, output, options)
    headers, sample, header_row = sample_rows(input)
    columns = detect_columns(headers, sample, options.text_col, options.title_col, options.date_col)
    spec = ChunkSpec(tuple(headers), columns, options.max_chars)
    fast = options.fast
    policy = options.fast_policy or CascadePolicy()

    if options.engine == "local" and matcher is None:
        from inference.loader import load_matcher

        matcher = load_matcher(settings, examples=examples)
    if matcher is not None:
        catalog, examples, fusion = matcher.catalog, dict(matcher.examples), matcher.fusion
        model = matcher.embedder.identity if matcher.embedder is not None else "lexical"
    else:
        from inference.loader import fusion_for, load_catalog

        catalog, examples = load_catalog(settings), dict(examples or {})
        fusion, model = fusion_for(settings, catalog, examples), settings.model
    classifier = ChunkClassifier.for_matcher(matcher, fast, policy, static_source) if matcher is not None else None
    job = {
        "input": str(input.resolve()),
        "input_fingerprint": input_fingerprint(input),
        "output": output.name,
        "headers": headers,
        "columns": columns.to_dict(),
        "chunk_rows": options.chunk_rows,
        "max_chars": options.max_chars,
        "fast": fast,
        "policy": repr(policy),
        "engine": options.engine,
        "catalog": catalog.version,
        "model": model,
        "static": classifier.static.identity if classifier is not None and classifier.static is not None else None,
        "examples": _examples_hash(examples),
        "fusion": _digest(repr(fusion)),
        "batch_size": settings.batch_size,
        "threads": settings.threads,
        "precision": settings.precision,
    }
    cp, note = Checkpoint.open(output, job, resume)
    notes = [columns.how] + ([note] if note else [])
    if header_row > 1:
        notes.insert(0, f"表头在第 {header_row} 行（上方 {header_row - 1} 行是标题，不是工单）")
    try:
        if options.engine == "ray":
            from inference.bulk.ray_engine import RayEngine

            engine = RayEngine(
                settings, catalog, examples, fusion, fast, policy, spec, static_source, options.ray_address
            )
        else:
            engine = LocalEngine(classifier, spec)
        reader = ChunkReader(open_table(input), options.chunk_rows, set(cp.done))
        pace = _Pace(sum(e.rows for e in cp.done.values()), estimate_rows(input))
        if progress:
            progress(pace.advance(0))
        try:
            for out in engine.run(reader):
                cp.save(out)
                if progress:
                    progress(pace.advance(out.rows))
        finally:
            engine.close()
        n_chunks = reader.chunk_total
        missing = [i for i in range(n_chunks) if i not in cp.done]
        if missing:
            raise RuntimeError(f"内部错误：第 {missing[0]} 块没有结果")
        header = headers + result_headers(headers)
        outputs, stats = finish(
            cp=cp,
            n_chunks=n_chunks,
            spec=spec,
            chunk_rows=options.chunk_rows,
            catalog=catalog,
            output=output,
            header=header,
            zombie_months=options.zombie_months,
            report_format=options.report_format,
            input_path=input,
            fast=fast,
            segmenter=matcher.segmenter if matcher is not None else None,
        )
        if progress:
            pace.total = pace.done
            progress(pace.advance(0))
        cp.remove()
        return BulkResult(
            outputs.output,
            outputs.report,
            outputs.charts,
            stats.rows,
            stats.errors,
            columns.to_dict(),
            outputs.report_json,
            notes,
        )
    finally:
        cp.close()
