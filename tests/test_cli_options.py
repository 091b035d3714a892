"""Global options (--home, --model, --catalog, --threads, --precision) mean the same before and after the command."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bench.hotline_tickets import generate, write_csv
from corpus.importer import import_catalog
from inference.bulk.output import OUT_OF_LIST_ID
from lvzhi.cli import _subcommand_parsers, build_parser, main

DATA = Path(__file__).resolve().parent.parent / "corpus" / "data"
OTHER = DATA / "other_township"

GLOBAL_OPTIONS = {
    "--home": "/tmp/某个目录",
    "--model": "some/model",
    "--catalog": "清单.xlsx",
    "--threads": "3",
    "--precision": "float32",
}
DESTS = {
    "--home": "home",
    "--model": "model",
    "--catalog": "catalog",
    "--threads": "threads",
    "--precision": "precision",
}

# The smallest valid command line of every command, sub-commands included.
COMMAND_LINES = {
    "classify": ["classify", "路灯坏了"],
    "eval": ["eval", "--items", "i.csv", "--gold", "g.csv"],
    "catalog": ["catalog"],
    "catalog import": ["catalog", "import", "f.csv"],
    "catalog list": ["catalog", "list"],
    "catalog show": ["catalog", "show"],
    "catalog diff": ["catalog", "diff", "a", "b"],
    "serve": ["serve"],
    "user": ["user"],
    "user add": ["user", "add", "张三", "--role", "admin"],
    "user list": ["user", "list"],
    "user passwd": ["user", "passwd", "张三"],
    "merge": ["merge", "items.csv", "-o", "out.xlsx"],
    "eval-merge": ["eval-merge", "--items", "i.csv", "--gold", "g.csv"],
    "bulk": ["bulk", "in.csv", "-o", "out.csv"],
    "train": ["train"],
    "model": ["model"],
    "model list": ["model", "list"],
    "model use": ["model", "use", "v1"],
    "model rollback": ["model", "rollback"],
}


def test_every_command_takes_every_global_option_before_or_after_it():
    parser = build_parser()
    # A new command (or sub-command) must be listed above, so it is checked too.
    assert {p.prog.removeprefix("lvzhi ") for p in _subcommand_parsers(parser)} == set(COMMAND_LINES)
    given = [x for option, value in GLOBAL_OPTIONS.items() for x in (option, value)]
    for name, line in COMMAND_LINES.items():
        before, after = parser.parse_args(given + line), parser.parse_args(line + given)
        for option, dest in DESTS.items():
            assert getattr(before, dest) == getattr(after, dest), (name, option)
            assert str(getattr(after, dest)) == GLOBAL_OPTIONS[option], (name, option)
        assert vars(before) == vars(after), name
    # Given on both sides, the one after the command wins (as any repeated option does); not given, it stays None.
    assert (
        parser.parse_args(["--catalog", "甲", "eval", "--items", "i", "--gold", "g", "--catalog", "乙"]).catalog == "乙"
    )
    assert parser.parse_args(["--catalog", "甲", "eval", "--items", "i", "--gold", "g"]).catalog == "甲"
    assert parser.parse_args(["eval", "--items", "i", "--gold", "g"]).catalog is None


def run(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return code, captured.out


@pytest.fixture(scope="module")
def other_catalog():
    return import_catalog([OTHER / "catalog.csv"])


@pytest.fixture(scope="module")
def other_ids(other_catalog) -> set[str]:
    return {e.id for e in other_catalog.entries}


def test_classify_with_options_after_the_command(settings, capsys, other_ids):
    text = "网友留言：小区周边蚊子、蟑螂、老鼠特别多，能不能组织统一消杀一次？"
    options = [
        "--home",
        str(settings.home),
        "--catalog",
        str(OTHER / "catalog.csv"),
        "--precision",
        "float32",
        "--threads",
        "2",
    ]
    _, before = run([*options, "classify", "--json", text], capsys)
    _, after = run(["classify", "--json", text, *options], capsys)
    assert before == after
    assert json.loads(after)["best"]["id"] in other_ids  # the list given after the command answered


def test_eval_with_options_after_the_command(settings, tmp_path, capsys, other_catalog):
    items, gold = tmp_path / "事项.csv", tmp_path / "答案.csv"
    items.write_text(
        "".join((OTHER / "items.csv").read_text(encoding="utf-8-sig").splitlines(True)[:13]), encoding="utf-8"
    )
    gold.write_text(
        "".join((OTHER / "gold.csv").read_text(encoding="utf-8-sig").splitlines(True)[:13]), encoding="utf-8"
    )
    options = ["--catalog", str(OTHER / "catalog.csv"), "--home", str(settings.home)]
    command = ["eval", "--items", str(items), "--gold", str(gold)]
    _, before = run([*options, *command], capsys)
    _, after = run([*command, *options], capsys)
    assert before == after
    assert f"版本 {other_catalog.version}" in after.splitlines()[0] and "样本数：12" in after


def test_bulk_with_options_after_the_command(settings, tmp_path, capsys, other_ids):
    src = write_csv(tmp_path / "工单.csv", generate(12, seed=3), encoding="gbk")
    options = ["--home", str(settings.home), "--catalog", str(OTHER / "catalog.csv"), "--threads", "2"]
    run([*options, "bulk", str(src), "-o", str(tmp_path / "前.csv")], capsys)
    run(["bulk", str(src), "-o", str(tmp_path / "后.csv"), *options], capsys)

    def answers(path: Path) -> list[tuple[str, str]]:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return [(r["工单编号"], r["事项序号"]) for r in csv.DictReader(fh)]

    before, after = answers(tmp_path / "前.csv"), answers(tmp_path / "后.csv")
    assert before == after and len(after) == 12
    # Every answer is an entry of the list given after the command, or 无 (清单之外: the generator's 快递问题 ticket).
    assert {entry for _, entry in after if entry} <= other_ids | {OUT_OF_LIST_ID}
