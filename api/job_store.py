"""The persisted job queue: bulk classification and merge jobs, their progress and results."""

from __future__ import annotations

import json
from dataclasses import dataclass

from api.db import Database, utc_now

JOB_KINDS = ("bulk", "merge")
JOB_STATUS_LABELS = {"queued": "排队中", "running": "处理中", "done": "已完成", "failed": "失败", "cancelled": "已取消"}
FINISHED = ("done", "failed", "cancelled")


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    status: str
    owner: str
    original_name: str
    input_path: str
    output_path: str
    options: dict
    catalog_version: str
    resume: bool
    cancel_requested: bool
    done_rows: int
    total_rows: int
    rate: float
    eta_s: float | None
    result: dict
    error: str
    created_at: str
    started_at: str
    finished_at: str
    stage: str = ""

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def to_dict(self) -> dict:
        """What API callers see: no server paths."""
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "status_label": JOB_STATUS_LABELS.get(self.status, self.status),
            "owner": self.owner,
            "original_name": self.original_name,
            "options": self.options,
            "catalog_version": self.catalog_version,
            "resumed": self.resume,
            "done": self.done_rows,
            "total": self.total_rows,
            "rate": round(self.rate, 1),
            "eta_s": None if self.eta_s is None else round(self.eta_s, 1),
            "progress": round(self.done_rows / self.total_rows, 4) if self.total_rows else 0.0,
            "summary": self.result.get("summary", {}),
            "files": self.result.get("files", []),
            "error": self.error,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "stage": self.stage,
        }


_COLUMNS = (
    "id, kind, status, owner, original_name, input_path, output_path, options_json, catalog_version, resume, "
    "cancel_requested, done_rows, total_rows, rate, eta_s, result_json, error, created_at, started_at, "
    "finished_at, stage"
)


def _job(row: dict) -> Job:
    return Job(
        id=int(row["id"]),
        kind=row["kind"],
        status=row["status"],
        owner=row["owner"],
        original_name=row["original_name"],
        input_path=row["input_path"],
        output_path=row["output_path"],
        options=json.loads(row["options_json"] or "{}"),
        catalog_version=row["catalog_version"],
        resume=bool(row["resume"]),
        cancel_requested=bool(row["cancel_requested"]),
        done_rows=int(row["done_rows"]),
        total_rows=int(row["total_rows"]),
        rate=float(row["rate"]),
        eta_s=None if row["eta_s"] is None else float(row["eta_s"]),
        result=json.loads(row["result_json"]) if row["result_json"] else {},
        error=row["error"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        stage=row["stage"] or "",
    )


class JobRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self,
        kind: str,
        owner: str,
        original_name: str,
        input_path: str,
        output_path: str,
        options: dict,
        catalog_version: str,
    ) -> Job:
        if kind not in JOB_KINDS:
            raise ValueError(f"未知的任务类型「{kind}」")
        with self._db.transaction() as tx:
            row = tx.one(
                "INSERT INTO jobs (kind, status, owner, original_name, input_path, output_path, options_json, "
                f"catalog_version, created_at) VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
                (
                    kind,
                    owner,
                    original_name,
                    input_path,
                    output_path,
                    json.dumps(options, ensure_ascii=False),
                    catalog_version,
                    utc_now(),
                ),
            )
        return _job(row)

    def get(self, job_id: int) -> Job | None:
        with self._db.transaction(write=False) as tx:
            row = tx.one(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else _job(row)

    def list(self, owner: str | None = None, kind: str | None = None, limit: int = 50) -> list[Job]:
        where, params = [], []
        if owner is not None:
            where.append("owner = ?")
            params.append(owner)
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        with self._db.transaction(write=False) as tx:
            rows = tx.all(f"SELECT {_COLUMNS} FROM jobs {clause} ORDER BY id DESC LIMIT ?", (*params, limit))
        return [_job(r) for r in rows]

    def claim_next(self) -> Job | None:
        """Mark the oldest queued job running and return it; None when nothing waits."""
        with self._db.transaction() as tx:
            row = tx.one("SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1")
            if row is None:
                return None
            cur = tx.execute(
                "UPDATE jobs SET status = 'running', started_at = ? WHERE id = ? AND status = 'queued'",
                (utc_now(), row["id"]),
            )
            if cur.rowcount != 1:
                return None
            found = tx.one(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (row["id"],))
        return _job(found)

    def progress(self, job_id: int, done: int, total: int, rate: float, eta_s: float | None) -> bool:
        """Store progress; returns whether a cancel was requested meanwhile."""
        with self._db.transaction() as tx:
            tx.execute(
                "UPDATE jobs SET done_rows = ?, total_rows = ?, rate = ?, eta_s = ? WHERE id = ?",
                (int(done), int(total), float(rate), eta_s, job_id),
            )
            return bool(tx.scalar("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)))

    def set_stage(self, job_id: int, stage: str) -> None:
        with self._db.transaction() as tx:
            tx.execute("UPDATE jobs SET stage = ? WHERE id = ?", (stage, job_id))

    def finish(self, job_id: int, result: dict, done: int) -> None:
        with self._db.transaction() as tx:
            tx.execute(
                "UPDATE jobs SET status = 'done', result_json = ?, finished_at = ?, done_rows = ?, "
                "total_rows = CASE WHEN total_rows < ? THEN ? ELSE total_rows END, eta_s = 0 WHERE id = ?",
                (json.dumps(result, ensure_ascii=False), utc_now(), done, done, done, job_id),
            )

    def fail(self, job_id: int, error: str) -> None:
        with self._db.transaction() as tx:
            tx.execute(
                "UPDATE jobs SET status = 'failed', error = ?, finished_at = ? WHERE id = ?", (error, utc_now(), job_id)
            )

    def mark_cancelled(self, job_id: int) -> None:
        with self._db.transaction() as tx:
            tx.execute("UPDATE jobs SET status = 'cancelled', finished_at = ? WHERE id = ?", (utc_now(), job_id))

    def request_cancel(self, job_id: int) -> Job | None:
        """A queued job is cancelled at once; a running one stops at its next progress report."""
        with self._db.transaction() as tx:
            tx.execute(
                "UPDATE jobs SET status = 'cancelled', finished_at = ? WHERE id = ? AND status = 'queued'",
                (utc_now(), job_id),
            )
            tx.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND status = 'running'", (job_id,))
            row = tx.one(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else _job(row)

    def requeue_interrupted(self) -> int:
        """Jobs left running by a stopped or killed server go back in the queue, to be resumed."""
        with self._db.transaction() as tx:
            cur = tx.execute("UPDATE jobs SET status = 'queued', resume = 1 WHERE status = 'running'")
            return int(cur.rowcount)

    def requeue(self, job_id: int) -> None:
        with self._db.transaction() as tx:
            tx.execute("UPDATE jobs SET status = 'queued', resume = 1 WHERE id = ? AND status = 'running'", (job_id,))
