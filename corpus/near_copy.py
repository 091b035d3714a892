"""Near-copy detection between texts: character 5-gram Jaccard similarity, computed with sparse matrices.

The training corpus must not hold near-copies of evaluation items, nor many near-copies of itself; this is the
measure both checks use. A text shorter than five characters is its own single gram.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

GRAM = 5
NEAR_COPY = 0.5  # Jaccard at or above this is a near-copy


def char_grams(text: str, n: int = GRAM) -> list[str]:
    t = re.sub(r"\s+", "", text)
    return [t[i : i + n] for i in range(max(1, len(t) - n + 1))]


def jaccard(a: str, b: str) -> float:
    x, y = set(char_grams(a)), set(char_grams(b))
    return len(x & y) / len(x | y) if x and y else 0.0


def max_jaccard(texts: Sequence[str], others: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each of `texts`, its highest Jaccard to any of `others` (to any *other* of `texts` when others is None),
    and the position of that partner."""
    vocab = CountVectorizer(analyzer=char_grams, binary=True, lowercase=False, dtype=np.float32)
    pool = list(texts) + list(others or [])
    matrix = vocab.fit_transform(pool).tocsr()
    a = matrix[: len(texts)]
    b = matrix[len(texts) :] if others is not None else a
    size_a = np.asarray(a.sum(axis=1)).ravel()
    size_b = np.asarray(b.sum(axis=1)).ravel()
    best = np.zeros(len(texts), dtype=np.float32)
    partner = np.full(len(texts), -1)
    for start in range(0, len(texts), 2048):  # blocks keep the dense union matrix small
        inter = (a[start : start + 2048] @ b.T).tocoo()
        rows, cols, shared = inter.row + start, inter.col, inter.data
        if others is None:
            keep = rows != cols
            rows, cols, shared = rows[keep], cols[keep], shared[keep]
        score = shared / (size_a[rows] + size_b[cols] - shared)
        order = np.lexsort((score, rows))  # last per row is its best
        last = np.r_[rows[order][1:] != rows[order][:-1], True] if len(order) else np.zeros(0, bool)
        r, c, s = rows[order][last], cols[order][last], score[order][last]
        best[r], partner[r] = s, c
    return best, partner


def near_copies(
    texts: Sequence[str], others: Sequence[str] | None = None, threshold: float = NEAR_COPY
) -> list[tuple[int, int, float]]:
    """(position in texts, position of its closest partner, Jaccard) for every text with a near-copy."""
    best, partner = max_jaccard(texts, others)
    return [(i, int(partner[i]), float(best[i])) for i in np.flatnonzero(best >= threshold)]
