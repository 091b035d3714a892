"""The background job queue: bulk classification and merge jobs, one at a time, persisted in the database.

A worker thread takes the oldest queued job, runs it and stores progress as it goes. When the server stops (or
is killed), running jobs are put back in the queue on the next start and resumed (`resume=True`), so an upload
is never lost and finished rows are not redone.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.job_store import Job
from api.matchers import MatcherPool, ModelNotReady
from api.store import Store
from corpus.schema import DutyEntry
from lvzhi.config import Settings

log = logging.getLogger("lvzhi.api")

PROGRESS_EVERY_S = 0.5
MERGE_OPTIONS = ("granularity", "target_groups")
IDLE_POLL_S = 2.0


class JobInterrupted(Exception):
    """The server is stopping; the job goes back to the queue and resumes on the next start."""


class JobCancelled(Exception):
    """Its owner cancelled the job."""


@dataclass(frozen=True)
class Capabilities:
    bulk: bool
    merge: bool
    bulk_reason: str
    merge_reason: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _probe(module: str, names: tuple[str, ...]) -> str:
    """'' when the module imports and has the names, else why not (in Chinese)."""
    try:
        found = importlib.import_module(module)
    except ImportError as exc:
        return f"本服务尚未安装该功能（{module}：{exc}）"
    missing = [n for n in names if not hasattr(found, n)]
    return f"{module} 缺少 {'、'.join(missing)}" if missing else ""


def capabilities() -> Capabilities:
    bulk = _probe("inference.bulk", ("BulkOptions", "run_bulk"))
    merge = _probe("inference.merge", ("merge_items", "read_items", "write_merge"))
    return Capabilities(not bulk, not merge, bulk, merge)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return value.name
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def job_dir_for(settings: Settings) -> Path:
    """A fresh folder for one job's files (named at random, so it exists before the job row does)."""
    folder = settings.jobs_dir / f"{time.strftime('%Y%m%d')}-{secrets.token_hex(6)}"
    folder.mkdir(parents=True, exist_ok=False)
    return folder


def file_entry(path: Path, kind: str, label: str, job_dir: Path) -> dict | None:
    path = Path(path)
    if not path.is_absolute():
        path = job_dir / path
    try:
        relative = path.resolve().relative_to(job_dir.resolve())
    except ValueError:
        return None  # only files inside the job's folder are ever served
    if not path.is_file():
        return None
    return {"name": path.name, "path": str(relative), "kind": kind, "label": label, "size": path.stat().st_size}


