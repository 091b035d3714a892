"""Kill -9 the real server (`lvzhi serve`) in the middle of a stream of review writes and a bulk job:
the database must be intact, every acknowledged write present, and the job must resume after a restart."""

from __future__ import annotations

import csv
import importlib.util
import io
import sqlite3
import threading

import httpx
import pytest

from lvzhi.config import Settings
from tests.api_fixtures import PASSWORDS, ServerProcess, add_users, private_home, wait_for

pytestmark = pytest.mark.slow

ITEMS_TEXTS = [
    "村里的路灯坏了好几天了",
    "小区里老鼠很多，希望组织消杀",
    "新建厂房需要办理建筑工程施工许可",
    "隔壁邻居装修噪音太大",
    "我家孩子的学籍转不过来",
    "想给我们公司申请高新技术企业认定",
]
HAS_BULK = importlib.util.find_spec("inference.bulk") is not None


def login(url: str, role: str) -> dict[str, str]:
    token = httpx.post(url + "/api/login", json={"name": role, "password": PASSWORDS[role]}, timeout=30).json()["token"]
    return {"Authorization": "Bearer " + token}


class ReviewStream:
    """Writers that send reviews and decide them as fast as the server answers, noting what was acknowledged."""

    def __init__(self, url: str, drafter: dict, reviewer: dict) -> None:
        self.url, self.drafter, self.reviewer = url, drafter, reviewer
        self.submitted: dict[int, str] = {}  # review id -> text, acknowledged with 200
        self.decided: dict[int, str] = {}  # review id -> comment, acknowledged with 200
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._write, args=(n,), daemon=True) for n in range(3)]

    def _write(self, n: int) -> None:
        client = httpx.Client(base_url=self.url, timeout=60)
        i = 0
        while not self.stop.is_set():
            text = f"{ITEMS_TEXTS[(n + i) % len(ITEMS_TEXTS)]}（写入者{n}第{i}条）"
            i += 1
            try:
                reply = client.post("/api/reviews", json={"text": text}, headers=self.drafter)
                if reply.status_code != 200:
                    continue
                review_id = reply.json()["id"]
                with self.lock:
                    self.submitted[review_id] = text
                comment = f"驳回{review_id}"
                # Rejections only: they do not teach the matcher, so the bulk job's checkpoint stays resumable.
                reply = client.post(
                    f"/api/reviews/{review_id}/decision",
                    json={"decision": "reject", "comment": comment},
                    headers=self.reviewer,
                )
                if reply.status_code == 200:
                    with self.lock:
                        self.decided[review_id] = comment
            except httpx.HTTPError:
                if self.stop.is_set():
                    return
        client.close()

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=120)

    def acknowledged(self) -> int:
        with self.lock:
            return len(self.submitted) + len(self.decided)


def hotline_csv(n: int) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["工单编号", "受理时间", "诉求内容"])
    for i in range(n):
        writer.writerow([f"GD{i:05d}", f"2024-05-{1 + i % 28:02d}", ITEMS_TEXTS[i % len(ITEMS_TEXTS)] + f"，第{i}号"])
    return buf.getvalue().encode("utf-8")


def test_sigkill_during_writes_loses_nothing_acknowledged(tmp_path, settings, embedder):
    home = private_home(tmp_path / "home", settings)
    add_users(Settings(home=home))
    server = ServerProcess(home).start()
    stream = None
    try:
        drafter, reviewer = login(server.url, "drafter"), login(server.url, "reviewer")
        job_id = None
        if HAS_BULK:
            reply = httpx.post(
                server.url + "/api/jobs/bulk",
                params={"filename": "热线.csv", "chunk_rows": "20", "output_format": "csv"},
                content=hotline_csv(600),
                headers=drafter,
                timeout=60,
            )
            assert reply.status_code == 200, reply.text
            job_id = reply.json()["id"]
        stream = ReviewStream(server.url, drafter, reviewer)
        stream.start()
        wait_for(lambda: stream.acknowledged() >= 30, timeout=600, what="30 acknowledged writes")
        if job_id is not None:
            wait_for(
                lambda: httpx.get(f"{server.url}/api/jobs/{job_id}", headers=drafter).json()["done"] > 0,
                timeout=600,
                what="bulk job under way",
            )
        server.kill()  # writers are mid-request here
    finally:
        if stream is not None:
            stream.join()
        server.kill()

    # The database file is intact and holds every write the server acknowledged.
    with sqlite3.connect(home / "lvzhi.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = {r[0]: r[1:] for r in conn.execute("SELECT id, text, status, decision, comment FROM reviews")}
        job_row = (
            conn.execute("SELECT status, done_rows FROM jobs WHERE id = ?", (job_id,)).fetchone() if job_id else None
        )
    assert stream.submitted and stream.decided
    for review_id, text in stream.submitted.items():
        assert review_id in rows and rows[review_id][0] == text
    for review_id, comment in stream.decided.items():
        assert rows[review_id][1:] == ("decided", "reject", comment)
    if job_id is not None:
        assert job_row[0] == "running" and 0 < job_row[1] < 600

    # After a restart the service answers from the same data and finishes the interrupted job.
    server = ServerProcess(home).start()
    try:
        reviewer = login(server.url, "reviewer")
        counts = httpx.get(server.url + "/api/reviews/counts", headers=reviewer).json()
        assert counts["decided"] >= len(stream.decided)
        if job_id is not None:
            drafter = login(server.url, "drafter")
            done = wait_for(
                lambda: (
                    (j := httpx.get(f"{server.url}/api/jobs/{job_id}", headers=drafter).json())["status"]
                    in ("done", "failed")
                    and j
                ),
                timeout=600,
                what="resumed job done",
            )
            assert done["status"] == "done" and done["resumed"] and done["done"] == 600, done
            assert not any("从头" in n for n in done["summary"]["notes"])
            out = httpx.get(f"{server.url}/api/jobs/{job_id}/files/0", headers=drafter)
            rows_out = list(csv.reader(io.StringIO(out.content.decode("utf-8-sig"))))
            assert [r[0] for r in rows_out[1:]] == [f"GD{i:05d}" for i in range(600)]
    finally:
        server.stop()
