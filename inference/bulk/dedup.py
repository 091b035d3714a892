"""Near-duplicate tickets (the same complaint filed again and again) by MinHash over character 3-grams.

Each row keeps only a few LSH band keys, so the whole export is grouped by sorting those keys band by band:
no pair of tickets is ever compared directly, and memory grows by a few bytes per row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

ROWS_PER_BAND = 4  # with 5 bands: pairs above ~0.7 Jaccard are almost always caught, below ~0.4 almost never
BANDS = 5
HASHES = ROWS_PER_BAND * BANDS
MIN_CHARS = 4
_KEEP = re.compile(r"[^\u4e00-\u9fffA-Za-z]+")  # digits go too: ticket numbers and dates differ between re-filings
_SEEDS = np.random.default_rng(20240601).integers(1, 2**63 - 1, size=HASHES, dtype=np.int64).astype(np.uint64)
_BAND_SEEDS = np.random.default_rng(7).integers(1, 2**63 - 1, size=BANDS, dtype=np.int64).astype(np.uint64)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fixed, well-spread 64-bit hash (never Python's per-process salted hash)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def normalise(text: str) -> str:
    return _KEEP.sub("", text)


def shingles(text: str) -> np.ndarray:
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(codes) < 3:
        return codes
    return (codes[:-2] << np.uint64(42)) | (codes[1:-1] << np.uint64(21)) | codes[2:]


def band_keys(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(rows, BANDS) uint64 keys and a validity mask; texts too short to judge are not valid."""
    n = len(texts)
    keys = np.zeros((n, BANDS), dtype=np.uint64)
    valid = np.zeros(n, dtype=bool)
    parts, owners = [], []
    for i, t in enumerate(texts):
        norm = normalise(t)
        if len(norm) >= MIN_CHARS:
            parts.append(shingles(norm))
            owners.append(i)
    if not parts:
        return keys, valid
    lengths = np.array([len(p) for p in parts])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    hashed = _mix(np.concatenate(parts)[:, None] ^ _SEEDS[None, :])
    minhash = np.minimum.reduceat(hashed, starts, axis=0)  # (texts, HASHES)
    with np.errstate(over="ignore"):
        for b in range(BANDS):
            acc = np.full(len(parts), _BAND_SEEDS[b], dtype=np.uint64)
            for r in range(ROWS_PER_BAND):
                acc = _mix(acc ^ minhash[:, b * ROWS_PER_BAND + r])
            keys[owners, b] = acc
    valid[owners] = True
    return keys, valid


def group_labels(bands: Iterable[tuple[np.ndarray, np.ndarray]], n_rows: int) -> np.ndarray:
    """Component label per row from (keys, valid) of each band over all rows; same label = near-duplicates."""
    heads, tails = [], []
    for keys, valid in bands:
        rows = np.flatnonzero(valid)
        if len(rows) < 2:
            continue
        order = np.argsort(keys[rows], kind="stable")
        sorted_keys = keys[rows][order]
        same = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])
        heads.append(rows[order][same])
        tails.append(rows[order][same + 1])
    if not heads:
        return np.arange(n_rows)
    a, b = np.concatenate(heads), np.concatenate(tails)
    graph = sp.coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n_rows, n_rows)).tocsr()
    _, labels = connected_components(graph, directed=False)
    return labels
