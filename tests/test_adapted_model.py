"""The default model is the rebuilt e5 adapted on our bundled township knowledge, once, at first use."""

import json
import shutil

import numpy as np
import pytest

from lvzhi.config import BASE_MODEL, DEFAULT_MODEL
from models.adapted import ADAPT_MANIFEST_NAME, AdaptedModelMissing
from models.e5_rebuild import WEIGHTS_NAME, ensure_default_model, read_manifest
from models.embedder import load_embedder
from training.adapt import _is_current, adaptation_pairs, ensure_adapted_model, prepare_model

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
    assert manifest["data_hash"] == adaptation_pairs()[2]
    assert manifest["steps"] > 0


def test_adaptation_uses_no_labelled_tickets():
    pairs, _, _ = adaptation_pairs()
    assert {p.source for p in pairs} <= {"清单", "词表"}
    lexicon_pairs = [p for p in pairs if p.source == "词表"]
    assert len(lexicon_pairs) > 500  # the lexicon is really in


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
    digest = adaptation_pairs()[2]
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    assert _is_current(copy, base_sha, digest)
    assert not _is_current(copy, base_sha, "another-data-hash")
    assert not _is_current(copy, "another-base", digest)
    with open(copy / WEIGHTS_NAME, "r+b") as fh:
        fh.seek(4096)
        byte = fh.read(1)
        fh.seek(4096)
        fh.write(bytes([byte[0] ^ 0xFF]))
    assert not _is_current(copy, base_sha, digest)
    (copy / ADAPT_MANIFEST_NAME).write_text("{", encoding="utf-8")
    assert not _is_current(copy, base_sha, digest)


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
