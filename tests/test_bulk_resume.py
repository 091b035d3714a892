"""A real `lvzhi bulk` process killed with SIGKILL midway, then resumed: the output must be byte-identical to a run
that was never interrupted, and no partial file may ever carry the output's name."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.hotline_tickets import generate, write_csv
from inference.bulk.checkpoint import checkpoint_dir

ROOT = Path(__file__).resolve().parent.parent
ROWS, CHUNK = 120, 10


def lvzhi_command() -> list[str]:
    script = Path(sys.executable).parent / "lvzhi"
    return [str(script)] if script.exists() else [sys.executable, "-m", "lvzhi.cli"]


def bulk(src: Path, out: Path, settings, *extra: str) -> list[str]:
    return [
        *lvzhi_command(),
        "--home",
        str(settings.home),
        "bulk",
        str(src),
        "-o",
        str(out),
        "--chunk-rows",
        str(CHUNK),
        "--fast",
        "--fast-margin",
        "0.3",
        *extra,
    ]  # some rows go on to the transformer


@pytest.fixture
def env() -> dict[str, str]:
    # Same thread count in every run: the vectors, and so the bytes, must not depend on scheduling.
    return {**os.environ, "LVZHI_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def report_without_names(out: Path) -> dict:
    r = json.loads(out.with_name(out.stem + ".report.json").read_text(encoding="utf-8"))
    del r["output"], r["charts"]
    return r


@pytest.mark.slow
def test_sigkill_midway_then_resume_is_byte_identical(tmp_path, settings, env):
    src = write_csv(tmp_path / "热线导出.csv", generate(ROWS, seed=99), encoding="gbk")
    whole = tmp_path / "whole.csv"
    done = subprocess.run(bulk(src, whole, settings), cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "已处理" in done.stderr  # not a terminal: plain progress lines

    out = tmp_path / "resumed.csv"
    journal = checkpoint_dir(out) / "journal.jsonl"
    proc = subprocess.Popen(
        bulk(src, out, settings), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if journal.exists() and len(journal.read_bytes().splitlines()) >= 3:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    chunks_done = len(journal.read_bytes().splitlines())
    assert 3 <= chunks_done < ROWS // CHUNK
    assert not out.exists(), "a killed run leaves no file under the output's name"
    assert not out.with_name("resumed.report.md").exists()

    resumed = subprocess.run(
        bulk(src, out, settings, "--resume"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "从检查点续跑" in resumed.stderr
    assert out.read_bytes() == whole.read_bytes()
    assert report_without_names(out) == report_without_names(whole)
    assert not checkpoint_dir(out).exists()
