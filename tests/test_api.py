"""The service end to end through HTTP: the real app, the real model, a real SQLite file."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.db import Database
from api.migrations import MIGRATIONS
from api.store import EXPORT_COLUMNS, export_reviews
from corpus.catalogs import load_reference_catalog
from inference.matcher import Matcher
from lvzhi.config import DEFAULT_MODEL, Settings
from tests.api_fixtures import PASSWORDS, PENSION_ENTRY, PENSION_TICKET, add_users, bearer, private_home, wait_for

OTHER_CATALOG = Path(__file__).resolve().parent.parent / "corpus" / "data" / "other_township" / "catalog.csv"

# Tickets chosen to land in different queue tiers on the reference catalog.
QUEUE_TEXTS = [
    "我爸每个月一百多块的养老金这个月没到账，说是没认证",
    "帮我查一下明天的天气预报和航班",
    "新建厂房需要办理建筑工程施工许可",
    "村里的路灯坏了好几天了",
]


@pytest.fixture(scope="module")
def app_settings(tmp_path_factory, settings) -> Settings:
    home = private_home(tmp_path_factory.mktemp("api-home"), settings)
    app_settings = Settings(home=home, threads=settings.threads)
    add_users(app_settings)
    return app_settings


@pytest.fixture(scope="module")
def client(app_settings, embedder):
    with TestClient(create_app(app_settings, embedder=embedder)) as c:
        wait_for(lambda: c.get("/api/health").json()["ready"], what="model ready")
        yield c


@pytest.fixture(scope="module")
def admin(client):
    return bearer(client, "admin")


@pytest.fixture(scope="module")
def reviewer(client):
    return bearer(client, "reviewer")


@pytest.fixture(scope="module")
def drafter(client):
    return bearer(client, "drafter")


def settle_learning(client: TestClient) -> None:
    wait_for(lambda: client.get("/api/health").json()["learning_pending"] == 0, what="learning applied")


# -- store ---------------------------------------------------------------------------------------------------------


def test_database_is_a_migrated_sqlite_file_in_wal_mode(client, app_settings):
    path = app_settings.home / "lvzhi.db"
    assert path.is_file()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        applied = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert applied == [m.number for m in MIGRATIONS]
    # Migrating again is a no-op.
    assert Database.from_settings(app_settings).migrate(MIGRATIONS) == []


# -- classify ------------------------------------------------------------------------------------------------------


def test_health_and_docs(client):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["entries"] > 100
    assert health["model_version"].startswith(DEFAULT_MODEL + "@")
    assert client.get("/docs").status_code == 200
    assert "/api/classify" in client.get("/openapi.json").json()["paths"]


def test_classify_answers_like_the_matcher(client, app_settings, embedder):
    reply = client.post("/api/classify", json={"text": PENSION_TICKET})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["results"][0]["best"]["id"] == PENSION_ENTRY
    # The same dicts a freshly built matcher (the CLI's path) gives for the same text.
    fresh = Matcher(catalog=load_reference_catalog(), embedder=embedder, settings=app_settings)
    assert body["results"] == [fresh.match([PENSION_TICKET])[0].to_dict()]
    assert body["catalog_version"] == fresh.catalog.version
    assert body["model_version"] == embedder.identity


def test_classify_many_and_bad_requests(client):
    texts = ["村里的路灯坏了好几天了", PENSION_TICKET]
    body = client.post("/api/classify", json={"texts": texts, "top_k": 3}).json()
    assert [r["text"] for r in body["results"]] == texts
    assert all(len(r["candidates"]) == 3 for r in body["results"])
    assert client.post("/api/classify", json={}).status_code == 422
    assert client.post("/api/classify", json={"text": "a", "texts": ["b"]}).status_code == 422
    assert client.post("/api/classify", json={"text": "   "}).status_code == 422
    missing = client.post("/api/classify", json={"text": "路灯坏了", "catalog": "abcdef123456"})
    assert missing.status_code == 404 and "找不到清单版本" in missing.json()["detail"]


ENGLISH = ("Input should", "Field required", "JSON decode error", "value_error", "Expecting")


def test_malformed_requests_get_chinese_422_naming_the_fields(client):
    # Own logins: the module's shared ones are created later (a test below expires every session made before it).
    admin, reviewer = bearer(client, "admin"), bearer(client, "reviewer")

    def refused(reply, *words) -> dict:
        body = reply.json()
        assert reply.status_code == 422, reply.text
        assert isinstance(body["detail"], str) and body["detail"].startswith("请求有误："), body
        for word in words:
            assert word in body["detail"], body["detail"]
        assert not any(e in reply.text for e in ENGLISH), reply.text
        return body

    json_type = {"Content-Type": "application/json"}
    # Not JSON at all, on three endpoints.
    refused(
        client.post("/api/classify", content='{"text": "路灯坏了",}'.encode(), headers=json_type),
        "请求体第",
        "不是合法的 JSON",
        "双引号",
    )
    refused(
        client.post("/api/login", content=b'{"name": "admin", "password": ', headers=json_type),
        "不是合法的 JSON",
        "缺少值",
    )
    refused(client.post("/api/users", content=b"name=x&role=admin", headers={**admin, **json_type}), "不是合法的 JSON")
    # Valid JSON, wrong types: every wrong field is named with what it should be.
    body = refused(
        client.post("/api/classify", json={"text": 123, "top_k": "五"}), "字段 text：应为文本", "字段 top_k：应为整数"
    )
    assert [e["field"] for e in body["errors"]] == ["字段 text", "字段 top_k"]
    refused(client.post("/api/classify", json={"texts": ["路灯坏了", 7]}), "字段 texts[1]：应为文本")
    refused(client.post("/api/classify", json={"text": "路灯坏了", "top_k": 99}), "字段 top_k：应不大于 20")
    refused(client.post("/api/classify", json=["路灯坏了"]), "请求体：应为 JSON 对象")
    refused(client.post("/api/login", json={"name": ["admin"]}), "字段 name：应为文本", "字段 password：缺少此字段")
    refused(
        client.post("/api/reviews/1/decision", json={"decision": "maybe"}, headers=reviewer),
        "字段 decision：只能是 'accept'、'correct'、'reject'",
    )
    refused(
        client.post("/api/users", json={"name": "", "role": "boss", "password": "long-enough-1"}, headers=admin),
        "字段 name：至少 1 个字符",
        "字段 role：只能是",
    )
    refused(
        client.patch("/api/users/admin", json={"active": "maybe"}, headers=admin), "字段 active：应为 true 或 false"
    )
    # Query and path parameters too.
    refused(client.get("/api/reviews/queue?limit=lots", headers=reviewer), "查询参数 limit：应为整数")
    refused(
        client.post("/api/reviews/abc/decision", json={"decision": "accept"}, headers=reviewer),
        "路径参数 review_id：应为整数",
    )


def test_classify_can_require_login(app_settings, embedder, tmp_path):
    closed = Settings(
        home=private_home(tmp_path / "closed", Settings(home=app_settings.home)),
        allow_anonymous_classify=False,
        threads=app_settings.threads,
    )
    add_users(closed)
    with TestClient(create_app(closed, embedder=embedder)) as c:
        assert c.post("/api/classify", json={"text": "路灯坏了"}).status_code == 401
        headers = bearer(c, "drafter")
        assert c.post("/api/classify", json={"text": "路灯坏了"}, headers=headers).status_code == 200


def test_classifying_does_not_block_other_requests(client):
    import threading

    texts = [f"{QUEUE_TEXTS[i % len(QUEUE_TEXTS)]}（第{i}条）" for i in range(300)]
    done = threading.Event()
    answers = []

    def big_request() -> None:
        answers.append(client.post("/api/classify", json={"texts": texts}))
        done.set()

    worker = threading.Thread(target=big_request)
    worker.start()
    try:
        # While the model works through 300 texts, the event loop still answers everyone else.
        wait_for(
            lambda: client.get("/api/health").json()["classify_in_flight"] == 300 or done.is_set(),
            every=0.05,
            what="the big batch under way",
        )
        assert client.get("/api/health").status_code == 200
        assert client.get("/api/catalogs").status_code == 200
        assert not done.is_set()
    finally:
        worker.join(timeout=600)
    assert answers[0].status_code == 200 and len(answers[0].json()["results"]) == 300


# -- auth ----------------------------------------------------------------------------------------------------------


WRITES = [
    ("post", "/api/reviews", {"text": "路灯坏了"}),
    ("post", "/api/reviews/1/decision", {"decision": "accept"}),
    ("post", "/api/catalogs", None),
    ("post", "/api/jobs/bulk", None),
    ("post", "/api/jobs/merge", None),
    ("post", "/api/jobs/1/cancel", None),
    ("post", "/api/users", {"name": "x", "role": "drafter", "password": "long-enough-1"}),
    ("patch", "/api/users/drafter", {"role": "admin"}),
]


@pytest.mark.parametrize("method,path,body", WRITES)
def test_every_write_refuses_anonymous_callers(client, method, path, body):
    client.cookies.clear()
    reply = client.request(method, path, json=body)
    assert reply.status_code == 401, (path, reply.text)
    assert reply.json()["detail"] == "请先登录"


@pytest.mark.parametrize(
    "role,method,path,body",
    [
        ("drafter", "post", "/api/reviews/1/decision", {"decision": "accept"}),
        ("drafter", "get", "/api/reviews/queue", None),
        ("reviewer", "post", "/api/catalogs", None),
        ("reviewer", "post", "/api/users", {"name": "x", "role": "drafter", "password": "long-enough-1"}),
        ("drafter", "get", "/api/users", None),
    ],
)
def test_wrong_role_gets_403(client, role, method, path, body):
    reply = client.request(method, path, json=body, headers=bearer(client, role))
    assert reply.status_code == 403, reply.text
    assert "权限" in reply.json()["detail"]


def test_login_logout_cookie_and_expiry(client, app_settings):
    assert client.post("/api/login", json={"name": "drafter", "password": "wrong-password"}).status_code == 401
    assert client.post("/api/login", json={"name": "nobody", "password": "whatever-123"}).status_code == 401
    reply = client.post("/api/login", json={"name": "drafter", "password": PASSWORDS["drafter"]})
    assert reply.status_code == 200
    token = reply.json()["token"]
    cookie = reply.cookies.get("lvzhi_session")
    assert cookie == token and "httponly" in reply.headers["set-cookie"].lower()
    assert "samesite=strict" in reply.headers["set-cookie"].lower()
    # The cookie (web page) and the Bearer header (API) both identify the user.
    assert client.get("/api/me", headers={"Cookie": f"lvzhi_session={token}"}).json()["user"]["name"] == "drafter"
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()["user"]["role"] == "drafter"
    # Only a hash of the token is stored.
    with sqlite3.connect(app_settings.home / "lvzhi.db") as conn:
        stored = [r[0] for r in conn.execute("SELECT token_hash FROM sessions")]
    assert token not in stored and len(stored) >= 1
    client.post("/api/logout", headers={"Authorization": f"Bearer {token}"})
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()["user"] is None
    # An expired session is refused.
    other = bearer(client, "drafter")
    with sqlite3.connect(app_settings.home / "lvzhi.db") as conn:
        conn.execute("UPDATE sessions SET expires_at = '2000-01-01T00:00:00+00:00'")
    assert client.post("/api/reviews", json={"text": "路灯坏了"}, headers=other).status_code == 401
    client.cookies.clear()


def test_passwords_are_salted_scrypt_hashes(app_settings):
    with sqlite3.connect(app_settings.home / "lvzhi.db") as conn:
        hashes = [r[0] for r in conn.execute("SELECT password_hash FROM users")]
    assert all(h.startswith("scrypt$") for h in hashes)
    assert len(set(h.split("$")[4] for h in hashes)) == len(hashes)  # every salt differs
    assert not any(p in h for h in hashes for p in PASSWORDS.values())


def test_repeated_wrong_passwords_lock_the_name(client):
    for _ in range(5):
        client.post("/api/login", json={"name": "locked-out", "password": "wrong-password"})
    assert client.post("/api/login", json={"name": "locked-out", "password": "wrong-password"}).status_code == 429


# -- reviews -------------------------------------------------------------------------------------------------------


def test_queue_puts_most_needed_first(client, drafter, reviewer):
    submitted = []
    for text in QUEUE_TEXTS:
        reply = client.post("/api/reviews", json={"text": text, "note": "测试"}, headers=drafter)
        assert reply.status_code == 200, reply.text
        submitted.append(reply.json())
    assert all(r["submitted_by"] == "drafter" and r["status"] == "pending" for r in submitted)
    queue = client.get("/api/reviews/queue", headers=reviewer).json()
    items = [r for r in queue["items"] if r["id"] in {s["id"] for s in submitted}]
    assert len(items) == len(QUEUE_TEXTS)

    def need(r):
        f = r["match"]["flags"]
        tier = 0 if f["out_of_list"] else 1 if f["reclaimed"] else 2 if f["needs_review"] else 3
        return tier, r["confidence"], r["id"]

    assert [r["tier"] for r in items] == [need(r)[0] for r in items]
    assert items == sorted(items, key=need)
    assert len({r["tier"] for r in items}) >= 2, "the fixture texts should span several tiers"
    assert queue["counts"]["pending"] >= len(QUEUE_TEXTS)


def test_decisions_are_stored_exported_and_learned(client, drafter, reviewer, app_settings):
    text = "东头那条巷子的下水道又堵了，污水漫到路面上"
    review = client.post("/api/reviews", json={"text": text}, headers=drafter).json()
    catalog = load_reference_catalog()
    target = next(e for e in catalog.entries if e.id != review["suggested_id"] and e.list_type.short == "基本")

    bad = client.post(
        f"/api/reviews/{review['id']}/decision", json={"decision": "correct", "entry_id": "NOPE"}, headers=reviewer
    )
    assert bad.status_code == 422
    assert (
        client.post(f"/api/reviews/{review['id']}/decision", json={"decision": "correct"}, headers=reviewer).status_code
        == 422
    )
    done = client.post(
        f"/api/reviews/{review['id']}/decision",
        json={"decision": "correct", "entry_id": target.id, "comment": "应归入该事项"},
        headers=reviewer,
    )
    assert done.status_code == 200, done.text
    stored = done.json()["review"]
    assert (stored["decision"], stored["final_id"], stored["reviewer"]) == ("correct", target.id, "reviewer")
    assert stored["catalog_version"] == catalog.version and stored["model_version"].startswith(DEFAULT_MODEL + "@")
    assert stored["reviewed_at"] and stored["comment"] == "应归入该事项"
    # A second decision on the same item is refused.
    again = client.post(f"/api/reviews/{review['id']}/decision", json={"decision": "accept"}, headers=reviewer)
    assert again.status_code == 409

    # The correction helps at once: the same text now finds the chosen entry.
    settle_learning(client)
    best = client.post("/api/classify", json={"text": text}).json()["results"][0]["best"]
    assert best["id"] == target.id

    rejected = client.post("/api/reviews", json={"text": "帮我查一下明天的天气预报和航班"}, headers=drafter).json()
    client.post(
        f"/api/reviews/{rejected['id']}/decision",
        json={"decision": "reject", "comment": "非政务事项"},
        headers=reviewer,
    )

    rows = export_reviews(app_settings)
    assert all(list(r) == list(EXPORT_COLUMNS) for r in rows)
    mine = {r["内容"]: r for r in rows}
    assert mine[text]["决定"] == "更正" and mine[text]["最终事项序号"] == target.id
    assert mine[text]["建议事项序号"] == review["suggested_id"] and mine[text]["审核人"] == "reviewer"
    assert mine[text]["意见"] == "应归入该事项" and mine[text]["清单版本"] == catalog.version
    assert mine["帮我查一下明天的天气预报和航班"]["决定"] == "驳回"

    csv_reply = client.get("/api/reviews/export?format=csv", headers=reviewer)
    assert csv_reply.status_code == 200
    parsed = list(csv.DictReader(io.StringIO(csv_reply.content.decode("utf-8-sig"))))
    assert parsed == [{k: str(v) for k, v in r.items()} for r in rows]
    xlsx_reply = client.get("/api/reviews/export?format=xlsx", headers=reviewer)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_reply.content), read_only=True).worksheets[0]
    table = list(sheet.iter_rows(values_only=True))
    assert list(table[0]) == list(EXPORT_COLUMNS) and len(table) == len(rows) + 1


def test_reviews_survive_a_restart_and_examples_are_reloaded(client, app_settings, embedder, drafter, reviewer):
    text = "北边菜市场门口的垃圾桶好几天没人清运，臭气熏天"
    review = client.post("/api/reviews", json={"text": text}, headers=drafter).json()
    target = next(e for e in load_reference_catalog().entries if e.id not in (review["suggested_id"], "JB001"))
    client.post(
        f"/api/reviews/{review['id']}/decision", json={"decision": "correct", "entry_id": target.id}, headers=reviewer
    )
    settle_learning(client)
    with TestClient(create_app(app_settings, embedder=embedder)) as second:
        wait_for(lambda: second.get("/api/health").json()["ready"], what="second app ready")
        headers = bearer(second, "reviewer")
        assert second.get(f"/api/reviews/{review['id']}", headers=headers).json()["final_id"] == target.id
        # Built from the database on start: the confirmed text is already a view of its entry.
        assert second.post("/api/classify", json={"text": text}).json()["results"][0]["best"]["id"] == target.id


def test_drafter_sees_own_submissions(client, drafter):
    mine = client.get("/api/reviews/mine", headers=drafter).json()["items"]
    assert mine and all(r["submitted_by"] == "drafter" for r in mine)


# -- catalogs ------------------------------------------------------------------------------------------------------


def test_catalog_import_browse_search_diff_and_classify(client, admin):
    listed = client.get("/api/catalogs").json()
    default = listed["default_version"]
    assert any(c["version"] == default and c["default"] for c in listed["catalogs"])

    with open(OTHER_CATALOG, "rb") as fh:
        reply = client.post(
            "/api/catalogs",
            params={"filename": "catalog.csv", "name": "东城街道清单"},
            content=fh.read(),
            headers=admin,
        )
    assert reply.status_code == 200, reply.text
    imported = reply.json()
    assert imported["name"] == "东城街道清单" and imported["entries"] > 100
    version = imported["version"]
    assert version in [c["version"] for c in client.get("/api/catalogs").json()["catalogs"]]

    entries = client.get(f"/api/catalogs/{version}/entries", params={"q": "党员", "list_type": "基本"}).json()
    assert entries["entries"] and all("党员" in (e["name"] + e["description"]) for e in entries["entries"])
    assert all(e["list_type"] == "基本履职事项" for e in entries["entries"])
    current = client.get("/api/catalogs/current/entries").json()
    assert current["version"] == default and len(current["entries"]) == current["total"]

    found = client.get(f"/api/catalogs/{version}/search", params={"q": "蚊子蟑螂消杀"}).json()["entries"]
    assert found and found[0]["id"] == "31"

    diff = client.get("/api/catalogs/diff", params={"a": default, "b": version}).json()
    assert diff["a"]["version"] == default and diff["b"]["version"] == version
    assert diff["counts"]["新增"] and diff["counts"]["删除"] and diff["changes"]
    assert sum(diff["counts"].values()) >= len(diff["changes"])
    same = client.get("/api/catalogs/diff", params={"a": version, "b": version}).json()
    assert same["changes"] == [] and same["unchanged"] == imported["entries"]

    answer = client.post(
        "/api/classify",
        json={"text": "小区周边蚊子、蟑螂、老鼠特别多，能不能组织统一消杀一次？", "catalog": version[:8]},
    ).json()
    assert answer["catalog_version"] == version and answer["catalog_name"] == "东城街道清单"
    other_ids = {e["id"] for e in client.get(f"/api/catalogs/{version}/entries").json()["entries"]}
    assert answer["results"][0]["best"]["id"] in other_ids - {e["id"] for e in current["entries"]}


def test_catalog_import_reports_problems(client, admin):
    bad = "序号,事项名称\n1,\n1,重复的序号\n".encode()
    reply = client.post("/api/catalogs", params={"filename": "坏清单.csv"}, content=bad, headers=admin)
    assert reply.status_code == 422
    assert reply.json()["problems"] and "坏清单.csv" in reply.json()["detail"]


# -- users ---------------------------------------------------------------------------------------------------------


def test_admin_manages_users(client, admin):
    made = client.post(
        "/api/users", json={"name": "张三", "role": "drafter", "password": "zhangsan-pass"}, headers=admin
    )
    assert made.status_code == 200 and made.json()["role"] == "drafter"
    assert (
        client.post(
            "/api/users", json={"name": "张三", "role": "drafter", "password": "zhangsan-pass"}, headers=admin
        ).status_code
        == 409
    )
    assert (
        client.post(
            "/api/users", json={"name": "李四", "role": "drafter", "password": "short"}, headers=admin
        ).status_code
        == 422
    )
    login = client.post("/api/login", json={"name": "张三", "password": "zhangsan-pass"}).json()
    his = {"Authorization": "Bearer " + login["token"]}
    assert client.get("/api/reviews/queue", headers=his).status_code == 403
    client.patch("/api/users/张三", json={"role": "reviewer"}, headers=admin)
    assert client.get("/api/reviews/queue", headers=his).status_code == 200
    # Disabling ends his sessions at once.
    client.patch("/api/users/张三", json={"active": False}, headers=admin)
    assert client.get("/api/reviews/queue", headers=his).status_code == 401
    assert client.post("/api/login", json={"name": "张三", "password": "zhangsan-pass"}).status_code == 401
    last_admin = client.patch("/api/users/admin", json={"role": "drafter"}, headers=admin)
    assert last_admin.status_code == 409


# -- pages ---------------------------------------------------------------------------------------------------------


def test_pages_render_in_chinese_and_gate_by_role(client):
    client.cookies.clear()
    home = client.get("/")
    assert home.status_code == 200 and "速查" in home.text and 'lang="zh-CN"' in home.text
    assert client.get("/catalog").status_code == 200
    assert client.get("/login").status_code == 200
    redirect = client.get("/review", follow_redirects=False)
    assert redirect.status_code == 303 and redirect.headers["location"].startswith("/login?next=")
    login = client.post("/api/login", json={"name": "drafter", "password": PASSWORDS["drafter"]})
    client.cookies.set("lvzhi_session", login.json()["token"])
    try:
        assert client.get("/bulk").status_code == 200
        forbidden = client.get("/review")
        assert forbidden.status_code == 403 and "没有权限" in forbidden.text
    finally:
        client.cookies.clear()
    assert client.get("/static/app.css").status_code == 200


# -- command line ------------------------------------------------------------------------------------------------------


def test_lvzhi_user_add_creates_a_login(client, app_settings):
    import subprocess
    import sys

    def lvzhi(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "lvzhi.cli", "--home", str(app_settings.home), "user", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    made = lvzhi("add", "王五", "--role", "reviewer", stdin="wangwu-password\n")  # the password prompt reads stdin
    assert made.returncode == 0, made.stderr
    assert "王五" in made.stdout and "审核人" in made.stdout
    assert lvzhi("add", "王五", "--role", "admin", "--password", "another-password").returncode == 1
    short = lvzhi("add", "赵六", "--role", "drafter", "--password", "short")
    assert short.returncode == 1 and "至少 8 个字符" in short.stderr
    assert lvzhi("add", "赵六", "--role", "boss", "--password", "long-enough-1").returncode == 2
    assert "王五" in lvzhi("list").stdout
    login = client.post("/api/login", json={"name": "王五", "password": "wangwu-password"})
    assert login.status_code == 200 and login.json()["user"]["role"] == "reviewer"
    client.cookies.clear()


def test_diff_of_a_revised_list_names_each_change(client, admin, tmp_path):
    reference = Path(__file__).resolve().parent.parent / "corpus" / "data" / "reference_catalog.csv"
    with open(reference, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    removed, renamed = rows[-1], rows[1]
    revised = [dict(r) for r in rows[:-1]]
    revised[1]["事项名称"] = renamed["事项名称"] + "（调整）"
    revised.append(
        {**rows[0], "序号": "JB999", "事项名称": "城市书房运营管理", "具体内容": "运营管理城市书房，组织全民阅读活动。"}
    )
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(revised)
    reply = client.post(
        "/api/catalogs",
        params={"filename": "修订版.csv", "name": "修订版"},
        content=buf.getvalue().encode("utf-8"),
        headers=admin,
    )
    assert reply.status_code == 200, reply.text
    default = client.get("/api/catalogs").json()["default_version"]
    diff = client.get("/api/catalogs/diff", params={"a": default, "b": reply.json()["version"]}).json()
    by_kind = {}
    for change in diff["changes"]:
        by_kind.setdefault(change["kind"], []).append(change)
    assert [c["old"][0]["id"] for c in by_kind["删除"]] == [removed["序号"]]
    assert [c["new"][0]["id"] for c in by_kind["新增"]] == ["JB999"]
    touched = [c for c in diff["changes"] if c["old"] and c["old"][0]["id"] == renamed["序号"]]
    assert touched and "事项名称" in touched[0]["fields"]
    assert diff["unchanged"] == len(rows) - 2


def test_shared_duty_shows_both_sides_and_revisions_of_the_county_part(client, admin):
    def import_list(name: str, county: str) -> str:
        rows = [
            ["序号", "事项名称", "县级部门职责", "乡镇（街道）配合职责", "县级主责部门"],
            ["1", "违法用地查处配合", county, "开展日常巡查，发现后及时制止并报告", "县自然资源局"],
            [
                "2",
                "食品安全执法配合",
                "查处销售过期变质食品等违法行为",
                "开展日常巡查，发现后及时制止并报告",
                "县市场监管局",
            ],
        ]
        body = "\n".join(",".join(r) for r in rows).encode("gbk")
        reply = client.post(
            "/api/catalogs", params={"filename": "配合履职事项清单.csv", "name": name}, content=body, headers=admin
        )
        assert reply.status_code == 200, reply.text
        return reply.json()["version"]

    first = import_list("配合清单", "查处未经批准占用耕地建房行为")
    found = client.get(f"/api/catalogs/{first}/entries", params={"q": "耕地建房"}).json()["entries"]
    assert [(e["id"], e["department_duty"]) for e in found] == [("1", "查处未经批准占用耕地建房行为")]
    answer = client.post("/api/classify", json={"text": "有人在村里耕地上盖房子", "catalog": first}).json()
    best = answer["results"][0]["best"]
    assert (best["id"], best["description"], best["department_duty"]) == (
        "1",
        "开展日常巡查，发现后及时制止并报告",
        "查处未经批准占用耕地建房行为",
    )

    second = import_list("配合清单（修订）", "查处未经批准占用耕地建房、非法采矿行为")
    diff = client.get("/api/catalogs/diff", params={"a": first, "b": second}).json()
    assert [(c["kind"], c["fields"]) for c in diff["changes"]] == [("内容修改", ["县级部门职责"])]


def test_comparing_lists_encodes_each_entry_text_once(embedder, reference_catalog):
    """A revision repeats most entries word for word; the comparison encodes each distinct text once, and the
    service's memo makes a second comparison encode nothing."""
    from api.matchers import PassageMemo
    from corpus.diff import diff_catalogs
    from corpus.schema import Catalog

    encoded: list[str] = []

    class CountingEncoder:
        dim = embedder.dim

        def encode_passages(self, texts, batch_size=64):
            encoded.extend(texts)
            return embedder.encode_passages(texts, batch_size=batch_size)

    old = Catalog(name="旧版", entries=reference_catalog.entries[:40])
    new = Catalog(name="新版", entries=reference_catalog.entries[2:42])
    memo = PassageMemo(CountingEncoder())
    first = diff_catalogs(old, new, memo)
    assert sorted(encoded) == sorted({e.text for e in (*old.entries, *new.entries)})
    assert first.counts()["新增"] == 2 and first.counts()["删除"] == 2
    encoded.clear()
    again = diff_catalogs(old, new, memo)
    assert encoded == [] and again.counts() == first.counts()
