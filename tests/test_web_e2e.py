"""The workbench in a real headless Chromium (Debian's package, driven by Playwright): log in, paste a ticket and
see the right entry, send it to review, accept it as a reviewer with the keyboard, correct another through the
search box, upload a small export and download the result. Screenshots of every page go to test-artifacts/."""

from __future__ import annotations

import csv
import importlib.util
import io
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from corpus.catalogs import load_reference_catalog
from lvzhi.config import Settings
from tests.api_fixtures import PASSWORDS, PENSION_ENTRY, PENSION_TICKET, ThreadServer, add_users, private_home

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HAS_BULK = importlib.util.find_spec("inference.bulk") is not None
HAS_MERGE = importlib.util.find_spec("inference.merge") is not None
MERGE_ITEMS = Path(__file__).resolve().parent.parent / "corpus" / "data" / "labelled" / "merge_items.csv"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory, settings, embedder):
    home = private_home(tmp_path_factory.mktemp("web-home"), settings)
    app_settings = Settings(home=home, threads=settings.threads)
    add_users(app_settings)
    with ThreadServer(create_app(app_settings, embedder=embedder)) as running:
        from tests.api_fixtures import wait_for

        wait_for(lambda: httpx.get(running.url + "/api/health").json()["ready"], what="model ready")
        yield running


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, server):
    context = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
    )
    # Waits guard against a hang, they time nothing: comparing two lists or building a new version's index encodes
    # a few hundred entries, which takes well over Playwright's 30 s default on a busy 2-core CI machine.
    context.set_default_timeout(180_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shot(page, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def log_in(page, role: str) -> None:
    page.goto("/login")
    page.fill("#login-name", role)
    page.fill("#login-password", PASSWORDS[role])
    page.click("#login-submit")
    page.wait_for_selector(f"body[data-user='{role}']")


def log_out(page) -> None:
    page.click("#logout")
    page.wait_for_selector("body[data-user='']")


def api_reviews(server, role: str) -> list[dict]:
    token = httpx.post(server.url + "/api/login", json={"name": role, "password": PASSWORDS[role]}).json()["token"]
    headers = {"Authorization": "Bearer " + token}
    return httpx.get(server.url + "/api/reviews/mine", headers=headers).json()["items"]


def test_drafter_classifies_sends_to_review_and_reviewer_decides(page, server):
    page.goto("/login")
    shot(page, "01-登录")
    log_in(page, "drafter")
    assert page.url.endswith("/")

    # 速查: paste a ticket, Enter, the right entry with its badges.
    page.fill("#quick-text", PENSION_TICKET)
    page.press("#quick-text", "Enter")
    best = page.wait_for_selector(f".match[data-entry-id='{PENSION_ENTRY}']")
    assert "城乡居民养老保险经办" in best.inner_text()
    assert best.query_selector(".badge.lt-基本") is not None
    assert "置信度" in best.inner_text() and "承办机构" in best.inner_text()
    shot(page, "02-速查")
    page.click(".match .send-review")
    page.wait_for_selector(".match .send-review:has-text('已送审')")

    # Suggestions also come while typing (debounced), without Enter.
    page.fill("#quick-text", "")
    page.type("#quick-text", "村里的路灯坏了好几天了", delay=20)
    page.wait_for_function(
        "document.querySelector('#quick-results .match') && "
        "document.querySelector('#quick-results').innerText.includes('得分')"
    )
    page.click(".match .send-review")
    page.wait_for_selector(".match .send-review:has-text('已送审')")
    mine = api_reviews(server, "drafter")
    assert {r["text"] for r in mine} >= {PENSION_TICKET, "村里的路灯坏了好几天了"}
    log_out(page)

    # 审核: a reviewer accepts the pension ticket with A and corrects the street-light one through "/" search.
    log_in(page, "reviewer")
    page.goto("/review")
    page.wait_for_selector("#review-card:not([hidden])")
    shot(page, "03-审核")
    correct_to = next(e for e in load_reference_catalog().entries if "路灯" in e.text)
    for _ in range(10):
        text = page.inner_text("#review-text")
        if text == PENSION_TICKET:
            page.keyboard.press("a")
        elif text == "村里的路灯坏了好几天了":
            page.keyboard.press("/")
            page.keyboard.type(correct_to.id)
            page.wait_for_selector(f"#review-search-results li[data-entry-id='{correct_to.id}']")
            page.keyboard.press("Enter")
            page.wait_for_selector("#review-choice:not([hidden])")
            page.keyboard.press("Enter")
        else:
            page.keyboard.press("j")
        page.wait_for_timeout(400)
        decided = {r["text"]: r for r in api_reviews(server, "drafter") if r["status"] == "decided"}
        if {PENSION_TICKET, "村里的路灯坏了好几天了"} <= set(decided):
            break
    assert decided[PENSION_TICKET]["decision"] == "accept" and decided[PENSION_TICKET]["reviewer"] == "reviewer"
    assert decided[PENSION_TICKET]["final_id"] == PENSION_ENTRY
    street = decided["村里的路灯坏了好几天了"]
    assert street["decision"] == "correct" and street["final_id"] == correct_to.id
    assert "今日已审" in page.inner_text("#review-counts")
    log_out(page)


def expected_flag_words(answer: dict) -> list[str]:
    flags = answer["flags"]
    words = []
    if flags["out_of_list"]:
        words.append("清单之外")
    if flags["reclaimed"]:
        words.append("应交回" + answer["handover_department"])
    if flags["zombie"]:
        words.append("僵尸事项")
    if flags["bottom_line"]:
        words.append("兜底事项")
    if flags["needs_review"]:
        words.append("需人工复核")
    return words


@pytest.mark.parametrize(
    "text,name",
    [
        ("新建厂房需要办理建筑工程施工许可", "02b-速查-收回事项"),
        ("帮我查一下明天的天气预报和航班", "02c-速查-清单之外"),
    ],
)
def test_flags_are_shown_in_plain_words(page, server, text, name):
    answer = httpx.post(server.url + "/api/classify", json={"text": text}).json()["results"][0]
    page.goto("/")
    page.fill("#quick-text", text)
    page.press("#quick-text", "Enter")
    card = page.wait_for_selector("#quick-results .match")
    shown = [b.inner_text() for b in card.query_selector_all(".flags .badge")]
    assert shown == expected_flag_words(answer) and shown
    if answer["flags"]["out_of_list"]:
        assert card.query_selector(".match-title").inner_text() == "清单之外"
    shot(page, name)


def test_catalog_page_searches_entries(page):
    page.goto("/catalog")
    page.wait_for_selector("#catalog-entries tbody tr")
    page.fill("#catalog-search", "养老")
    page.wait_for_function(
        "(rows => rows.length > 0 && rows.every(r => r.innerText.includes('养老')))"
        "([...document.querySelectorAll('#catalog-entries tbody tr')])"
    )
    shot(page, "05-清单")
    page.click("#catalog-types button[data-type='收回']")
    page.fill("#catalog-search", "")
    page.wait_for_function(
        "[...document.querySelectorAll('#catalog-entries tbody tr td:nth-child(2)')]"
        ".every(td => td.innerText.trim() === '收回')"
    )


@pytest.mark.skipif(not HAS_BULK, reason="inference.bulk (issue 3) is not in this tree yet")
def test_upload_a_small_export_and_download_the_result(page, tmp_path):
    export = tmp_path / "热线导出.csv"
    texts = [PENSION_TICKET, "村里的路灯坏了好几天了", "小区里老鼠很多，希望组织消杀", "隔壁邻居装修噪音太大"] * 5
    with open(export, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["工单编号", "受理时间", "诉求内容"])
        for i, text in enumerate(texts):
            writer.writerow([f"GD{i:04d}", f"2024-0{1 + i % 9}-15", text])
    log_in(page, "drafter")
    page.goto("/bulk")
    page.set_input_files("#bulk-file", str(export))
    page.select_option("select[name=output_format]", "csv")
    page.click("#bulk-submit")
    page.wait_for_selector("#bulk-jobs tr[data-status='done'], #bulk-jobs tr[data-status='failed']", timeout=600_000)
    assert page.query_selector("#bulk-jobs tr[data-status='done']"), page.inner_text("#bulk-jobs")
    page.wait_for_selector("#bulk-report:not([hidden])")
    page.wait_for_timeout(1500)  # let the chart images load for the screenshot
    shot(page, "04-批量")
    with page.expect_download() as download_info:
        page.click("#bulk-jobs tr[data-status='done'] a.download")
    saved = tmp_path / "下载结果.csv"
    download_info.value.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert len(rows) == len(texts) + 1 and [r[0] for r in rows[1:]] == [f"GD{i:04d}" for i in range(len(texts))]
    assert PENSION_ENTRY in rows[1]


def test_merge_groups_and_users_pages(page):
    log_in(page, "admin")
    page.goto("/merge")
    page.wait_for_selector("#merge-form")
    if HAS_MERGE:
        page.set_input_files("#merge-file", str(MERGE_ITEMS))
        page.click("#merge-submit")
        page.wait_for_selector(
            "#merge-jobs tr[data-status='done'], #merge-jobs tr[data-status='failed']", timeout=600_000
        )
        assert page.query_selector("#merge-jobs tr[data-status='done']"), page.inner_text("#merge-jobs")
        page.wait_for_selector("#merge-groups .group")
        assert page.query_selector_all("#merge-groups .group tbody tr")
    page.set_viewport_size({"width": 1280, "height": 1500})
    shot(page, "06-归并", full_page=False)  # dozens of groups: one tall screenful shows the layout
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/users")
    page.wait_for_selector("#users-table tbody tr")
    assert "reviewer" in page.inner_text("#users-table")
    shot(page, "07-用户")


def test_admin_imports_a_revised_list_and_compares_versions(page, tmp_path):
    reference = Path(__file__).resolve().parent.parent / "corpus" / "data" / "reference_catalog.csv"
    with open(reference, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    revised = [dict(r) for r in rows[:-2]]
    revised[3]["事项名称"] += "（调整）"
    revised.append(
        {**rows[0], "序号": "JB999", "事项名称": "城市书房运营管理", "具体内容": "运营管理城市书房，组织全民阅读活动。"}
    )
    # The revision states the county's side of one shared duty, as 配合 lists print it.
    county = "负责定点医药机构医保基金使用的监督检查，查处欺诈骗保行为"
    for row in revised:
        row["县级部门职责"] = county if row["序号"] == "PH001" else ""
    path = tmp_path / "青石镇清单2025修订.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*rows[0], "县级部门职责"])
        writer.writeheader()
        writer.writerows(revised)
    log_in(page, "admin")
    page.goto("/catalog")
    page.wait_for_selector("#catalog-entries tbody tr")
    page.set_input_files("#import-file", str(path))
    page.fill("#import-form input[name=name]", "青石镇清单（2025 修订）")
    page.click("#import-submit")
    page.wait_for_function("document.querySelector('#import-status').innerText.includes('已导入')")
    page.wait_for_function("document.querySelectorAll('#diff-b option').length >= 2")
    page.select_option("#diff-b", index=0)  # newest first in the list
    page.select_option("#diff-a", index=1)
    page.click("#diff-run")
    page.wait_for_selector("#diff-table")
    kinds = page.eval_on_selector_all("#diff-table tbody tr", "rows => rows.map(r => r.dataset.kind)")
    assert kinds.count("删除") == 2 and kinds.count("新增") == 1 and len(kinds) >= 4
    shot(page, "08-清单比对")

    page.select_option("#catalog-version", index=0)
    page.fill("#catalog-search", "欺诈骗保")
    page.wait_for_function(
        "[...document.querySelectorAll('#catalog-entries tbody tr')].some("
        f"r => r.dataset.entryId === 'PH001' && r.innerText.includes('县级部门职责：{county}'))"
    )
    page.goto("/")
    page.wait_for_function("document.querySelectorAll('#quick-catalog option').length >= 3")
    page.select_option("#quick-catalog", index=1)  # after 当前清单, newest first
    page.fill("#quick-text", "举报村卫生室虚开药品骗取医保基金")
    page.press("#quick-text", "Enter")
    page.wait_for_function("document.querySelector('#quick-results .match')")
    card = page.inner_text("#quick-results .match")
    assert "医保基金监管配合" in card and f"县级部门职责\n{county}" in card, card
    shot(page, "09-配合事项的职责边界")
