"""Crash-safe progress for a bulk job: one finished part per chunk plus an append-only journal.

A chunk counts as done only once its part files are durably renamed into place *and* its journal line is synced,
so after kill -9 or a power cut the journal never names a part that is not whole. Parts are renamed, never
appended to, and the final output is assembled from them, so a resumed run writes the same bytes as one that
was never interrupted.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference.bulk.chunk import ChunkOutput
from inference.bulk.stats import TicketStats

FORMAT = 1
JOB_FILE = "job.json"
JOURNAL_FILE = "journal.jsonl"
LOCK_FILE = "lock"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used for this job; the message says what to do."""


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse directory fsync; the rename is still atomic
    finally:
        os.close(fd)


def durable_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def input_fingerprint(path: Path) -> dict:
    """Size, mtime and hashes of both ends: cheap, and enough to notice the export was replaced or edited."""
    st = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        digest.update(fh.read(1 << 20))
        if st.st_size > 2 << 20:
            fh.seek(-(1 << 20), os.SEEK_END)
            digest.update(fh.read())
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256_ends": digest.hexdigest()}


def checkpoint_dir(output: Path) -> Path:
    return output.parent / f".{output.name}.lvzhi-bulk"


@dataclass
class JournalEntry:
    chunk: int
    first_row: int
    rows: int
    sha256: str


@dataclass
class Checkpoint:
    dir: Path
    job: dict
    done: dict[int, JournalEntry] = field(default_factory=dict)
    _lock: object = None

    @classmethod
    def open(cls, output: Path, job: dict, resume: bool) -> tuple[Checkpoint, str]:
        """The checkpoint for this output, and a Chinese note on what was found (resumed, started over…)."""
        folder = checkpoint_dir(output)
        note = ""
        folder.mkdir(parents=True, exist_ok=True)
        lock = open(folder / LOCK_FILE, "a+")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            raise CheckpointError(f"另一个批量任务正在写入 {output.name}，请等待其结束后再试") from None
        job = {"format": FORMAT, **job}
        saved_path = folder / JOB_FILE
        saved = None
        if saved_path.exists():
            try:
                saved = json.loads(saved_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                saved = None
        cp = cls(folder, job, {}, lock)
        if resume and saved is not None:
            differs = [k for k in sorted(set(job) | set(saved)) if job.get(k) != saved.get(k)]
            if differs:
                cp.close()
                raise CheckpointError(
                    "检查点与本次任务不一致（{}不同），无法续跑；请去掉 --resume 从头开始".format("、".join(differs))
                )
            cp.done = cp._read_journal()
            # Rewrite the journal without any torn tail, so the next append starts on a clean line.
            lines = "".join(json.dumps(e.__dict__, sort_keys=True) + "\n" for _, e in sorted(cp.done.items()))
            durable_write(folder / JOURNAL_FILE, lines.encode("utf-8"))
            fsync_dir(folder)
            rows = sum(e.rows for e in cp.done.values())
            note = f"从检查点续跑：已完成 {len(cp.done)} 块、{rows} 行"
            return cp, note
        if resume:
            note = "没有找到可续跑的检查点，从头开始"
        elif saved is not None:
            note = "发现上次未完成的检查点；未指定 --resume，从头开始"
        cp._reset()
        durable_write(saved_path, json.dumps(job, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8"))
        fsync_dir(folder)
        return cp, note

    def _reset(self) -> None:
        for child in self.dir.iterdir():
            if child.name == LOCK_FILE:
                continue
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
        (self.dir / "parts").mkdir()

    def _read_journal(self) -> dict[int, JournalEntry]:
        done: dict[int, JournalEntry] = {}
        path = self.dir / JOURNAL_FILE
        if not path.exists():
            return done
        for line in path.read_bytes().split(b"\n"):
            try:
                d = json.loads(line)
                entry = JournalEntry(int(d["chunk"]), int(d["first_row"]), int(d["rows"]), str(d["sha256"]))
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line from a crash mid-append: that chunk is simply redone
            if self._part_is_whole(entry):
                done[entry.chunk] = entry
        return done

    def _part_is_whole(self, entry: JournalEntry) -> bool:
        part = self.part_path(entry.chunk)
        if not (part.exists() and self.stats_path(entry.chunk).exists() and self.arrays_path(entry.chunk).exists()):
            return False
        return hashlib.sha256(part.read_bytes()).hexdigest() == entry.sha256

    def part_path(self, chunk: int) -> Path:
        return self.dir / "parts" / f"{chunk:07d}.csv"

    def stats_path(self, chunk: int) -> Path:
        return self.dir / "parts" / f"{chunk:07d}.json"

    def arrays_path(self, chunk: int) -> Path:
        return self.dir / "parts" / f"{chunk:07d}.npz"

    def save(self, out: ChunkOutput) -> None:
        data = out.csv_text.encode("utf-8")
        buf = io.BytesIO()
        np.savez(buf, **out.arrays)
        durable_write(self.arrays_path(out.index), buf.getvalue())
        durable_write(
            self.stats_path(out.index),
            json.dumps(out.stats.to_dict(), ensure_ascii=False, sort_keys=True).encode("utf-8"),
        )
        durable_write(self.part_path(out.index), data)
        fsync_dir(self.dir / "parts")
        entry = JournalEntry(out.index, out.first_row, out.rows, hashlib.sha256(data).hexdigest())
        line = json.dumps(entry.__dict__, sort_keys=True) + "\n"
        with open(self.dir / JOURNAL_FILE, "ab") as fh:
            fh.write(line.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        self.done[out.index] = entry

    def stats(self, chunk: int) -> TicketStats:
        return TicketStats.from_dict(json.loads(self.stats_path(chunk).read_text(encoding="utf-8")))

    def arrays(self, chunk: int) -> dict[str, np.ndarray]:
        with np.load(self.arrays_path(chunk)) as z:
            return {k: z[k] for k in z.files}

    def close(self) -> None:
        if self._lock is not None:
            try:
                fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            finally:
                self._lock.close()
                self._lock = None

    def remove(self) -> None:
        self.close()
        shutil.rmtree(self.dir, ignore_errors=True)
