"""The `lvzhi` command as users run it: classify, eval, catalog import/list/show, --model."""

import json
import os
import subprocess
import sys
from pathlib import Path

from lvzhi.cli import main

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "corpus" / "data"


def run_cli(settings, *args, stdin=None):
    env = {**os.environ, "LVZHI_HOME": str(settings.home), "LVZHI_THREADS": "2"}
    return subprocess.run(
        [sys.executable, "-m", "lvzhi.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )


def test_classify_prints_readable_chinese_and_json(settings):
    out = run_cli(settings, "classify", "市民反映幸福里小区门口每晚有人摆摊卖烧烤，占用人行道")
    assert out.returncode == 0, out.stderr
    # Both of the list's street-vending entries are right answers: the township's own 劝导规范流动摊点 (JB117,
    # 基本) and its part in the county's 占道经营 enforcement (PH075, 配合).
    best = out.stdout.split("最佳匹配：", 1)[1].splitlines()
    assert best[0].startswith(("[JB117] 集镇市容秩序管理", "[PH075] 占道经营等违法行为查处配合")), out.stdout
    assert best[1].strip().startswith("清单类型：") and "承办机构" in out.stdout
    js = run_cli(
        settings, "classify", "--json", stdin="我家老房子要办不动产登记证，镇里说不归他们办了\n\n有人在河边电鱼\n"
    )
    assert js.returncode == 0, js.stderr
    rows = [json.loads(line) for line in js.stdout.splitlines()]
    assert len(rows) == 2
    assert rows[0]["best"]["id"] == "SH017" and rows[0]["flags"]["reclaimed"]
    assert set(rows[0]) >= {"confidence", "margin", "why", "flags", "candidates", "warnings"}


def test_eval_json_keys_breakdown_and_output(settings, tmp_path, capsys):
    out = tmp_path / "逐条结果.csv"
    code = main(
        [
            "--home",
            str(settings.home),
            "--catalog",
            str(DATA / "other_township" / "catalog.csv"),
            "eval",
            "--items",
            str(DATA / "other_township" / "items.csv"),
            "--gold",
            str(DATA / "other_township" / "gold.csv"),
            "--by",
            "难度",
            "-o",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in (
        "n",
        "top1",
        "top3",
        "top5",
        "mrr",
        "out_of_list_precision",
        "out_of_list_recall",
        "reclaimed_precision",
        "reclaimed_recall",
    ):
        assert key in report
    assert report["n"] == 165 and 0 < report["top1"] <= report["top3"] <= report["top5"] <= 1
    assert set(report["by"]) == {"易", "中", "难"}
    text = out.read_text(encoding="utf-8-sig")
    assert text.count("\n") == 166 and "预测事项序号" in text


def test_eval_gold_by_name_or_loose_id_and_unknown_gold_refused(settings, tmp_path, capsys):
    from corpus.catalogs import load_reference_catalog
    from inference.evaluate import load_labelled

    items = tmp_path / "事项.csv"
    items.write_text("编号,内容\n1,路灯坏了\n2,有人在河边电鱼\n3,问一下天气\n", encoding="utf-8")
    gold = tmp_path / "答案.csv"
    gold.write_text("编号,标准事项序号\n1,集镇基础设施管护\n2,jb034\n3,无\n", encoding="utf-8")
    labelled = load_labelled(items, gold, load_reference_catalog())
    assert [x.gold for x in labelled] == ["JB119", "JB034", ""]
    gold.write_text("编号,标准事项序号\n1,集镇基础设施管护\n2,路灯维修\n3,无\n", encoding="utf-8")
    code = main(["--home", str(settings.home), "eval", "--items", str(items), "--gold", str(gold)])
    err = capsys.readouterr().err
    assert code == 1 and "答案.csv" in err and "第 3 行「路灯维修」" in err and "标准事项序号" in err


def test_catalog_import_list_show_and_bad_input(settings, tmp_path, capsys):
    home = ["--home", str(tmp_path)]
    assert main([*home, "catalog", "import", str(DATA / "other_township" / "catalog.csv"), "--name", "柳河街道"]) == 0
    printed = capsys.readouterr().out
    assert "已导入「柳河街道」" in printed and "版本" in printed
    assert main([*home, "catalog", "list"]) == 0
    listing = capsys.readouterr().out
    version = listing.split()[0]
    assert "柳河街道" in listing
    assert main([*home, "catalog", "show", version[:6]]) == 0
    assert "流动摊贩占道经营劝导" in capsys.readouterr().out
    bad = tmp_path / "坏清单.csv"
    bad.write_text("序号,清单类型,事项名称\n1,基本,防汛工作\n2,不存在的类型,消防工作\n3,基本,\n", encoding="utf-8")
    assert main([*home, "catalog", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "坏清单.csv" in err and "第 3 行" in err and "清单类型" in err and "第 4 行" in err
    assert main([*home, "catalog", "list"]) == 0
    assert capsys.readouterr().out.count("\n") == 1  # nothing half-imported


def test_any_sentence_transformers_model_by_path(settings, tmp_path):
    """--model takes a plain sentence-transformers folder; here the rebuilt e5 folder used as an outside model."""
    from models.e5_rebuild import ensure_default_model

    folder = ensure_default_model(settings.models_dir)
    out = run_cli(
        settings,
        "--model",
        str(folder),
        "--home",
        str(tmp_path),
        "classify",
        "--json",
        "村里的低保评议会什么时候开，我家申请了还没消息",
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["best"]["name"]
