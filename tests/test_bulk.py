"""Bulk classification of hotline exports on real files and the real model: CSV (GBK, UTF-8), XLSX, bad rows,
reports, fast mode, and resuming after an interruption."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest

from bench.hotline_tickets import HEADERS, generate, write_csv, write_xlsx
from corpus.tables import open_table
from inference.bulk import BulkOptions, BulkProgress, run_bulk
from inference.bulk.checkpoint import CheckpointError, checkpoint_dir
from inference.bulk.columns import ColumnError, detect_columns
from inference.bulk.dates import minus_months, months_between, parse_date
from inference.bulk.dedup import BANDS, band_keys, group_labels
from inference.bulk.output import RESULT_HEADERS, result_headers
from inference.bulk.report import DuplicateSummary, build_report
from inference.bulk.rowtext import row_text
from inference.bulk.stats import TicketStats
from inference.fast import CascadePolicy, FastCascade

RESULT_START = len(HEADERS)


@pytest.fixture(scope="module")
def bulk_matcher(settings, embedder, reference_catalog):
    from inference.matcher import Matcher

    # A private matcher: other tests add confirmed examples to the shared one, which would change answers.
    return Matcher(catalog=reference_catalog, embedder=embedder, settings=settings)


def read_output_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "CSV output carries a BOM so Excel reads it as UTF-8"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    return rows[0], rows[1:]


# -- pieces that need no model -------------------------------------------------------------------------------------


def test_columns_by_name_then_by_content():
    c = detect_columns(["工单编号", "来电时间", "留言主题", "市民诉求内容", "回复内容"], [])
    assert (c.text, c.title, c.date) == ("市民诉求内容", "留言主题", "")
    sample = [
        {"编号": "1", "日期": "2024-03-01", "说明": "小区门口每晚有人摆摊卖烧烤，占用人行道"},
        {"编号": "2", "日期": "2024/3/2", "说明": "村里垃圾好几天没人清运"},
    ]
    c = detect_columns(["编号", "日期", "说明"], sample)
    assert (c.text, c.date) == ("说明", "日期")
    assert "按内容识别" in c.how
    with pytest.raises(ColumnError, match="找不到文本列「正文」"):
        detect_columns(["编号", "内容"], [], text="正文")
    with pytest.raises(ColumnError, match="--text-col"):
        detect_columns(["编号", "金额"], [{"编号": "1", "金额": "12"}])
    # Another township's list classified in bulk: its duty name in front of the duty's content.
    c = detect_columns(["序号", "事项名称", "具体内容", "承办科室"], [])
    assert (c.text, c.title) == ("具体内容", "事项名称")
    # An empty name means "no such column", not "detect one".
    assert detect_columns(["诉求标题", "诉求内容"], [], title="").title == ""


def test_dates_in_the_forms_exports_use():
    assert parse_date("2024-03-05 10:22:33") == date(2024, 3, 5)
    assert parse_date("2024/3/5") == date(2024, 3, 5)
    assert parse_date("2024年3月5日 下午") == date(2024, 3, 5)
    assert parse_date("20240305") == date(2024, 3, 5)
    assert parse_date("45356") == date(2024, 3, 5)  # Excel serial
    assert parse_date("2024-02-30") is None and parse_date("张三") is None and parse_date("") is None
    assert minus_months(date(2024, 3, 31), 1) == date(2024, 2, 29)
    assert months_between(date(2023, 5, 20), date(2024, 5, 19)) == 11


def test_rows_that_cannot_be_classified_say_why():
    cols = detect_columns(["诉求标题", "诉求内容"], [])
    assert row_text({"诉求标题": "噪音", "诉求内容": "楼下KTV太吵"}, cols).text == "噪音：楼下KTV太吵"
    assert row_text({"诉求标题": "", "诉求内容": ""}, cols).error.startswith("「诉求内容」为空")
    assert "二进制" in row_text({"诉求内容": "\x00\x01PK\x03"}, cols).error
    assert "符号" in row_text({"诉求内容": "#$%&*@~^#$%"}, cols).error
    assert "仅数字" in row_text({"诉求内容": "13800001111"}, cols).error
    assert "过长" in row_text({"诉求内容": "投诉" * 2000}, cols).error
    assert row_text({"诉求内容": "正常"}, cols, problem="无法按 gb18030 解码").error == "无法按 gb18030 解码"


def test_near_duplicates_grouped_without_pairwise_comparison():
    texts = [
        "幸福里小区门口每晚有人摆摊卖烧烤，占用人行道，希望尽快处理",
        "幸福里小区门口每晚有人摆摊卖烧烤，占用人行道，希望尽快处理。再次反映",
        "柳溪村自来水发黄有异味，不敢喝，请检测一下水质",
        "我今年满六十岁了，城乡居民养老保险什么时候开始领",
        "",
    ]
    keys, valid = band_keys(texts)
    assert valid.tolist() == [True, True, True, True, False]
    labels = group_labels(((keys[:, b], valid) for b in range(BANDS)), len(texts))
    assert labels[0] == labels[1]
    assert len({labels[0], labels[2], labels[3], labels[4]}) == 4


def test_report_finds_zombies_and_reclaimed_load(reference_catalog):
    cat = reference_catalog
    reclaimed = next(e for e in cat.entries if e.is_reclaimed and e.department)
    old = next(e for e in cat.entries if e.list_type.value == "基本履职事项")
    stats = TicketStats()
    stats.rows, stats.by_entry["x"] = 0, 0
    stats.by_entry.update({reclaimed.id: 5, old.id: 2})
    stats.by_list_type.update({"上级部门收回事项": 5, "基本履职事项": 2})
    stats.last_date = {reclaimed.id: "2024-06-30", old.id: "2022-01-15"}
    stats.first_day, stats.last_day, stats.rows = "2022-01-15", "2024-06-30", 7
    r = build_report(
        catalog=cat,
        stats=stats,
        duplicates=DuplicateSummary(0, 0),
        themes=[],
        zombie_months=12,
        columns={"how": ""},
        input_name="in.csv",
        output_name="out.csv",
        fast=False,
    )
    stale = {z["id"]: z for z in r["zombies"]["stale"]}
    assert list(stale) == [old.id] and stale[old.id]["last_date"] == "2022-01-15"
    assert stale[old.id]["months_since"] == 29
    assert len(r["zombies"]["no_tickets"]) == len(cat) - 2
    assert r["zombies"]["no_tickets"][0]["list_type"] == "上级部门收回事项"
    assert r["reclaimed_load"] == [
        {
            "department": reclaimed.department,
            "tickets": 5,
            "entries": [{"id": reclaimed.id, "name": reclaimed.name, "tickets": 5}],
        }
    ]
    assert r["cooperate_reclaimed"]["ticket_share"] == round(5 / 7, 4)
    assert r["cooperate_reclaimed"]["national_entry_share"] == 0.656


def test_result_headers_never_overwrite_input_columns():
    assert result_headers(["编号", "内容"]) == list(RESULT_HEADERS)
    renamed = result_headers(["事项序号", "置信度"])
    assert renamed[0] == "事项序号（匹配）" and renamed[5] == "置信度（匹配）"


# -- whole jobs on the real model ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tickets() -> list[list[str]]:
    rows = generate(90, seed=2024)
    # Make sure every kind of bad row is in this small file, whatever the draw.
    rows[5][7] = ""
    rows[6][7] = "\x00\x01\x02PK\x03\x04 \x7f\x80"
    rows[7][7] = "#$%&*@~^#$%&*@~^"
    rows[8][7] = "诉求" * 1600
    rows[8][6] = ""
    rows[5][6] = ""
    return rows


def test_gbk_csv_every_row_kept_in_order_with_report(tmp_path, tickets, bulk_matcher, settings, reference_catalog):
    src = write_csv(tmp_path / "工单导出.csv", tickets, encoding="gbk")
    assert open_table(src).encoding == "gb18030"
    seen: list[BulkProgress] = []
    result = run_bulk(
        src, tmp_path / "结果.csv", BulkOptions(chunk_rows=25), settings, matcher=bulk_matcher, progress=seen.append
    )
    header, rows = read_output_csv(result.output)
    assert header == HEADERS + list(RESULT_HEADERS)
    assert len(rows) == len(tickets) == result.rows
    # Original columns unchanged and in input order (as GBK holds them: the exporter replaced what it lacks).
    as_exported = [[c.encode("gbk", "replace").decode("gbk") for c in t] for t in tickets]
    assert [r[:RESULT_START] for r in rows] == as_exported
    by_col = [dict(zip(header, r)) for r in rows]
    errors = [r for r in by_col if r["错误"]]
    assert result.errors == len(errors) == 4
    assert {r["工单编号"] for r in errors} == {tickets[i][0] for i in (5, 6, 7, 8)}
    assert all(r["事项序号"] == "" for r in errors)
    for r in by_col:
        if not r["错误"]:
            assert r["事项序号"] == "无" or reference_catalog.get(r["事项序号"]) is not None
            assert 0.0 <= float(r["置信度"]) <= 1.0
            assert r["备选1"] and r["备选1"].split(" ")[0] != r["事项序号"]
    assert result.columns["text"] == "诉求内容" and result.columns["title"] == "诉求标题"
    assert result.columns["date"] == "受理时间"
    # Wage arrears land on labour inspection (配合) in the reference list.
    wages = [r for r in by_col if r["诉求标题"] in ("拖欠工资", "讨薪") and not r["错误"]]
    assert wages and sum(r["事项名称"] == "劳动保障监察配合" for r in wages) >= 0.6 * len(wages)

    assert seen[-1].done == len(tickets) and seen[-1].total == len(tickets) and seen[-1].rate > 0
    report = json.loads(result.report_json.read_text(encoding="utf-8"))
    assert report["rows"] == len(tickets) and report["errors"] == 4
    assert sum(t["tickets"] for t in report["by_list_type"]) == report["in_list"]
    assert report["in_list"] + report["out_of_list"] + report["errors"] == len(tickets)
    assert report["period"]["first"] >= "2023-01-01" and report["period"]["last"] <= "2025-01-31"
    assert sum(o["tickets"] for o in report["by_office"]) == report["in_list"]
    text = result.report.read_text(encoding="utf-8")
    assert "65.6%" in text and "僵尸事项候选" in text and "重复工单" in text
    assert {p.name for p in result.charts} == {
        "结果.chart-office.png",
        "结果.chart-share.png",
        "结果.chart-monthly.png",
    }
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in result.charts)
    assert not checkpoint_dir(result.output).exists()


def test_utf8_csv_other_headers_to_xlsx_with_summary(tmp_path, tickets, bulk_matcher, settings):
    import openpyxl

    headers = ["编号", "来电时间", "留言主题", "工单内容"]
    src = tmp_path / "export.csv"
    with open(src, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(headers)
        for r in tickets[:30]:
            w.writerow([r[0], r[1].replace("-", "/"), r[6], r[7]])
    result = run_bulk(src, tmp_path / "out.xlsx", BulkOptions(chunk_rows=16), settings, matcher=bulk_matcher)
    assert (result.columns["text"], result.columns["title"], result.columns["date"]) == (
        "工单内容",
        "留言主题",
        "来电时间",
    )
    book = openpyxl.load_workbook(result.output)
    assert book.sheetnames == ["结果", "汇总", "图表"]
    sheet = list(book["结果"].iter_rows(values_only=True))
    assert list(sheet[0]) == headers + list(RESULT_HEADERS)
    assert len(sheet) == 31 and [r[0] for r in sheet[1:]] == [r[0] for r in tickets[:30]]
    confidences = [r[len(headers) + 5] for r in sheet[1:] if not r[-1]]
    assert confidences and all(isinstance(c, float) for c in confidences)
    summary = [r[0] for r in book["汇总"].iter_rows(values_only=True)]
    assert "概况" in summary and "各承办机构工单量" in summary
    assert len(book["图表"]._images) == len(result.charts) >= 2


def test_xlsx_input_with_real_dates(tmp_path, tickets, bulk_matcher, settings):
    src = write_xlsx(tmp_path / "export.xlsx", tickets[:24])
    result = run_bulk(
        src, tmp_path / "out.csv", BulkOptions(chunk_rows=10, report_format="html"), settings, matcher=bulk_matcher
    )
    header, rows = read_output_csv(result.output)
    assert len(rows) == 24 and [r[0] for r in rows] == [t[0] for t in tickets[:24]]
    report = json.loads(result.report_json.read_text(encoding="utf-8"))
    assert report["period"]["undated"] == 0 and report["monthly"]
    assert result.report.suffix == ".html" and "<table>" in result.report.read_text(encoding="utf-8")


def test_title_rows_above_the_header_are_not_tickets(tmp_path, tickets, bulk_matcher, settings):
    import openpyxl

    src = tmp_path / "导出.csv"
    with open(src, "w", encoding="gb18030", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["青石镇12345热线工单明细表"])
        w.writerow(["导出时间：2024-07-01 09:00"])
        w.writerow(HEADERS)
        w.writerows(tickets[:12])
    table = open_table(src)
    assert table.header_row == 3 and table.headers == HEADERS
    assert [r.number for r in table][:2] == [4, 5]  # rows keep the numbers a person sees in the file
    result = run_bulk(src, tmp_path / "out.csv", BulkOptions(chunk_rows=5), settings, matcher=bulk_matcher)
    header, rows = read_output_csv(result.output)
    assert header[: len(HEADERS)] == HEADERS and [r[0] for r in rows] == [t[0] for t in tickets[:12]]
    assert any("表头在第 3 行" in n for n in result.notes)

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["青石镇12345热线工单明细表"])
    sheet.merge_cells("A1:I1")
    sheet.append(HEADERS)
    for t in tickets[:3]:
        sheet.append(t)
    book.save(tmp_path / "导出.xlsx")
    table = open_table(tmp_path / "导出.xlsx")
    assert table.header_row == 2 and table.headers == HEADERS and [r.number for r in table] == [3, 4, 5]


def test_excel_97_export_is_read_like_xlsx(tmp_path, tickets, bulk_matcher, settings):
    import datetime as dt

    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("工单")
    sheet.write(0, 0, "12345热线工单明细")
    day = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for c, name in enumerate(HEADERS):
        sheet.write(1, c, name)
    for r, t in enumerate(tickets[:6], start=2):
        for c, value in enumerate(t):
            if c == 1:
                sheet.write(r, c, dt.date.fromisoformat(value[:10]), day)
            else:
                sheet.write(r, c, value)
    src = tmp_path / "导出.xls"
    book.save(str(src))
    result = run_bulk(src, tmp_path / "out.csv", BulkOptions(chunk_rows=4), settings, matcher=bulk_matcher)
    header, rows = read_output_csv(result.output)
    assert [r[0] for r in rows] == [t[0] for t in tickets[:6]]
    assert [r[1] for r in rows] == [t[1][:10] for t in tickets[:6]]  # real dates come back as dates
    assert result.columns["date"] == "受理时间"


def test_bad_row_fixture(tmp_path, bulk_matcher, settings):
    """Undecodable bytes, a field too large for CSV, empty, binary and over-long cells: all kept, none guessed."""
    good = "幸福里小区楼下烧烤店油烟太大，窗户都不敢开".encode()
    lines = [
        "编号,诉求内容,受理时间".encode(),
        b"1," + good + b",2024-01-05",
        b"2," + "路灯坏了".encode() + b"\xff\xfe\xfa,2024-01-06",  # not UTF-8
        b"3,,2024-01-07",
        b'4,"' + b"x" * 140_000 + b'",2024-01-08',  # beyond the csv module's field limit
        b'5,"' + "投诉".encode() * 1600 + b'",2024-01-09',
        b"6,###@@@!!!,2024-01-10",
        b"7," + good + b",2024-01-11",
        '8,"路灯不亮\r\n已经一个多月，晚上出行不安全",2024-01-12'.encode(),  # a line break inside a cell
        "9,小区门口有人摆摊,占用盲道,2024-01-13".encode(),  # an unquoted comma: every later column shifted
        "10,路灯不亮,2024-01-14,,".encode(),  # trailing empty cells are harmless
    ]
    src = tmp_path / "bad.csv"
    src.write_bytes(b"\n".join(lines) + b"\n")
    result = run_bulk(src, tmp_path / "out.csv", BulkOptions(chunk_rows=3), settings, matcher=bulk_matcher)
    header, rows = read_output_csv(result.output)
    assert len(rows) == 10 == result.rows
    err = header.index("错误")
    errors = [r[err] for r in rows]
    assert errors[0] == errors[6] == errors[7] == errors[9] == "" and rows[0][header.index("事项序号")]
    # The shifted row is not classified on its fragment, and what spilled past the header is quoted, not lost.
    assert rows[8][:3] == ["9", "小区门口有人摆摊", "占用盲道"] and not rows[8][header.index("事项序号")]
    assert errors[8].startswith("列数多于表头（本行 4 列，表头 3 列）") and "「2024-01-13」" in errors[8]
    kinds = json.loads(result.report_json.read_text(encoding="utf-8"))["error_kinds"]
    assert kinds["列数多于表头"] == 1  # reported as one kind, whatever the row's widths
    assert rows[7][1] == "路灯不亮\r\n已经一个多月，晚上出行不安全"
    assert "解码" in errors[1]
    assert "为空" in errors[2]
    assert errors[3] and errors[4].startswith("内容过长") and "符号" in errors[5]
    assert result.errors == 6
    # The oversized row keeps its place.
    assert [r[0] for r in rows if r[0]] == ["1", "2", "3", "5", "6", "7", "8", "9", "10"]


def test_column_the_export_left_unnamed_is_kept_not_refused(tmp_path):
    src = tmp_path / "unnamed.csv"
    src.write_text(
        "编号,诉求内容,受理时间\n1,路灯坏了,2024-01-01,张三\n2,垃圾没人清,2024-01-02,李四\n"
        "3,小区门口摆摊,占道,2024-01-03,王五\n",
        encoding="utf-8",
    )
    table = open_table(src)
    assert table.headers == ["编号", "诉求内容", "受理时间", "列4"]
    rows = list(table)
    assert [r.values["列4"] for r in rows[:2]] == ["张三", "李四"] and not rows[0].problem and not rows[1].problem
    assert "「王五」" in rows[2].problem  # one cell more than even the widened header: shifted


def test_fast_cascade_routes_only_unsure_rows(bulk_matcher, static_encoder):
    texts = [
        "在华兴鞋厂打工，老板拖欠我们工人工资三个月不给",
        "楼下KTV每天半夜还在唱歌，噪音很大",
        "想咨询一下有关事项",
        "镇上银行网点只开一个窗口，老人取钱排队两个小时",
    ]
    policy = CascadePolicy(margin_below=0.3)
    cascade = FastCascade(bulk_matcher, policy, static_encoder)
    result = cascade.match(texts, top_k=3)
    first = cascade.first_stage(texts, top_k=3)
    assert result.routed == [policy.unsure(m) for m in first]
    for m, early, routed in zip(result.matches, first, result.routed):
        if not routed:
            assert m == early
    unsure = [t for t, r in zip(texts, result.routed) if r]
    if unsure:
        full = dict(zip(unsure, bulk_matcher.match(unsure, top_k=3, use_dense=True)))
        for t, m, r in zip(texts, result.matches, result.routed):
            if r:
                assert m.best.entry.id == full[t].best.entry.id
    assert FastCascade(bulk_matcher, CascadePolicy(margin_below=10.0), static_encoder).match(texts).routed_count == len(
        texts
    )
    assert FastCascade(bulk_matcher, CascadePolicy(margin_below=-1), static_encoder).match(texts).routed_count == 0
    # The first stage is the full matcher with static query vectors, not the lexical channels alone.
    lexical = bulk_matcher.match(texts, top_k=3, use_dense=False)
    assert [m.best.score for m in first] != [m.best.score for m in lexical]
    assert FastCascade(bulk_matcher, policy).first_stage(texts, top_k=3) == lexical  # without static vectors


def test_interrupted_run_resumes_to_identical_bytes(tmp_path, tickets, bulk_matcher, settings, static_encoder):
    """XLSX here (the subprocess test covers CSV): even the workbook's bytes must match."""
    src = write_csv(tmp_path / "in.csv", tickets[:40], encoding="gbk")
    options = BulkOptions(chunk_rows=8, fast=True)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(ValueError, match="static_source"):  # --fast's vectors come from the caller
        run_bulk(src, tmp_path / "a" / "out.xlsx", options, settings, matcher=bulk_matcher)
    static = {"static_source": lambda matcher: static_encoder}
    whole = run_bulk(src, tmp_path / "a" / "out.xlsx", options, settings, matcher=bulk_matcher, **static)
    out = tmp_path / "b" / "out.xlsx"

    def stop_after_two_chunks(p: BulkProgress) -> None:
        if p.done >= 16:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_bulk(src, out, options, settings, matcher=bulk_matcher, progress=stop_after_two_chunks, **static)
    assert not out.exists(), "no half-written output under the final name"
    journal = checkpoint_dir(out) / "journal.jsonl"
    assert len(journal.read_text().splitlines()) == 2
    with open(journal, "ab") as fh:
        fh.write(b'{"chunk": 2, "first_')  # a crash in the middle of appending a journal line
    with pytest.raises(CheckpointError, match="chunk_rows"):
        run_bulk(src, out, BulkOptions(chunk_rows=5, fast=True), settings, matcher=bulk_matcher, resume=True, **static)
    seen: list[BulkProgress] = []
    result = run_bulk(src, out, options, settings, matcher=bulk_matcher, progress=seen.append, resume=True, **static)
    assert seen[0].done == 16
    assert any("续跑" in n for n in result.notes)
    assert out.read_bytes() == whole.output.read_bytes()
    assert result.report_json.read_bytes() == whole.report_json.read_bytes()
    assert [p.read_bytes() for p in result.charts] == [p.read_bytes() for p in whole.charts]