class JobRunner:
    def __init__(self, settings: Settings, store: Store, pool: MatcherPool) -> None:
        self.settings = settings
        self.store = store
        self.pool = pool
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lvzhi-jobs", daemon=True)
        self.current_job: int | None = None

    def start(self) -> int:
        resumed = self.store.jobs.requeue_interrupted()
        if resumed:
            log.info("重新排队 %d 个被中断的任务，将继续处理", resumed)
        self._thread.start()
        return resumed

    def wake(self) -> None:
        self._wake.set()

    def close(self, timeout: float = 60.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            job = None
            try:
                if self._model_ready():
                    job = self.store.jobs.claim_next()
            except Exception:
                log.exception("读取任务队列失败")
            if job is None:
                self._wake.wait(IDLE_POLL_S)
                self._wake.clear()
                continue
            self._run(job)

    def _model_ready(self) -> bool:
        try:
            self.pool.wait_ready(1.0)
            return True
        except ModelNotReady:
            return False

    def _run(self, job: Job) -> None:
        self.current_job = job.id
        try:
            runner = {"bulk": self._run_bulk, "merge": self._run_merge}[job.kind]
            result, done = runner(job)
            self.store.jobs.finish(job.id, result, done)
        except JobInterrupted:
            self.store.jobs.requeue(job.id)
        except JobCancelled:
            self.store.jobs.mark_cancelled(job.id)
        except Exception as exc:
            log.exception("任务 %s 失败", job.id)
            self.store.jobs.fail(job.id, f"{exc}" or type(exc).__name__)
        finally:
            self.current_job = None

    def _progress_callback(self, job: Job):
        last = {"at": 0.0}

        def report(progress: Any) -> None:
            if self._stop.is_set():
                raise JobInterrupted()
            done, total = int(progress.done), int(progress.total or 0)
            now = time.monotonic()
            if now - last["at"] < PROGRESS_EVERY_S and (done < total or not total):
                return
            last["at"] = now
            eta = getattr(progress, "eta_s", None)
            if self.store.jobs.progress(
                job.id, done, total, float(getattr(progress, "rate", 0.0) or 0.0), None if eta is None else float(eta)
            ):
                raise JobCancelled()

        return report

    def _run_bulk(self, job: Job) -> tuple[dict, int]:
        from inference.bulk import BulkOptions, run_bulk
        from inference.bulk.checkpoint import CheckpointError
        from training.distill import ensure_static_encoder

        known = {f.name for f in dataclasses.fields(BulkOptions)}
        options = BulkOptions(**{k: v for k, v in job.options.items() if k in known})
        matcher = self.pool.get(job.catalog_version or None)
        if options.fast:
            self._prepare_static_vectors(job, matcher)

        def run(resume: bool):
            return run_bulk(
                Path(job.input_path),
                Path(job.output_path),
                options,
                self.settings,
                matcher=matcher,
                progress=self._progress_callback(job),
                resume=resume,
                static_source=ensure_static_encoder,
            )

        notes = []
        try:
            result = run(job.resume)
        except CheckpointError as exc:
            # A checkpoint made with another matcher (e.g. reviewers taught it meanwhile) cannot be continued:
            # the answers would differ, so the job starts over rather than mixing two matchers' rows.
            if not job.resume:
                raise
            notes.append(f"无法从中断处继续（{exc}），已从头重新处理")
            result = run(False)
        job_dir = Path(job.input_path).parent
        files = [file_entry(result.output, "output", "匹配结果", job_dir)]
        for path, kind, label in (
            (result.report, "report", "分析报告"),
            (result.report_json, "report_json", "报告数据（JSON）"),
        ):
            if path:
                files.append(file_entry(path, kind, label, job_dir))
        for chart in result.charts:
            files.append(file_entry(chart, "chart", _chart_label(Path(chart)), job_dir))
        summary = {
            "rows": result.rows,
            "errors": result.errors,
            "columns": _jsonable(result.columns),
            "notes": notes + [str(n) for n in result.notes if n],
        }
        report_text = _report_text(result.report, job_dir)
        if report_text:
            summary["report_text"] = report_text
        return {"files": [f for f in files if f], "summary": summary}, int(result.rows or 0)

    def _prepare_static_vectors(self, job: Job, matcher):
        """The static vectors, distilled up front when this model has none yet (minutes, once per model), saying
        so on the job, so its row count does not sit at zero without a word. None for a lexical-only matcher."""
        if matcher.embedder is None:
            return None
        from training.distill import ensure_static_encoder

        try:
            return ensure_static_encoder(
                matcher, report=lambda message: self.store.jobs.set_stage(job.id, message.strip())
            )
        finally:
            self.store.jobs.set_stage(job.id, "")

    def _run_merge(self, job: Job) -> tuple[dict, int]:
        from inference.merge import merge_items, read_items, write_merge

        matcher = self.pool.get(job.catalog_version or None)
        items = read_items(Path(job.input_path))
        callback = self._progress_callback(job)
        callback(_Progress(0, len(items)))
        static = self._prepare_static_vectors(job, matcher)  # merge_items embeds items with them
        options = {k: v for k, v in job.options.items() if k in MERGE_OPTIONS}
        result = merge_items(items, matcher, static=static, **options)
        if self._stop.is_set():
            raise JobInterrupted()
        write_merge(result, Path(job.output_path))
        job_dir = Path(job.input_path).parent
        groups = [_group_dict(g) for g in result.groups]
        groups_path = job_dir / "groups.json"
        groups_path.write_text(json.dumps(groups, ensure_ascii=False), encoding="utf-8")
        files = [
            file_entry(Path(job.output_path), "output", "归并建议", job_dir),
            file_entry(groups_path, "groups", "分组数据", job_dir),
        ]
        multi = sum(1 for g in groups if len(g["members"]) > 1)
        summary = {"rows": len(items), "groups": len(groups), "merged_groups": multi}
        callback(_Progress(len(items), len(items)))
        return {"files": [f for f in files if f], "summary": summary}, len(items)


@dataclass(frozen=True)
class _Progress:
    done: int
    total: int
    rate: float = 0.0
    eta_s: float | None = None


def _entry_brief(entry: DutyEntry | None) -> dict | None:
    if entry is None:
        return None
    return {
        "id": entry.id,
        "name": entry.name,
        "list_type": entry.list_type.value,
        "office": entry.office,
        "department": entry.department,
    }


def _group_dict(group: Any) -> dict:
    """A merge group as the 归并 page reads it: members with their own similarity, and the nearest entry."""
    members = [
        {
            "id": str(m.item.id),
            "text": m.item.text,
            "township": m.item.township,
            "similarity": round(float(m.similarity), 4),
            "best_entry": _entry_brief(m.best_entry),
        }
        for m in group.members
    ]
    return {
        "group_id": str(group.group_id),
        "proposed_name": group.proposed_name,
        "cohesion": round(float(group.cohesion), 4),
        "nearest_entry": _entry_brief(group.nearest_entry),
        "nearest_score": round(float(group.nearest_score or 0.0), 4),
        "verdict": str(group.verdict),
        "members": members,
    }


def _report_text(report: Any, job_dir: Path) -> str:
    """A short text report (Markdown/plain text/JSON) is shown on the page itself."""
    if not report:
        return ""
    path = Path(report)
    if not path.is_absolute():
        path = job_dir / path
    if path.suffix.lower() not in (".md", ".txt", ".json") or not path.is_file() or path.stat().st_size > 2 << 20:
        return ""
    return path.read_text(encoding="utf-8", errors="replace")


_CHART_WORDS = {
    "chart-office": "各承办机构工单量",
    "chart-monthly": "每月工单量（按清单类型）",
    "chart-share": "配合履职 + 上级部门收回 所占比例",
}


def _chart_label(path: Path) -> str:
    stem = path.stem.lower()
    for key, label in _CHART_WORDS.items():
        if key in stem:
            return label
    return path.stem
