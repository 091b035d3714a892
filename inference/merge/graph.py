"""Candidate pairs for merging: each text's nearest neighbours by embedding (FAISS), never all pairs."""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from inference.merge.space import ItemSpace

EXACT_SEARCH_UP_TO = 200_000  # beyond this an HNSW index keeps the neighbour search sub-quadratic


@dataclass(frozen=True)
class Edges:
    a: np.ndarray  # a[i] < b[i]
    b: np.ndarray
    sim: np.ndarray

    def __len__(self) -> int:
        return len(self.a)


def neighbour_pairs(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Unique (a < b) pairs where one is among the other's k nearest neighbours."""
    n = len(vectors)
    k = min(k, n - 1)
    if k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if n <= EXACT_SEARCH_UP_TO:
        index = faiss.IndexFlatIP(vectors.shape[1])
    else:
        index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = max(64, 2 * k)
    index.add(vectors)
    _, ids = index.search(vectors, k + 1)
    src = np.repeat(np.arange(n, dtype=np.int64), ids.shape[1])
    dst = ids.reshape(-1).astype(np.int64)
    keep = (dst >= 0) & (dst != src)
    a, b = np.minimum(src[keep], dst[keep]), np.maximum(src[keep], dst[keep])
    packed = np.unique(a * n + b)
    return packed // n, packed % n


def same_entry_pairs(space: ItemSpace, k: int, min_strength: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of texts whose best catalog entry is the same, within each entry's bucket by embedding.

    The embedding neighbourhood of a text can be crowded by look-alikes from other duties; texts that the
    catalog confidently files under one entry should still get the chance to meet.
    """
    buckets: dict[str, list[int]] = {}
    for i, m in enumerate(space.matches):
        if m.best is not None and 1.0 - m.out_of_list_probability >= min_strength:
            buckets.setdefault(m.best.entry.id, []).append(i)
    pa, pb = [], []
    for members in buckets.values():
        if len(members) < 2:
            continue
        members_arr = np.asarray(members, dtype=np.int64)
        la, lb = neighbour_pairs(space.vectors[members_arr], k)
        pa.append(members_arr[la])
        pb.append(members_arr[lb])
    if not pa:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(pa), np.concatenate(pb)


def candidate_edges(space: ItemSpace, k: int, min_sim: float) -> Edges:
    n = len(space)
    a1, b1 = neighbour_pairs(space.vectors, k)
    a2, b2 = same_entry_pairs(space, k)
    packed = np.unique(np.concatenate([a1 * n + b1, a2 * n + b2]))
    a, b = packed // n, packed % n
    sim = space.pairs(a, b)
    keep = sim >= min_sim
    return Edges(a[keep], b[keep], sim[keep])
