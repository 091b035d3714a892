"""The FAISS index over entry views, saved together with what it was built from.

An index is only valid for the catalog version, the model identity and the view texts it was built on; `load`
checks all three and returns None on any mismatch so the caller rebuilds instead of answering wrongly.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from corpus.tables import atomic_write

LARGE_CATALOG = 100_000

# FAISS runs on one thread, set together with torch's count by models.embedder.set_cpu_threads when the model loads.


@dataclass(frozen=True)
class IndexMeta:
    catalog_version: str
    model_identity: str
    views_hash: str
    kind: str
    dim: int
    count: int

    @property
    def file_stem(self) -> str:
        model = hashlib.sha256(self.model_identity.encode()).hexdigest()[:10]
        return f"{self.catalog_version}-{model}-{self.views_hash[:10]}-{self.kind}"


def views_hash(texts: list[str]) -> str:
    return hashlib.sha256("\x1f".join(texts).encode("utf-8")).hexdigest()


def choose_kind(kind: str, count: int) -> str:
    if kind == "auto":
        return "hnsw" if count >= LARGE_CATALOG else "flat"
    if kind not in ("flat", "ivf", "hnsw"):
        raise ValueError(f"未知的索引类型：{kind}（可选 flat / ivf / hnsw / auto）")
    return kind


def build_faiss(vectors: np.ndarray, kind: str) -> faiss.Index:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
    elif kind == "ivf":
        nlist = max(1, min(int(4 * math.sqrt(n)), n // 39 or 1))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = min(nlist, 16)
    else:
        index = faiss.IndexFlatIP(dim)
    index.add(vectors)
    return index


@dataclass
class VectorIndex:
    meta: IndexMeta
    index: faiss.Index
    vectors: np.ndarray  # kept for exact rescoring of candidates found lexically

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.meta.count)
        scores, ids = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        stem = directory / self.meta.file_stem
        atomic_write(stem.with_suffix(".faiss"), lambda p: faiss.write_index(self.index, str(p)))
        atomic_write(stem.with_suffix(".npy"), lambda p: np.save(p, self.vectors))
        # The meta file goes last: its presence marks a complete index.
        atomic_write(
            stem.with_suffix(".json"), lambda p: p.write_text(json.dumps(asdict(self.meta), ensure_ascii=False))
        )
        return stem

    @classmethod
    def load(cls, directory: Path, expected: IndexMeta) -> VectorIndex | None:
        stem = directory / expected.file_stem
        try:
            meta = IndexMeta(**json.loads(stem.with_suffix(".json").read_text()))
            if meta != expected:
                return None
            index = faiss.read_index(str(stem.with_suffix(".faiss")))
            vectors = np.load(stem.with_suffix(".npy"))
        except (OSError, ValueError, TypeError, RuntimeError):
            return None
        if index.ntotal != expected.count or vectors.shape != (expected.count, expected.dim):
            return None
        return cls(meta, index, vectors)
