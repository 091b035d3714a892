"""The database layer on both engines: the same portable SQL on an SQLite file and on a real PostgreSQL server
(a throwaway cluster started by the test when PostgreSQL and psycopg are installed)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from api.auth import hash_password, token_digest, verify_password
from api.job_store import Job
from api.migrations import MIGRATIONS
from api.review_store import ReviewDraft
from api.store import EXPORT_COLUMNS, Store, UserExistsError, export_rows
from lvzhi.config import Settings
from tests.api_fixtures import free_port


def _initdb() -> str | None:
    found = shutil.which("initdb") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))), None)
    return found


def _as_postgres_user(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; the distribution's postgres account runs it then.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@pytest.fixture(scope="module")
def postgres_url():
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'psycopg[binary]')")
    initdb = _initdb()
    if initdb is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL")
    bindir = Path(initdb).parent
    root = Path(tempfile.mkdtemp(prefix="lvzhi-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres_user(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "lvzhi",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        _as_postgres_user(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-l",
                str(root / "log"),
                "-o",
                f"-k {sockets} -p {port} -c listen_addresses='' -c fsync=off",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://lvzhi@/postgres?host={sockets}&port={port}"
    finally:
        subprocess.run(
            _as_postgres_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]), capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_settings(request, tmp_path) -> Settings:
    if request.param == "sqlite":
        return Settings(home=tmp_path / "home")
    url = request.getfixturevalue("postgres_url")
    # A fresh schema per test: drop what an earlier test created.
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS sessions, reviews, jobs, users, schema_migrations CASCADE")
    return Settings(home=tmp_path / "home", database_url=url)


@pytest.fixture()
def store(store_settings):
    s = Store.open(store_settings)
    yield s
    s.close()


def match_dict(entry_id: str, confidence: float, **flags) -> dict:
    base = {"out_of_list": False, "reclaimed": False, "zombie": False, "bottom_line": False, "needs_review": False}
    base.update(flags)
    return {
        "best": {"id": entry_id, "name": f"事项{entry_id}"},
        "confidence": confidence,
        "flags": base,
        "candidates": [],
    }


def test_migrations_are_recorded_once(store):
    assert store.db.applied_migrations() == [m.number for m in MIGRATIONS]
    assert store.db.migrate(MIGRATIONS) == []


def test_users_and_sessions(store):
    user = store.users.add("王芳", "reviewer", hash_password("wangfang-pass"))
    with pytest.raises(UserExistsError):
        store.users.add("王芳", "drafter", hash_password("another-pass"))
    found, stored = store.users.credentials("王芳")
    assert found == user and verify_password("wangfang-pass", stored) and not verify_password("wrong", stored)
    store.sessions.create(user.id, token_digest("tok-1"), "2999-01-01T00:00:00+00:00")
    store.sessions.create(user.id, token_digest("tok-old"), "2000-01-01T00:00:00+00:00")
    assert store.sessions.user_for(token_digest("tok-1"))[0].name == "王芳"
    assert store.sessions.user_for(token_digest("tok-old")) is None
    assert store.users.update("王芳", role="admin").role == "admin"
    store.users.update("王芳", active=False)
    assert store.sessions.user_for(token_digest("tok-1")) is None  # disabling ends the session
    assert store.users.count_admins() == 0


def test_review_queue_decisions_and_export(store):
    drafts = [
        ("普通事项", match_dict("A1", 0.9)),
        ("不确定事项", match_dict("A2", 0.3, needs_review=True)),
        ("收回事项", match_dict("S1", 0.6, reclaimed=True)),
        ("清单外事项", match_dict("A3", 0.1, out_of_list=True)),
        ("更不确定", match_dict("A4", 0.2, needs_review=True)),
    ]
    added = [store.reviews.add(ReviewDraft(t, m, "v1", "清单", "model@1", "drafter")) for t, m in drafts]
    queue = [r.text for r in store.reviews.queue()]
    assert queue == ["清单外事项", "收回事项", "更不确定", "不确定事项", "普通事项"]
    assert added[3].suggested_id == ""  # an out-of-list answer suggests no entry
    accepted = store.reviews.decide(added[0].id, "accept", "A1", "事项A1", "reviewer", "")
    assert accepted.status == "decided" and accepted.reviewed_at
    assert store.reviews.decide(added[0].id, "reject", "", "", "reviewer2", "") is None  # first decision stands
    store.reviews.decide(added[1].id, "correct", "B7", "事项B7", "reviewer", "应为B7")
    store.reviews.decide(added[2].id, "reject", "", "", "reviewer", "不属于收回")
    counts = store.reviews.counts("reviewer")
    assert counts["pending"] == 2 and counts["decided"] == 3 and counts["decided_by_me"] == 3
    assert counts["by_decision"] == {"接受": 1, "更正": 1, "驳回": 1}
    rows = export_rows(store)
    assert [list(r) for r in rows] == [list(EXPORT_COLUMNS)] * 3
    assert [r["决定"] for r in rows] == ["接受", "更正", "驳回"]
    assert rows[1]["建议事项序号"] == "A2" and rows[1]["最终事项序号"] == "B7" and rows[1]["意见"] == "应为B7"


def test_job_queue_lifecycle(store):
    first = store.jobs.add("bulk", "drafter", "一月.csv", "/jobs/a/一月.csv", "/jobs/a/out.csv", {"fast": True}, "")
    second = store.jobs.add("merge", "drafter", "事项.csv", "/jobs/b/事项.csv", "/jobs/b/out.xlsx", {}, "v1")
    claimed = store.jobs.claim_next()
    assert isinstance(claimed, Job) and claimed.id == first.id and claimed.status == "running"
    assert claimed.options == {"fast": True}
    assert store.jobs.progress(first.id, 10, 100, 5.0, 18.0) is False
    store.jobs.set_stage(first.id, "正在蒸馏静态词元向量……")  # what the page shows before rows move
    assert store.jobs.get(first.id).to_dict()["stage"] == "正在蒸馏静态词元向量……"
    store.jobs.set_stage(first.id, "")
    assert store.jobs.request_cancel(second.id).status == "cancelled"  # queued: cancelled at once
    assert store.jobs.claim_next() is None
    assert store.jobs.requeue_interrupted() == 1  # what a restart does with a job left running
    again = store.jobs.claim_next()
    assert again.id == first.id and again.resume and again.done_rows == 10
    store.jobs.request_cancel(first.id)
    assert store.jobs.progress(first.id, 20, 100, 5.0, 16.0) is True  # the runner learns of the cancel here
    store.jobs.finish(first.id, {"files": [], "summary": {"rows": 100}}, 100)
    done = store.jobs.get(first.id)
    assert done.status == "done" and done.finished and done.result["summary"]["rows"] == 100
    assert [j.id for j in store.jobs.list(owner="drafter")] == [second.id, first.id]
    assert [j.id for j in store.jobs.list(kind="merge")] == [second.id]


def test_the_service_runs_on_postgresql(postgres_url, tmp_path, settings, embedder):
    import psycopg
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.api_fixtures import PENSION_TICKET, add_users, bearer, private_home, wait_for

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS sessions, reviews, jobs, users, schema_migrations CASCADE")
    pg = Settings(home=private_home(tmp_path / "home", settings), database_url=postgres_url, threads=settings.threads)
    add_users(pg)
    with TestClient(create_app(pg, embedder=embedder)) as client:
        wait_for(lambda: client.get("/api/health").json()["ready"], what="model ready")
        assert client.get("/api/health").json()["database"] == "postgresql"
        review = client.post("/api/reviews", json={"text": PENSION_TICKET}, headers=bearer(client, "drafter")).json()
        decided = client.post(
            f"/api/reviews/{review['id']}/decision", json={"decision": "accept"}, headers=bearer(client, "reviewer")
        )
        assert decided.status_code == 200 and decided.json()["review"]["final_id"] == review["suggested_id"]
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT decision, reviewer FROM reviews").fetchall() == [("accept", "reviewer")]
