"""Imports only go down the layers, and the import-linter contracts in pyproject.toml really catch one that does not.

The contracts run on the real tree, then on a copy of it with one upward import (or a cycle) put back in; each
copy must fail, naming the import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("lvzhi", "api", "training", "inference", "models", "corpus")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(
    not LINT_IMPORTS.exists(), reason="import-linter is not installed (pip install -e .[test])"
)


def lint(root: Path) -> subprocess.CompletedProcess:
    # PYTHONPATH first, so the copy's packages are analysed, not the installed (editable) ones.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=root, env=env, capture_output=True, text=True, timeout=600
    )


def source_copy(dest: Path) -> Path:
    def not_code(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if n == "__pycache__" or (not n.endswith(".py") and not Path(folder, n).is_dir())]

    for package in PACKAGES:
        shutil.copytree(ROOT / package, dest / package, ignore=not_code)
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_real_tree_keeps_every_contract():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


# (file, line added at its end, what the failure must say, the import it must name)
UPWARD = [
    # The import this issue removed: loading a model used to train it.
    (
        "models/embedder.py",
        "from training.adapt import prepare_model",
        "models is not allowed to import training",
        "models.embedder -> training.adapt",
    ),
    # Settings must import nothing of the project.
    (
        "lvzhi/config.py",
        "import corpus.schema",
        "lvzhi.config is not allowed to import corpus",
        "lvzhi.config -> corpus.schema",
    ),
    # The bulk runner reaching into the web service's database.
    (
        "inference/bulk/runner.py",
        "from api.db import SQLITE_FILENAME",
        "inference is not allowed to import api",
        "inference.bulk.runner -> api.db",
    ),
    # A lower layer reaching the command line.
    (
        "training/data.py",
        "import lvzhi.commands.train",
        "training is not allowed to import lvzhi.commands",
        "training.data -> lvzhi.commands.train",
    ),
    # Not upward, but a circle inside one layer: the bulk options importing the runner that imports them.
    ("inference/bulk/options.py", "import inference.bulk.runner", "没有循环引用", "inference.bulk"),
]


@pytest.mark.parametrize("path, line, says, names", UPWARD, ids=[u[0] for u in UPWARD])
def test_contracts_fail_on_an_injected_upward_import(tmp_path, path, line, says, names):
    copy = source_copy(tmp_path / "tree")
    target = copy / path
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # injected by the test\n", encoding="utf-8")
    result = lint(copy)
    assert result.returncode != 0, result.stdout
    assert "1 kept, 1 broken" in result.stdout and says in result.stdout and names in result.stdout, result.stdout
