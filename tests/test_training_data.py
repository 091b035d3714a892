"""Catalog revisions (renamed, merged, split, removed, added) and training data carried across them; review files."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from corpus.diff import ChangeKind, diff_catalogs
from corpus.schema import Catalog, DutyEntry, ListType
from corpus.store import CatalogStore
from corpus.tables import TableError, write_table
from lvzhi.cli import main
from training.data import LabelledText, RejectedText, align_to_catalog, read_pairs_file, split_validation
from training.pairs import catalog_pairs, labelled_pairs, with_hard_negatives
from training.reviews import ACCEPT, CORRECT, REJECT, read_review_file

OLD = Catalog(
    name="青石镇清单（2023）",
    entries=(
        DutyEntry("1", "社区党组织建设", description="指导社区党组织按期换届，开展星级评定。"),
        DutyEntry("2", "农村危房改造", description="组织农村危房鉴定和改造补助申报。"),
        DutyEntry("3", "农房抗震改造", description="推进农房抗震加固改造。"),
        DutyEntry("4", "城乡环境卫生与垃圾分类", description="开展城乡环境卫生整治，推进生活垃圾分类投放。"),
        DutyEntry("5", "殡葬改革", description="推进殡葬改革，治理乱埋乱葬。"),
        DutyEntry("6", "违法建设治理", description="巡查制止违法建设。"),
        DutyEntry(
            "7", "食品安全协管", ListType.COOPERATE, description="协助开展食品安全检查。", department="县市场监督管理局"
        ),
    ),
)
# The 2024 list: renumbered, two entries merged, one split, one renamed, one reworded, one dropped, one new.
NEW = Catalog(
    name="青石镇清单（2024）",
    entries=(
        DutyEntry("1", "社区党组织建设", description="指导社区党组织按期换届，开展星级评定。"),
        DutyEntry("2", "农村危房和农房抗震改造", description="组织农村危房鉴定、改造补助申报和农房抗震加固改造。"),
        DutyEntry("3", "城乡环境卫生整治", description="开展城乡环境卫生整治。"),
        DutyEntry("4", "生活垃圾分类", description="推进生活垃圾分类投放。"),
        DutyEntry("5", "违法建设巡查治理", description="巡查制止违法建设。"),
        DutyEntry(
            "6",
            "食品安全协管",
            ListType.COOPERATE,
            description="协助开展食品安全检查和宣传。",
            department="县市场监督管理局",
        ),
        DutyEntry("7", "独居老人关爱", description="定期走访独居老人。"),
    ),
)


def change_of(diff, old_id=None, new_id=None):
    for c in diff.changes:
        if (old_id is None or old_id in c.old_ids) and (new_id is None or new_id in c.new_ids):
            return c
    raise AssertionError(f"no change for {old_id} / {new_id}")


def test_revision_kinds_are_recognised():
    diff = diff_catalogs(OLD, NEW)
    assert change_of(diff, "1").kind is ChangeKind.UNCHANGED
    merged = change_of(diff, "2")
    assert merged.kind is ChangeKind.MERGED and merged.old_ids == ("2", "3") and merged.new_ids == ("2",)
    split = change_of(diff, "4")
    assert split.kind is ChangeKind.SPLIT and set(split.new_ids) == {"3", "4"}
    assert change_of(diff, "5").kind is ChangeKind.REMOVED
    renamed = change_of(diff, "6")
    assert renamed.kind is ChangeKind.RENAMED and renamed.new_ids == ("5",)
    modified = change_of(diff, "7")
    assert modified.kind is ChangeKind.MODIFIED and modified.new_ids == ("6",)
    assert "description" in modified.changed_fields and "id" in modified.changed_fields
    assert change_of(diff, new_id="7").kind is ChangeKind.ADDED
    assert sum(diff.counts().values()) == len(diff.changes) == 7


def test_renumbered_list_is_unchanged_not_removed_and_added():
    shifted = Catalog(
        name="插入一行后",
        entries=(
            DutyEntry("0", "防汛排涝", description="汛期巡查。"),
            *(
                DutyEntry(str(int(e.id) + 1), e.name, e.list_type, e.category, e.description, department=e.department)
                for e in OLD.entries
            ),
        ),
    )
    diff = diff_catalogs(OLD, shifted)
    assert diff.counts()["未变"] == len(OLD) and diff.counts()["新增"] == 1 and diff.counts()["删除"] == 0
    assert diff.id_map()["6"] == ("7",)
    assert change_of(diff, "6").changed_fields == ("id",)


def test_confirmed_texts_follow_their_entries_and_split_ones_go_to_the_closer_part():
    diff = diff_catalogs(OLD, NEW)
    carried = diff.carry_over(
        {
            "4": ["小区垃圾桶没有分类，厨余垃圾乱扔", "街道环境卫生脏乱差没人整治"],
            "3": ["老房子抗震加固"],
            "5": ["有人在山上乱埋乱葬"],
            "6": ["邻居违建"],
        }
    )
    assert carried.examples["4"] == ["小区垃圾桶没有分类，厨余垃圾乱扔"]
    assert carried.examples["3"] == ["街道环境卫生脏乱差没人整治"]
    assert carried.examples["2"] == ["老房子抗震加固"]
    assert carried.examples["5"] == ["邻居违建"]
    assert carried.dropped == {"5": ["有人在山上乱埋乱葬"]}


def test_labels_made_on_an_older_list_are_carried_and_removed_ones_reported(tmp_path):
    store = CatalogStore(tmp_path / "catalogs")
    old = store.save(OLD)
    labelled = [
        LabelledText("邻居违建", "6", "审核", old.version),
        LabelledText("有人在山上乱埋乱葬", "5", "审核", old.version),
        LabelledText("独居老人没人管", "7", "标注文件"),
        LabelledText("查无此项", "99", "标注文件"),
        LabelledText("某条", "1", "审核", "0123456789ab"),
    ]
    rejected = [RejectedText("邻居违建", "7", old.version)]
    aligned = align_to_catalog(labelled, rejected, NEW, store)
    assert [(x.text, x.entry_id) for x in aligned.labelled] == [("邻居违建", "5"), ("独居老人没人管", "7")]
    assert [(r.text, r.entry_id) for r in aligned.rejected] == [("邻居违建", "6")]  # old 7 = new 6
    assert aligned.carried == 2
    report = "\n".join(aligned.problems)
    assert "已删除" in report and "99" in report and "0123456789ab" in report


def test_pairs_written_with_entry_names_find_their_entries(tmp_path):
    store = CatalogStore(tmp_path / "catalogs")
    labelled = [
        LabelledText("村里垃圾桶不够", "生活垃圾分类", "标注文件"),
        LabelledText("老人一个人住没人看", " 独居老人关爱 ", "标注文件"),
        LabelledText("不存在", "防汛防台", "标注文件"),
    ]
    aligned = align_to_catalog(labelled, [], NEW, store)
    assert [(x.text, x.entry_id) for x in aligned.labelled] == [("村里垃圾桶不够", "4"), ("老人一个人住没人看", "7")]
    assert "防汛防台" in "\n".join(aligned.problems)


def test_catalog_diff_command(tmp_path):
    for name, catalog in (("old.csv", OLD), ("new.csv", NEW)):
        write_table(
            tmp_path / name,
            [
                {
                    "编号": e.id,
                    "事项类型": e.list_type.short,
                    "事项名称": e.name,
                    "事项内容": e.description,
                    "主责部门": e.department,
                }
                for e in catalog.entries
            ],
        )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert (
            main(
                [
                    "--home",
                    str(tmp_path / "home"),
                    "catalog",
                    "diff",
                    str(tmp_path / "old.csv"),
                    str(tmp_path / "new.csv"),
                ]
            )
            == 0
        )
    text = out.getvalue()
    assert "合并：[2] 农村危房改造、[3] 农房抗震改造 → [2] 农村危房和农房抗震改造" in text
    assert "删除：[5] 殡葬改革" in text and "新增：[7] 独居老人关爱" in text
    assert "社区党组织建设" not in text  # unchanged entries only with --all
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(
            [
                "--home",
                str(tmp_path / "home"),
                "catalog",
                "diff",
                str(tmp_path / "old.csv"),
                str(tmp_path / "new.csv"),
                "--json",
            ]
        )
    assert json.loads(out.getvalue())["counts"]["拆分"] == 1


def test_review_file_decisions(tmp_path):
    path = tmp_path / "reviews.xlsx"
    write_table(
        path,
        [
            {"内容": "路灯不亮", "决定": "接受", "建议事项序号": "3", "最终事项序号": "3", "清单版本": "abc"},
            {"内容": "井盖丢了", "决定": "更正", "建议事项序号": "3", "最终事项序号": "4"},
            {"内容": "手机没信号", "决定": "驳回", "建议事项序号": "5", "最终事项序号": "无"},
            {"内容": "", "决定": "接受", "建议事项序号": "1", "最终事项序号": "1"},
        ],
    )
    decisions = read_review_file(path)
    assert [d.decision for d in decisions] == [ACCEPT, CORRECT, REJECT]
    assert [(d.positive_id, d.negative_id) for d in decisions] == [("3", ""), ("4", "3"), ("", "5")]
    assert decisions[0].catalog_version == "abc"
    write_table(path, [{"内容": "路灯不亮", "决定": "待定"}])
    with pytest.raises(TableError, match="第 2 行.*待定"):
        read_review_file(path)
    write_table(tmp_path / "bad.csv", [{"文本": "x"}])
    with pytest.raises(TableError, match="缺少列"):
        read_review_file(tmp_path / "bad.csv")


def test_pairs_file_and_validation_split_are_stable(tmp_path):
    write_table(
        tmp_path / "pairs.csv",
        [{"内容": f"第{i}条工单", "标准事项序号": str(i % 3 + 1)} for i in range(40)]
        + [{"内容": "清单之外的事", "标准事项序号": "无"}],
    )
    items = read_pairs_file(tmp_path / "pairs.csv")
    assert len(items) == 40
    train, validation = split_validation(items, 0.25, seed=7)
    assert 4 <= len(validation) <= 18 and len(train) + len(validation) == 40
    # Growing the data never moves an item that was held out into training.
    more = items + [LabelledText(f"新增工单{i}", "1", "x") for i in range(20)]
    _, validation_more = split_validation(more, 0.25, seed=7)
    assert {x.text for x in validation} <= {x.text for x in validation_more}


def test_hard_negatives_prefer_what_a_reviewer_rejected():
    pairs = catalog_pairs(NEW)
    assert any(p.anchor == "定期走访独居老人。" and p.positive == "独居老人关爱" for p in pairs)
    labelled = [LabelledText("老房子抗震加固", "2", "审核")]
    confusable = {"2": ["3", "4"]}
    plain = with_hard_negatives(labelled_pairs(labelled, NEW), NEW, confusable)
    assert plain[0].negative == NEW.get("3").text
    rejected = with_hard_negatives(
        labelled_pairs(labelled, NEW), NEW, confusable, [RejectedText("老房子抗震加固", "5")]
    )
    assert rejected[0].negative == NEW.get("5").text
