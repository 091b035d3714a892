"""Bulk jobs through the API: upload, queue, progress, results, restart with resume, cancel, failure."""

from __future__ import annotations

import csv
import importlib.util
import io
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.review_store import ReviewDraft
from api.store import Store
from lvzhi.config import Settings
from tests.api_fixtures import add_users, bearer, private_home, wait_for

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("inference.bulk") is None, reason="inference.bulk (issue 3) is not in this tree yet"
)

ITEMS = Path(__file__).resolve().parent.parent / "corpus" / "data" / "labelled" / "reference_items.csv"


def hotline_rows(n: int) -> list[dict]:
    """A hotline export shaped like the platforms' (ticket number, time, title, content), from labelled texts."""
    with open(ITEMS, encoding="utf-8-sig", newline="") as fh:
        texts = [r["内容"] for r in csv.DictReader(fh)]
    return [
        {
            "工单编号": f"GD{i:05d}",
            "受理时间": f"2024-{1 + i % 12:02d}-{1 + i % 27:02d}",
            "诉求标题": "市民来电",
            "诉求内容": texts[i % len(texts)],
        }
        for i in range(n)
    ]


def csv_bytes(rows: list[dict], encoding: str = "utf-8") -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


@pytest.fixture(scope="module")
def app_settings(tmp_path_factory, settings) -> Settings:
    home = private_home(tmp_path_factory.mktemp("jobs-home"), settings)
    s = Settings(home=home, threads=settings.threads)
    add_users(s)
    return s


def start(app_settings, embedder) -> TestClient:
    client = TestClient(create_app(app_settings, embedder=embedder))
    client.__enter__()
    wait_for(lambda: client.get("/api/health").json()["ready"], what="model ready")
    return client


def submit(client, headers, filename: str, content: bytes, **params) -> dict:
    reply = client.post("/api/jobs/bulk", params={"filename": filename, **params}, content=content, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def job(client, headers, job_id: int) -> dict:
    return client.get(f"/api/jobs/{job_id}", headers=headers).json()


def finished(client, headers, job_id: int, timeout: float = 600) -> dict:
    return wait_for(
        lambda: (j := job(client, headers, job_id))["status"] in ("done", "failed", "cancelled") and j,
        timeout=timeout,
        every=0.5,
        what=f"job {job_id} finished",
    )


def output_rows(client, headers, done: dict) -> list[list]:
    index = next(i for i, f in enumerate(done["files"]) if f["kind"] == "output")
    reply = client.get(f"/api/jobs/{done['id']}/files/{index}", headers=headers)
    assert reply.status_code == 200
    if done["files"][index]["name"].endswith(".xlsx"):
        sheet = openpyxl.load_workbook(io.BytesIO(reply.content), read_only=True).worksheets[0]
        return [list(r) for r in sheet.iter_rows(values_only=True)]
    return list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))


def test_bulk_job_runs_reports_and_downloads(app_settings, embedder):
    client = start(app_settings, embedder)
    try:
        headers = bearer(client, "drafter")
        rows = hotline_rows(60)
        queued = submit(client, headers, "热线导出.csv", csv_bytes(rows, "gbk"), output_format="csv")
        assert queued["status"] == "queued" and queued["original_name"] == "热线导出.csv"
        done = finished(client, headers, queued["id"])
        assert done["status"] == "done", done
        assert done["done"] == done["total"] == 60 and done["progress"] == 1.0
        assert done["summary"]["rows"] == 60
        table = output_rows(client, headers, done)
        assert len(table) == 61  # header + every input row, in order
        assert [r[0] for r in table[1:]] == [r["工单编号"] for r in rows]
        kinds = {f["kind"] for f in done["files"]}
        assert {"output", "report"} <= kinds
        for i, f in enumerate(done["files"]):
            reply = client.get(f"/api/jobs/{done['id']}/files/{i}", headers=headers)
            assert reply.status_code == 200 and len(reply.content) == f["size"]
            if f["kind"] == "chart":
                assert reply.content.startswith(b"\x89PNG")
        assert done["summary"].get("report_text")
        # Another user cannot see it; anonymous callers are refused.
        other = bearer(client, "reviewer")
        assert client.get(f"/api/jobs/{done['id']}", headers=other).status_code == 404
        client.cookies.clear()
        assert client.get(f"/api/jobs/{done['id']}").status_code == 401
        listed = client.get("/api/jobs?kind=bulk", headers=headers).json()["jobs"]
        assert done["id"] in [j["id"] for j in listed]
    finally:
        client.__exit__(None, None, None)


def test_jobs_queue_one_at_a_time_and_cancel(app_settings, embedder):
    client = start(app_settings, embedder)
    try:
        headers = bearer(client, "drafter")
        book = openpyxl.Workbook()
        rows = hotline_rows(120)
        book.active.append(list(rows[0]))
        for r in rows:
            book.active.append(list(r.values()))
        buf = io.BytesIO()
        book.save(buf)
        first = submit(client, headers, "一月.xlsx", buf.getvalue(), chunk_rows="20")
        second = submit(client, headers, "二月.csv", csv_bytes(rows[:30]))
        third = submit(client, headers, "三月.csv", csv_bytes(rows[:30]))
        cancelled = client.post(f"/api/jobs/{third['id']}/cancel", headers=headers).json()
        assert cancelled["status"] == "cancelled"
        a, b = finished(client, headers, first["id"]), finished(client, headers, second["id"])
        assert a["status"] == b["status"] == "done"
        assert b["started_at"] >= a["finished_at"]  # one at a time, oldest first
        c = job(client, headers, third["id"])
        assert c["status"] == "cancelled" and not c["started_at"]
        assert len(output_rows(client, headers, a)) == 121
        assert client.post(f"/api/jobs/{first['id']}/cancel", headers=headers).status_code == 409
    finally:
        client.__exit__(None, None, None)


