"""The model registry's versions, promotion rule and current pointer (no model weights needed here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lvzhi.config import DEFAULT_MODEL
from models.registry import (
    ModelRecord,
    ModelRegistry,
    PromotionVerdict,
    RegistryError,
    ValidationScores,
    decide_promotion,
    now_iso,
)


def scores(top1: float, mrr: float, n: int = 20) -> ValidationScores:
    return ValidationScores(top1=top1, top5=min(1.0, top1 + 0.2), mrr=mrr, n=n)


def test_equal_or_better_is_promoted_worse_is_refused():
    assert decide_promotion(scores(0.8, 0.85), scores(0.8, 0.85)).promote  # a tie keeps the newer data
    assert decide_promotion(scores(0.85, 0.9), scores(0.8, 0.85)).promote
    refused = decide_promotion(scores(0.75, 0.9), scores(0.8, 0.85))
    assert not refused.promote
    assert "Top-1 0.800 → 0.750" in refused.reason and "--force" in refused.reason
    assert not decide_promotion(scores(0.8, 0.84), scores(0.8, 0.85)).promote
    forced = decide_promotion(scores(0.5, 0.6), scores(0.8, 0.85), force=True)
    assert forced.promote and "--force" in forced.reason


def stage(registry: ModelRegistry, marker: str) -> Path:
    folder = registry.staging_dir()
    (folder / "model.safetensors").write_text(marker)
    return folder


def record(base: str = DEFAULT_MODEL) -> ModelRecord:
    return ModelRecord(
        version="", base_model=base, parent="", created_at=now_iso(), data_hash="abc", weights_sha256="0" * 64
    )


def test_versions_are_numbered_and_pointer_moves_and_rolls_back(tmp_path):
    registry = ModelRegistry.for_models_dir(tmp_path)
    assert registry.records() == [] and registry.current() is None
    v1 = registry.promote(registry.add(stage(registry, "one"), record()), PromotionVerdict(True, "好"))
    v2 = registry.promote(registry.add(stage(registry, "two"), record()), PromotionVerdict(True, "好"))
    assert (v1.version, v2.version) == ("v1", "v2")
    assert (registry.model_dir("v2") / "model.safetensors").read_text() == "two"
    assert registry.current().version == "v2" and registry.current().status == "promoted"
    assert [r.version for r in registry.records()] == ["v1", "v2"]

    assert registry.rollback().version == "v1"
    assert registry.rollback() is None  # back to the base model
    with pytest.raises(RegistryError, match="没有可回滚"):
        registry.rollback()

    registry.use("2")  # a bare number means v2
    registry.use("base")
    assert registry.current() is None
    assert registry.rollback().version == "v2"


def test_refused_model_is_recorded_but_not_current_and_its_weights_can_go(tmp_path):
    registry = ModelRegistry.for_models_dir(tmp_path)
    registry.promote(registry.add(stage(registry, "one"), record()), PromotionVerdict(True, "好"))
    bad = registry.promote(registry.add(stage(registry, "two"), record()), PromotionVerdict(False, "变差"))
    assert bad.status == "refused" and bad.verdict == "变差"
    assert registry.current().version == "v1"
    with pytest.raises(RegistryError, match="正在使用"):
        registry.discard_weights("v1")
    registry.discard_weights(bad.version)
    assert not registry.model_dir(bad.version).exists()
    assert not registry.get(bad.version).weights_kept
    with pytest.raises(RegistryError, match="权重已删除"):
        registry.use(bad.version)
    with pytest.raises(RegistryError, match="找不到模型版本「v9」"):
        registry.get("v9")


def test_current_model_only_stands_in_for_its_own_base(tmp_path):
    registry = ModelRegistry.for_models_dir(tmp_path)
    registry.promote(
        registry.add(stage(registry, "x"), record(base="BAAI/bge-small-zh-v1.5")), PromotionVerdict(True, "")
    )
    assert registry.current_for(DEFAULT_MODEL) is None
    assert registry.current_for("BAAI/bge-small-zh-v1.5").version == "v1"


def test_missing_weights_of_current_model_is_reported_not_ignored(tmp_path):
    registry = ModelRegistry.for_models_dir(tmp_path)
    registry.promote(registry.add(stage(registry, "x"), record()), PromotionVerdict(True, ""))
    (registry.model_dir("v1") / "model.safetensors").unlink()
    registry.model_dir("v1").rmdir()
    with pytest.raises(RegistryError, match="权重文件缺失"):
        registry.current_for(DEFAULT_MODEL)
