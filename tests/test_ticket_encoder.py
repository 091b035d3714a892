"""The ticket encoder's training and merge, on the real rebuilt e5: a few steps of LoRA, then the merged folder."""

from dataclasses import replace

import numpy as np
import pytest

from corpus.catalogs import load_reference_catalog
from corpus.training_corpus import load_training_corpus
from lvzhi.config import BASE_MODEL
from models.adapted import ADAPTER_WEIGHTS_NAME
from models.e5_rebuild import ensure_default_model
from models.embedder import embedder_from_folder
from training.pairs import corpus_pairs
from training.ship import RECIPE
from training.ticket_encoder import merge_adapter, train_adapter, training_rows

pytestmark = pytest.mark.slow

PROBES = ["楼下烧烤摊天天占着人行道", "老板拖了三个月工资不给"]


@pytest.fixture(scope="module")
def trained(settings, tmp_path_factory):
    """An adapter from 48 corpus tickets (3 steps), the model it was trained in, and the base folder."""
    base_dir = ensure_default_model(settings.models_dir)
    pairs = corpus_pairs(load_training_corpus(), load_reference_catalog())[::100][:48]
    embedder = embedder_from_folder(base_dir, BASE_MODEL)
    out = tmp_path_factory.mktemp("adapter") / "ticket-lora"
    stats = train_adapter(embedder, pairs, replace(RECIPE, epochs=1, batch_size=16, learning_rate=1e-3), out)
    return embedder, out, base_dir, stats


def test_rows_carry_the_models_prefixes(settings):
    embedder = embedder_from_folder(ensure_default_model(settings.models_dir), BASE_MODEL)
    pairs = corpus_pairs(load_training_corpus(), load_reference_catalog())[:3]
    rows = training_rows(pairs, embedder)
    assert rows.column_names == ["anchor", "positive"]
    assert rows[0]["anchor"] == "query: " + pairs[0].anchor
    assert rows[0]["positive"] == "passage: " + pairs[0].positive


def test_adapter_is_small_and_only_the_adapter(trained):
    _, out, _, stats = trained
    assert stats.steps == 3 and stats.pairs == 48
    files = {f.name: f.stat().st_size for f in out.iterdir()}
    assert ADAPTER_WEIGHTS_NAME in files and "model.safetensors" not in files
    assert files[ADAPTER_WEIGHTS_NAME] < 10 * 2**20


def test_merged_folder_encodes_as_the_trained_model_and_unlike_the_base(trained, tmp_path):
    embedder, out, base_dir, _ = trained
    merged_dir = tmp_path / "merged"
    merge_adapter(base_dir, out, merged_dir)
    merged = embedder_from_folder(merged_dir, BASE_MODEL)
    base = embedder_from_folder(base_dir, BASE_MODEL)
    live = embedder.encode_queries(PROBES)
    assert np.allclose(merged.encode_queries(PROBES), live, atol=1e-4)
    assert not np.allclose(base.encode_queries(PROBES), live, atol=1e-3)
