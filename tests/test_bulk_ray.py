"""The Ray engine really starts Ray (2 CPUs, no dashboard) and must give the rows and answers the local engine gives."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bench.hotline_tickets import generate, write_csv
from inference.bulk import BulkOptions, run_bulk
from inference.fast import CascadePolicy
from training.distill import ensure_static_encoder

ANSWER_COLUMNS = ("事项序号", "事项名称", "清单类型", "承办机构", "主责部门", "标记", "备选1", "备选2", "错误")


def read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def local_matcher(settings, embedder, reference_catalog):
    from inference.matcher import Matcher

    return Matcher(catalog=reference_catalog, embedder=embedder, settings=settings)


@pytest.mark.slow
def test_ray_engine_matches_local_engine(tmp_path, settings, local_matcher):
    ray = pytest.importorskip("ray")
    rows = generate(48, seed=5)
    rows[3][6] = rows[3][7] = ""  # an error row must travel through Ray too
    src = write_csv(tmp_path / "in.csv", rows, encoding="gbk")
    local = run_bulk(src, tmp_path / "local.csv", BulkOptions(chunk_rows=8), settings, matcher=local_matcher)
    on_ray = run_bulk(src, tmp_path / "ray.csv", BulkOptions(chunk_rows=8, engine="ray"), settings)
    assert not ray.is_initialized(), "the Ray the command started is shut down again"
    a, b = read(local.output), read(on_ray.output)
    assert len(a) == len(b) == 48
    assert [r["工单编号"] for r in b] == [r[0] for r in rows]
    for x, y in zip(a, b):
        assert {k: x[k] for k in ANSWER_COLUMNS} == {k: y[k] for k in ANSWER_COLUMNS}
        if x["置信度"]:
            # Ray actors run torch on one thread each; summation order may move the last digits.
            assert abs(float(x["置信度"]) - float(y["置信度"])) <= 0.002
    assert (local.rows, local.errors) == (on_ray.rows, on_ray.errors) == (48, 1)


@pytest.mark.slow
def test_ray_engine_fast_mode_matches_local_engine(tmp_path, settings, local_matcher):
    """Ray actors load --fast's static vectors themselves and must route and answer exactly as one process does."""
    pytest.importorskip("ray")
    rows = generate(24, seed=9)
    src = write_csv(tmp_path / "in.csv", rows, encoding="gbk")
    routing = CascadePolicy(margin_below=0.3)  # the default routes nothing; this sends some rows on
    local = run_bulk(
        src,
        tmp_path / "local.csv",
        BulkOptions(chunk_rows=8, fast=True, fast_policy=routing),
        settings,
        matcher=local_matcher,
        static_source=ensure_static_encoder,
    )
    on_ray = run_bulk(
        src,
        tmp_path / "ray.csv",
        BulkOptions(chunk_rows=8, fast=True, fast_policy=routing, engine="ray"),
        settings,
        static_source=ensure_static_encoder,
    )
    a, b = read(local.output), read(on_ray.output)
    assert len(a) == len(b) == 24
    assert [{k: x[k] for k in ANSWER_COLUMNS} for x in a] == [{k: y[k] for k in ANSWER_COLUMNS} for y in b]