def test_a_job_interrupted_by_a_restart_resumes_and_matches_an_uninterrupted_run(app_settings, embedder):
    rows = hotline_rows(240)
    content = csv_bytes(rows)
    client = start(app_settings, embedder)
    headers = bearer(client, "drafter")
    queued = submit(client, headers, "中断.csv", content, chunk_rows="20", output_format="csv")
    wait_for(lambda: 0 < job(client, headers, queued["id"])["done"], timeout=600, what="first chunks done")
    client.__exit__(None, None, None)  # server stops mid-job
    stopped = job_state_from_db(app_settings, queued["id"])
    assert stopped["status"] == "queued" and stopped["resume"] == 1 and stopped["done_rows"] < 240

    client = start(app_settings, embedder)
    try:
        headers = bearer(client, "drafter")
        resumed = finished(client, headers, queued["id"])
        assert resumed["status"] == "done" and resumed["resumed"] and resumed["done"] == 240
        again = finished(
            client, headers, submit(client, headers, "完整.csv", content, chunk_rows="20", output_format="csv")["id"]
        )
        assert output_rows(client, headers, resumed) == output_rows(client, headers, again)
    finally:
        client.__exit__(None, None, None)


def test_a_broken_file_fails_with_a_reason(app_settings, embedder):
    client = start(app_settings, embedder)
    try:
        headers = bearer(client, "drafter")
        numbers = "编号,金额\n" + "".join(f"{i},{i * 3}\n" for i in range(20))
        failed = finished(client, headers, submit(client, headers, "数字.csv", numbers.encode())["id"])
        assert failed["status"] == "failed" and failed["error"]
    finally:
        client.__exit__(None, None, None)


def job_state_from_db(settings: Settings, job_id: int) -> dict:
    import sqlite3

    with sqlite3.connect(settings.home / "lvzhi.db") as conn:
        conn.row_factory = sqlite3.Row
        return dict(conn.execute("SELECT status, resume, done_rows FROM jobs WHERE id = ?", (job_id,)).fetchone())


MERGE_ITEMS = Path(__file__).resolve().parent.parent / "corpus" / "data" / "labelled" / "merge_items.csv"


@pytest.mark.skipif(
    importlib.util.find_spec("inference.merge") is None, reason="inference.merge (issue 4) is not in this tree yet"
)
def test_merge_job_proposes_groups_for_review(app_settings, embedder):
    client = start(app_settings, embedder)
    try:
        headers = bearer(client, "drafter")
        reply = client.post(
            "/api/jobs/merge", params={"filename": "原始事项.csv"}, content=MERGE_ITEMS.read_bytes(), headers=headers
        )
        assert reply.status_code == 200, reply.text
        done = finished(client, headers, reply.json()["id"])
        assert done["status"] == "done" and done["stage"] == "", done
        with open(MERGE_ITEMS, encoding="utf-8-sig", newline="") as fh:
            item_ids = [r["编号"] for r in csv.DictReader(fh)]
        assert done["summary"]["rows"] == len(item_ids)
        groups = client.get(f"/api/jobs/{done['id']}/groups", headers=headers).json()
        assert len(groups) == done["summary"]["groups"] and done["summary"]["merged_groups"] > 0
        # Every item lands in exactly one group, and each group says what it is.
        members = [m["id"] for g in groups for m in g["members"]]
        assert sorted(members) == sorted(item_ids)
        assert all(g["proposed_name"] and g["verdict"] and 0 <= g["cohesion"] <= 1 for g in groups)
        output = next(f for f in done["files"] if f["kind"] == "output")
        book = client.get(f"/api/jobs/{done['id']}/files/{output['name']}", headers=headers)
        assert book.status_code == 200 and book.content.startswith(b"PK")
    finally:
        client.__exit__(None, None, None)


def test_a_job_whose_matcher_changed_meanwhile_starts_over(app_settings, embedder):
    rows = hotline_rows(200)
    client = start(app_settings, embedder)
    headers = bearer(client, "drafter")
    queued = submit(client, headers, "变化.csv", csv_bytes(rows), chunk_rows="20", output_format="csv")
    wait_for(lambda: 0 < job(client, headers, queued["id"])["done"], timeout=600, what="first chunks done")
    client.__exit__(None, None, None)

    # A correction recorded meanwhile (e.g. by another server on the same database) changes the confirmed
    # examples the next matcher is built with, so the checkpoint no longer fits.
    store = Store.open(app_settings)
    try:
        version = job_state_catalog(app_settings)
        review = store.reviews.add(
            ReviewDraft(
                "河道里漂着很多垃圾没人捞",
                {"best": {"id": "JB060"}, "confidence": 0.4, "flags": {}},
                version,
                "",
                "m",
                "drafter",
            )
        )
        store.reviews.decide(review.id, "correct", "JB001", "基层党组织建设", "reviewer", "")
    finally:
        store.close()

    client = start(app_settings, embedder)
    try:
        headers = bearer(client, "drafter")
        done = finished(client, headers, queued["id"])
        assert done["status"] == "done" and done["done"] == 200
        assert any("从头重新处理" in n for n in done["summary"]["notes"])
        assert [r[0] for r in output_rows(client, headers, done)[1:]] == [r["工单编号"] for r in rows]
    finally:
        client.__exit__(None, None, None)


def job_state_catalog(settings: Settings) -> str:
    """The catalog version the running service uses (saved on start), for a review written straight to the store."""
    from corpus.catalogs import load_reference_catalog

    return load_reference_catalog().version
