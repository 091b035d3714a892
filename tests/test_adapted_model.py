"""The default model is the rebuilt e5 with the shipped ticket-trained adapter merged in, once, at first use."""

import json
import shutil

import numpy as np
import pytest

from lvzhi.config import BASE_MODEL, DEFAULT_MODEL
from models.adapted import (
    ADAPT_MANIFEST_NAME,
    ADAPTER_WEIGHTS_NAME,
    SHIPPED_ADAPTER_DIR,
    AdaptedModelMissing,
    verified_shipped_adapter,
)
from models.e5_rebuild import WEIGHTS_NAME, ensure_default_model, read_manifest
from models.embedder import load_embedder
from training.adapt import MERGED_RECIPE_BASE, _is_current, ensure_adapted_model, prepare_model
from training.ship import RECIPE, shipping_pairs

# Colloquial sayings and the list wording they mean (all in the bundled lexicon).
SAYINGS = [
    ("摆摊", "占道经营"),
    ("五保户", "特困人员救助供养"),
    ("老板拖欠工资", "根治拖欠农民工工资"),
    ("邻居家狗乱叫", "养犬管理"),
    ("河里有人电鱼", "禁渔期管理"),
]


@pytest.fixture(scope="module")
def adapted(settings):
    return ensure_adapted_model(settings.models_dir)


@pytest.fixture(scope="module")
def base(settings):
    return load_embedder(settings.with_overrides(model=BASE_MODEL))


def test_default_model_is_the_adapted_folder(settings, embedder, adapted):
    folder, checksum = adapted
    assert embedder.name == DEFAULT_MODEL
    assert embedder.identity == f"{DEFAULT_MODEL}@{checksum[:12]}"
    assert (embedder.query_prefix, embedder.passage_prefix) == ("query: ", "passage: ")
    manifest = json.loads((folder / ADAPT_MANIFEST_NAME).read_text(encoding="utf-8"))
    base_manifest = read_manifest(ensure_default_model(settings.models_dir))
    assert manifest["base_weights_sha256"] == base_manifest.weights_sha256
    assert manifest["weights_sha256"] != base_manifest.weights_sha256
    shipped = verified_shipped_adapter()
    assert manifest["data_hash"] == shipped.data_hash
    assert manifest["recipe"] == MERGED_RECIPE_BASE + shipped.recipe
    assert manifest["steps"] == shipped.steps > 0


def test_shipped_adapter_is_small_and_current_with_the_repository_data(settings):
    """What ships was trained on exactly today's corpus, lexicon and list, with today's recipe, on today's base;
    changing any of them without `python -m training.ship` fails here."""
    shipped = verified_shipped_adapter()
    assert shipped is not None, "models/shipped/ticket-lora 缺失：运行 python -m training.ship"
    pairs, digest = shipping_pairs()
    assert shipped.data_hash == digest
    assert shipped.recipe == RECIPE.version and shipped.seed == RECIPE.seed
    assert shipped.base_weights_sha256 == read_manifest(ensure_default_model(settings.models_dir)).weights_sha256
    assert shipped.pairs == len(pairs)
    size = sum(f.stat().st_size for f in SHIPPED_ADAPTER_DIR.rglob("*") if f.is_file())
    assert size < 40 * 2**20


def test_adapter_trains_on_the_corpus_and_never_on_evaluation_sets():
    pairs, _ = shipping_pairs()
    assert {p.source for p in pairs} == {"清单", "词表", "语料"}
    assert sum(p.source == "语料" for p in pairs) > 6000  # the ticket corpus is really in
    assert sum(p.source == "词表" for p in pairs) > 500  # and the lexicon


def test_damaged_shipped_adapter_is_refused_in_chinese(tmp_path):
    copy = tmp_path / "ticket-lora"
    shutil.copytree(SHIPPED_ADAPTER_DIR, copy)
    assert verified_shipped_adapter(copy) == verified_shipped_adapter()
    with open(copy / ADAPTER_WEIGHTS_NAME, "r+b") as fh:
        fh.seek(-8, 2)
        byte = fh.read(1)
        fh.seek(-8, 2)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(AdaptedModelMissing, match="工单适配权重.*校验和不符"):
        verified_shipped_adapter(copy)
    assert verified_shipped_adapter(tmp_path / "none") is None


def test_adapted_model_brings_sayings_closer_to_list_wording(embedder, base):
    def closeness(model) -> np.ndarray:
        q = model.encode_queries([s for s, _ in SAYINGS])
        p = model.encode_passages([o for _, o in SAYINGS])
        sims = q @ p.T
        # How far each saying's own list wording stands above the other sayings' wording.
        return np.diag(sims) - (sims.sum(axis=1) - np.diag(sims)) / (len(SAYINGS) - 1)

    assert closeness(embedder).mean() > closeness(base).mean() + 0.01


def test_damaged_or_stale_adaptation_is_not_trusted(settings, adapted, tmp_path):
    folder, _ = adapted
    base_sha = read_manifest(ensure_default_model(settings.models_dir)).weights_sha256
    shipped = verified_shipped_adapter()
    digest, recipe = shipped.data_hash, MERGED_RECIPE_BASE + shipped.recipe
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    assert _is_current(copy, base_sha, digest, recipe=recipe)
    assert not _is_current(copy, base_sha, "another-data-hash", recipe=recipe)
    assert not _is_current(copy, "another-base", digest, recipe=recipe)
    assert not _is_current(copy, base_sha, digest, recipe=recipe + 1)
    with open(copy / WEIGHTS_NAME, "r+b") as fh:
        fh.seek(4096)
        byte = fh.read(1)
        fh.seek(4096)
        fh.write(bytes([byte[0] ^ 0xFF]))
    assert not _is_current(copy, base_sha, digest, recipe=recipe)
    (copy / ADAPT_MANIFEST_NAME).write_text("{", encoding="utf-8")
    assert not _is_current(copy, base_sha, digest, recipe=recipe)


def test_loading_never_trains_and_says_what_to_run(settings, embedder, adapted, tmp_path):
    """A home without the adapted model: loading refuses in Chinese; prepare_model is the step that builds it."""
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    base_dir = ensure_default_model(settings.models_dir)
    (home / "models" / base_dir.name).symlink_to(base_dir, target_is_directory=True)
    fresh = settings.with_overrides(home=home)
    with pytest.raises(AdaptedModelMissing, match="尚未在.*适配完成.*prepare_model"):
        load_embedder(fresh)
    assert not (home / "models" / adapted[0].name).exists(), "loading left no model behind"
    # The step the commands run first: here it reuses the shared folder (a copy), so nothing is trained.
    shutil.copytree(adapted[0], home / "models" / adapted[0].name)
    prepare_model(fresh, report=lambda message: pytest.fail(f"retrained: {message}"))
    assert load_embedder(fresh).identity == embedder.identity
    with open(home / "models" / adapted[0].name / WEIGHTS_NAME, "r+b") as fh:
        fh.seek(4096)
        byte = fh.read(1)
        fh.seek(4096)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(AdaptedModelMissing, match="校验和不符"):
        load_embedder(fresh)
