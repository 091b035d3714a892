"""Merge suggestions on the real model and reference catalog: grouping, naming, output, evaluation, CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from corpus.tables import TableError, open_table
from inference.merge import VERDICTS, RawItem, merge_items, read_items, write_merge
from inference.merge.cluster import average_link
from inference.merge.evaluate import gold_labels, read_gold, score_grouping
from inference.merge.graph import Edges
from lvzhi import cli

LABELLED = Path(__file__).resolve().parent.parent / "corpus" / "data" / "labelled"

FLOOD = ["防汛物资储备", "汛期值班值守", "转移避险演练"]
OTHERS = [
    ("低保名单张榜公示", "南湖乡"),
    ("低保申请家庭入户核查", "石桥镇"),
    ("农村低保年度复核", "东坪镇"),
    ("适龄青年兵役登记", "南湖乡"),
    ("应征青年初检", "东坪镇"),
    ("征兵宣传进村入户", "石桥镇"),
    ("村级河长巡河", "石桥镇"),
    ("河道垃圾打捞保洁", "南湖乡"),
    ("河长公示牌更新", "东坪镇"),
    ("残疾证到期换证办理", "南湖乡"),
    ("残疾人两项补贴资格审核", "石桥镇"),
    ("文书档案年度归档", "东坪镇"),
]
LONER = "文书档案年度归档"


def small_inventory() -> list[RawItem]:
    towns = ["南湖乡", "石桥镇", "东坪镇"]
    items = [RawItem(f"F{i + 1}", t, towns[i], {"备注": f"防汛{i + 1}"}) for i, t in enumerate(FLOOD)]
    items += [RawItem(f"O{i + 1:02d}", t, town, {"备注": ""}) for i, (t, town) in enumerate(OTHERS)]
    return items


@pytest.fixture(scope="module")
def small_result(matcher, static_encoder):
    return merge_items(small_inventory(), matcher, static=static_encoder)


def group_of(result, item_id: str):
    return next(g for g in result.groups if any(m.item.id == item_id for m in g.members))


def test_obviously_related_items_group_together(small_result):
    flood = group_of(small_result, "F1")
    assert {m.item.id for m in flood.members} >= {"F1", "F2", "F3"}
    assert not any(m.item.id.startswith("O") for m in flood.members), [m.item.text for m in flood.members]


def test_unrelated_topics_stay_apart(small_result):
    dibao, conscription, river = (
        group_of(small_result, "O01"),
        group_of(small_result, "O04"),
        group_of(small_result, "O07"),
    )
    assert len({dibao.group_id, conscription.group_id, river.group_id}) == 3
    assert group_of(small_result, "O02").group_id == dibao.group_id
    assert group_of(small_result, "O08").group_id == river.group_id


def test_items_are_embedded_with_static_vectors_unless_asked(small_result, matcher):
    assert small_result.item_vectors == "static" and small_result.to_dict()["item_vectors"] == "static"
    by_transformer = merge_items(small_inventory(), matcher, item_vectors="transformer")
    assert by_transformer.item_vectors == "transformer"
    flood = group_of(by_transformer, "F1")  # the slower path groups the obvious case too
    assert {m.item.id for m in flood.members} >= {"F1", "F2", "F3"}
    with pytest.raises(ValueError, match="item_vectors"):
        merge_items(small_inventory(), matcher, item_vectors="bert")
    with pytest.raises(ValueError, match="static"):  # the caller brings the static vectors; merging never distils
        merge_items(small_inventory(), matcher)


def test_singleton_stays_singleton(small_result):
    loner_id = f"O{[t for t, _ in OTHERS].index(LONER) + 1:02d}"
    loner = group_of(small_result, loner_id)
    assert loner.size == 1
    assert loner.cohesion == 1.0 and loner.members[0].similarity == 1.0


def test_every_item_once_and_group_fields(small_result):
    ids = [m.item.id for g in small_result.groups for m in g.members]
    assert sorted(ids) == sorted(it.id for it in small_inventory())
    for g in small_result.groups:
        assert g.verdict in VERDICTS
        assert 0.0 <= g.cohesion <= 1.0 and 0.0 <= g.nearest_score <= 1.0
        assert all(0.0 <= m.similarity <= 1.0 for m in g.members)
        assert g.proposed_name
    sizes = [g.size for g in small_result.groups]
    assert sizes == sorted(sizes, reverse=True)


def test_proposed_name_is_derived_not_copied(small_result):
    flood = group_of(small_result, "F1")
    assert flood.proposed_name not in {m.item.text for m in flood.members}
    assert "汛" in flood.proposed_name
    assert flood.proposed_name.endswith(("工作", "管理", "服务")) or len(flood.proposed_name) <= 12
    assert flood.nearest_entry is not None and "汛" in flood.nearest_entry.name


def test_cross_township_view(small_result):
    flood = group_of(small_result, "F1")
    assert set(flood.townships) == {"南湖乡", "石桥镇", "东坪镇"}
    assert flood.townships["石桥镇"] == ["汛期值班值守"]


def test_same_input_same_output(matcher, static_encoder, small_result):
    items = read_items(LABELLED / "merge_items.csv")[:60]
    first, second = (
        merge_items(items, matcher, static=static_encoder),
        merge_items(items, matcher, static=static_encoder),
    )
    assert first.labels() == second.labels()
    assert [(g.proposed_name, g.cohesion, g.verdict) for g in first.groups] == [
        (g.proposed_name, g.cohesion, g.verdict) for g in second.groups
    ]
    again = merge_items(small_inventory(), matcher, static=static_encoder)
    assert again.labels() == small_result.labels()


def test_granularity_and_target_groups(matcher, static_encoder):
    items = read_items(LABELLED / "merge_items.csv")[:80]
    coarse = merge_items(items, matcher, granularity=0.0, static=static_encoder)
    fine = merge_items(items, matcher, granularity=1.0, static=static_encoder)
    assert len(coarse.groups) < len(fine.groups) <= len(items)
    target = merge_items(items, matcher, target_groups=30, static=static_encoder)
    assert target.target_groups == 30
    assert len(target.groups) >= 30


def test_xlsx_output_reads_back(small_result, tmp_path):
    out = tmp_path / "合并建议.xlsx"
    write_merge(small_result, out)
    table = open_table(out)
    rows = list(table)
    for col in (
        "组号",
        "建议事项名称",
        "判断",
        "凝聚度",
        "最接近清单事项",
        "编号",
        "内容",
        "乡镇",
        "与本组相似度",
        "备注",
    ):
        assert col in table.headers
    assert len(rows) == len(small_inventory())
    by_id = {r.values["编号"]: r.values for r in rows}
    flood = group_of(small_result, "F1")
    assert by_id["F2"]["组号"] == flood.group_id and by_id["F2"]["建议事项名称"] == flood.proposed_name
    assert by_id["F3"]["备注"] == "防汛3"
    # The member sheet is itself a valid inventory: it reads back as the same items.
    back = read_items(out)
    assert sorted((it.id, it.text, it.township) for it in back) == sorted(
        (it.id, it.text, it.township) for it in small_inventory()
    )
    towns = open_table(out, sheet="跨乡镇对照")
    assert {"南湖乡", "石桥镇", "东坪镇"} <= set(towns.headers)
    assert open_table(out, sheet="分组汇总").headers[:2] == ["组号", "建议事项名称"]


def test_csv_output(small_result, tmp_path):
    out = tmp_path / "merge.csv"
    write_merge(small_result, out)
    assert len(list(open_table(out))) == len(small_inventory())


def test_read_items_columns(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text(
        "编号,内容,乡镇（街道）,来源\nA1,防汛值班,南湖乡,台账\nA2, ,南湖乡,\nA3,征兵登记,石桥镇,\n", encoding="utf-8"
    )
    items = read_items(path)
    assert [(it.id, it.text, it.township) for it in items] == [
        ("A1", "防汛值班", "南湖乡"),
        ("A3", "征兵登记", "石桥镇"),
    ]
    assert items[0].extra == {"来源": "台账"}
    nums = tmp_path / "no_ids.csv"
    nums.write_text("内容\n防汛值班\n征兵登记\n", encoding="gbk")
    assert [it.id for it in read_items(nums)] == ["2", "3"]
    dup = tmp_path / "dup.csv"
    dup.write_text("编号,内容\n1,防汛值班\n1,征兵登记\n", encoding="utf-8")
    with pytest.raises(TableError, match="重复"):
        read_items(dup)
    worded = tmp_path / "worded.csv"
    worded.write_text("序号,原始事项名称,工作任务描述,履职依据\n1,防汛,汛前检查防汛物资,条例\n", encoding="utf-8")
    assert [it.text for it in read_items(worded)] == ["汛前检查防汛物资"]  # content before name, basis ignored
    with pytest.raises(TableError, match="内容"):
        bad = tmp_path / "bad.csv"
        bad.write_text("编号,备注\n1,x\n", encoding="utf-8")
        read_items(bad)


def test_pairwise_scores_known_values():
    s = score_grouping(["a", "a", "b", "b"], ["x", "x", "x", "y"])
    assert (s.pairwise_precision, round(s.pairwise_recall, 4)) == (0.5, 0.3333)
    assert s.groups == 2 and s.gold_groups == 2 and s.n == 4
    perfect = score_grouping(["p", "p", "q"], ["x", "x", "y"])
    assert perfect.pairwise_f1 == 1.0 and perfect.ari == 1.0


def test_gold_file_must_cover_items(tmp_path):
    gold = tmp_path / "gold.csv"
    gold.write_text("编号,组号\nA1,G1\n", encoding="utf-8")
    items = [RawItem("A1", "x"), RawItem("A2", "y")]
    with pytest.raises(TableError, match="A2"):
        gold_labels(items, read_gold(gold))


def test_exact_average_check_stops_chaining():
    # a~b and b~c are strong, a and c unrelated; the graph only holds the two strong pairs.
    sims = np.array([[1.0, 0.9, 0.0], [0.9, 1.0, 0.9], [0.0, 0.9, 1.0]], dtype=np.float32)
    edges = Edges(np.array([0, 1]), np.array([1, 2]), np.array([0.9, 0.9], dtype=np.float32))
    labels = average_link(3, edges, np.ones(3), lambda a, b: sims[np.ix_(a, b)], threshold=0.5)
    assert labels[0] == labels[1] and labels[2] != labels[0]
    assert len(set(average_link(3, edges, np.ones(3), lambda a, b: sims[np.ix_(a, b)], threshold=0.4))) == 1
    # With a target count the same floor still holds.
    assert len(set(average_link(3, edges, np.ones(3), lambda a, b: sims[np.ix_(a, b)], 0.5, target_groups=1))) == 2


def test_eval_merge_cli_json(settings, tmp_path, capsys):
    rows = list(csv.DictReader(open(LABELLED / "merge_items.csv", encoding="utf-8-sig")))[:40]
    gold = {r["编号"]: r["组号"] for r in csv.DictReader(open(LABELLED / "merge_gold.csv", encoding="utf-8-sig"))}
    items_path, gold_path = tmp_path / "items.csv", tmp_path / "gold.csv"
    with open(items_path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["编号", "内容", "乡镇"])
        w.writerows([r["编号"], r["内容"], r["乡镇"]] for r in rows)
    with open(gold_path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["编号", "组号"])
        w.writerows([r["编号"], gold[r["编号"]]] for r in rows)
    code = cli.main(
        ["--home", str(settings.home), "eval-merge", "--items", str(items_path), "--gold", str(gold_path), "--json"]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"n", "groups", "pairwise_precision", "pairwise_recall", "pairwise_f1", "ari"} <= set(report)
    assert report["n"] == 40 and 1 <= report["groups"] <= 40
    assert report["granularity"] == 0.5
    assert 0.0 <= report["pairwise_f1"] <= 1.0


def test_merge_cli_writes_output(settings, tmp_path, capsys):
    src = tmp_path / "inventory.csv"
    with open(src, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["编号", "内容", "乡镇"])
        w.writerows([it.id, it.text, it.township] for it in small_inventory())
    out = tmp_path / "out.xlsx"
    assert cli.main(["--home", str(settings.home), "merge", str(src), "-o", str(out), "--granularity", "0.5"]) == 0
    printed = capsys.readouterr().out
    assert "拟定事项" in printed and out.exists()
    assert cli.main(["--home", str(settings.home), "merge", str(src), "-o", str(out), "--granularity", "2"]) == 1
    assert cli.main(["--home", str(settings.home), "merge", str(src), "-o", str(out), "--transformer", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["item_vectors"] == "transformer"
    with pytest.raises(SystemExit) as refused:  # --fast loads no model to encode with
        cli.main(["--home", str(settings.home), "merge", str(src), "-o", str(out), "--fast", "--transformer"])
    assert refused.value.code == 2 and "--fast" in capsys.readouterr().err
