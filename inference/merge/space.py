"""Pairwise similarity between distinct item texts from four kinds of evidence.

dense: the matcher's embedding of the cleaned, concept-expanded text; char: character n-gram TF-IDF fitted on
the inventory itself; concept: shared lexicon concepts; catalog: both items point, with confidence, to the same
catalog entries. Each channel lies in [0, 1] and the similarity is their weighted sum, so one threshold means
the same thing whatever the inventory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from inference.matcher import Match, Matcher
from models.lexical import char_text

CATALOG_TOP_K = 5
# Fused-score units. Soft enough that an entry two items both rank near the top counts as shared evidence
# (防汛物资储备 ranks 防汛防台工作 first, 转移避险演练 second): chosen on bench/data/merge_dev_*, like the weights.
CATALOG_TEMPERATURE = 0.5
BACKGROUND_SAMPLE = 512
EDGE_CHUNK = 20_000
SMALL_BLOCK = 256  # member pairs up to which a block is computed densely on shared columns


@dataclass(frozen=True)
class SimilarityWeights:
    # Chosen on the merge dev set only (bench/merge_bench.py), in the middle of a plateau (F1 0.61 ± 0.01) rather
    # than at its peak. With the ticket-trained encoder the shared catalog entry says little: two items of one duty
    # often land on neighbouring entries, so it weighs 0.05 (it was 0.30 with plain e5).
    dense: float = 0.40
    char: float = 0.20
    concept: float = 0.35
    catalog: float = 0.05


@dataclass
class ItemSpace:
    """One row per distinct cleaned text; `multiplicity` says how many items share it."""

    texts: list[str]  # the first raw wording seen for each row
    cleaned: list[str]
    multiplicity: np.ndarray
    vectors: np.ndarray  # unit dense vectors
    hubness: np.ndarray  # each text's mean cosine to a fixed sample of the inventory: its "unrelated" level
    chars: sp.csr_matrix
    concepts: sp.csr_matrix
    profiles: sp.csr_matrix  # catalog entries, strength-scaled unit rows
    matches: list[Match]
    hits: list[dict[int, str]]
    weights: SimilarityWeights

    def __len__(self) -> int:
        return len(self.texts)

    @cached_property
    def _dense_scale(self) -> float:
        return max(1.0 - float(self.hubness.mean()), 1e-6) if len(self.hubness) else 1.0

    def _dense(self, cos: np.ndarray, a: np.ndarray, b: np.ndarray, outer: bool) -> np.ndarray:
        # Some texts sit close to everything (short, generic wording); judging each pair against the two
        # texts' own background level keeps those from pulling unrelated items together.
        h = self.hubness
        base = (h[a][:, None] + h[b][None, :]) / 2 if outer else (h[a] + h[b]) / 2
        return np.clip((cos - base) / self._dense_scale, 0.0, 1.0)

    @cached_property
    def lexical(self) -> sp.csr_matrix:
        """char | concept | catalog side by side, each scaled by the square root of its weight, so one sparse
        product gives the weighted sum of the three."""
        w = self.weights
        parts = [
            m.astype(np.float32) * np.float32(np.sqrt(wt))
            for wt, m in ((w.char, self.chars), (w.concept, self.concepts), (w.catalog, self.profiles))
            if wt > 0
        ]
        if not parts:
            return sp.csr_matrix((len(self), 1), dtype=np.float32)
        joined = sp.hstack(parts, format="csr", dtype=np.float32)
        joined.sort_indices()
        return joined

    def pairs(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Similarity of rows a[i] and b[i] for each i."""
        out = np.empty(len(a), dtype=np.float32)
        lex = self.lexical
        for s in range(0, len(a), EDGE_CHUNK):
            ia, ib = a[s : s + EDGE_CHUNK], b[s : s + EDGE_CHUNK]
            cos = np.einsum("ij,ij->i", self.vectors[ia], self.vectors[ib])
            out[s : s + EDGE_CHUNK] = (
                self.weights.dense * self._dense(cos, ia, ib, outer=False)
                + np.asarray(lex[ia].multiply(lex[ib]).sum(axis=1), np.float32).ravel()
            )
        return np.round(out, 6)  # rounding makes ties, and so tie-breaking, independent of summation order

    def block(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(len(a), len(b)) similarity matrix."""
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        sim = self.weights.dense * self._dense(self.vectors[a] @ self.vectors[b].T, a, b, outer=True)
        sim += sparse_block(self.lexical, a, b)
        return sim.astype(np.float32, copy=False)


def _gather(m: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row position, column, value) of every stored entry of the given rows."""
    starts = m.indptr[rows]
    lens = m.indptr[rows + 1] - starts
    owner = np.repeat(np.arange(len(rows)), lens)
    offsets = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
    pos = starts[owner] + offsets
    return owner, m.indices[pos], m.data[pos]


def sparse_block(m: sp.csr_matrix, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """m[a] @ m[b].T as a dense array, computed on the columns both sides use.

    The clustering asks for tens of thousands of small blocks, where scipy's per-call overhead would dominate;
    large blocks go to scipy, whose sparse product wins there.
    """
    if len(a) * len(b) > SMALL_BLOCK:
        return (m[a] @ m[b].T).toarray().astype(np.float32, copy=False)
    ra, ca, va = _gather(m, a)
    rb, cb, vb = _gather(m, b)
    out = np.zeros((len(a), len(b)), dtype=np.float32)
    common = np.intersect1d(ca, cb, assume_unique=False)
    if not len(common):
        return out
    keep_a, keep_b = np.isin(ca, common), np.isin(cb, common)
    left = np.zeros((len(a), len(common)), dtype=np.float32)
    right = np.zeros((len(b), len(common)), dtype=np.float32)
    left[ra[keep_a], np.searchsorted(common, ca[keep_a])] = va[keep_a]
    right[rb[keep_b], np.searchsorted(common, cb[keep_b])] = vb[keep_b]
    return left @ right.T


@dataclass
class _ReusedQueries:
    """Embedder stand-in that answers queries already encoded, so matching items costs no second encode."""

    base: object
    known: dict[str, np.ndarray]

    def __getattr__(self, name: str):
        if name == "base":  # not set yet (copy, unpickle): do not recurse
            raise AttributeError(name)
        return getattr(self.base, name)

    def encode_queries(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        if missing:
            for t, v in zip(missing, self.base.encode_queries(missing, batch_size=batch_size)):
                self.known[t] = v
        return np.stack([self.known[t] for t in texts]) if texts else np.zeros((0, self.base.dim), np.float32)


def dedup_key(cleaned: str) -> str:
    return "".join(cleaned.split())


def build_space(
    texts: list[str],
    matcher: Matcher,
    weights: SimilarityWeights | None = None,
    timings: dict[str, float] | None = None,
    query_encoder: Callable[..., np.ndarray] | None = None,
) -> tuple[ItemSpace, np.ndarray]:
    """The similarity space over distinct texts, and for each input text its row in that space.
    query_encoder, when given, makes the items' vectors in place of the transformer (--fast's static vectors)."""
    from time import perf_counter

    timings = {} if timings is None else timings
    t0 = perf_counter()
    cleaned_all, expanded_all, hits_all = matcher.prepare(texts)
    row_of_key: dict[str, int] = {}
    rows = np.empty(len(texts), dtype=np.int64)
    firsts: list[int] = []
    for i, c in enumerate(cleaned_all):
        key = dedup_key(c)
        if key not in row_of_key:
            row_of_key[key] = len(firsts)
            firsts.append(i)
        rows[i] = row_of_key[key]
    multiplicity = np.bincount(rows, minlength=len(firsts)).astype(np.float32)
    raw = [texts[i] for i in firsts]
    cleaned = [cleaned_all[i] for i in firsts]
    expanded = [expanded_all[i] for i in firsts]
    hits = [hits_all[i] for i in firsts]
    timings["prepare"] = perf_counter() - t0

    t0 = perf_counter()
    batch = max(matcher.settings.batch_size, 1)
    chars = _char_matrix(cleaned)
    if matcher.embedder is not None:
        encode = query_encoder or matcher.embedder.encode_queries
        # Items are compared with official terms added: on the merge dev set that grouped better (pairwise F1 0.56
        # against 0.50 for the cleaned text alone), since one duty's items share its terms more than its wording.
        # Matching an item onto the list uses Matcher.query_forms, as classify does; both are encoded here once.
        vectors = encode(expanded, batch_size=max(batch, 128))
        as_queries = encode(cleaned, batch_size=max(batch, 128))
        reuse = _ReusedQueries(matcher.embedder, dict(zip(cleaned, as_queries)))
        item_matcher = dataclasses.replace(matcher, embedder=reuse, ask_probe=False)
    else:
        vectors = _lexical_vectors(_char_matrix(expanded))
        item_matcher = matcher
    timings["encode"] = perf_counter() - t0

    t0 = perf_counter()
    matches = item_matcher.match(raw, top_k=CATALOG_TOP_K)
    timings["catalog_match"] = perf_counter() - t0

    space = ItemSpace(
        texts=raw,
        cleaned=cleaned,
        multiplicity=multiplicity,
        vectors=np.ascontiguousarray(vectors, np.float32),
        hubness=_hubness(vectors),
        chars=chars,
        concepts=_concept_matrix(hits, len(matcher.lexicon.concepts.concepts)),
        profiles=_catalog_profiles(matches, matcher),
        matches=matches,
        hits=hits,
        weights=weights or SimilarityWeights(),
    )
    return space, rows


def _char_matrix(cleaned: list[str]) -> sp.csr_matrix:
    docs = [char_text(c) or c for c in cleaned]
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1, dtype=np.float32)
    return vec.fit_transform(docs).tocsr()


def _lexical_vectors(chars: sp.csr_matrix, dim: int = 128) -> np.ndarray:
    """Stand-in dense vectors for a matcher without a transformer: a fixed-seed SVD of the char n-grams of the
    concept-expanded texts, so official terms still bring differently worded items together."""
    from sklearn.decomposition import TruncatedSVD

    k = max(1, min(dim, chars.shape[1] - 1, chars.shape[0] - 1))
    if k < 2:
        return normalize(chars.toarray()).astype(np.float32)
    reduced = TruncatedSVD(n_components=k, random_state=0).fit_transform(chars)
    return normalize(reduced).astype(np.float32)


def _hubness(vectors: np.ndarray) -> np.ndarray:
    n = len(vectors)
    if n < 3:
        return np.full(n, 0.8, dtype=np.float32)  # too few to measure: a typical level for short-text embedders
    sample = np.random.default_rng(0).choice(n, size=min(BACKGROUND_SAMPLE, n), replace=False)
    sample.sort()
    sims = vectors @ vectors[sample].T
    own = np.isin(np.arange(n), sample)
    total = sims.sum(axis=1) - own * 1.0  # leave out each sampled text's similarity to itself
    return (total / (len(sample) - own)).astype(np.float32)


def _concept_matrix(hits: list[dict[int, str]], n_concepts: int) -> sp.csr_matrix:
    n_concepts = max(n_concepts, 1)
    rows = [i for i, h in enumerate(hits) for _ in h]
    cols = [c for h in hits for c in sorted(h)]
    m = sp.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)), shape=(len(hits), n_concepts))
    df = np.bincount(m.indices, minlength=n_concepts)
    idf = np.log((1 + len(hits)) / (1 + df)).astype(np.float32) + 1.0
    return normalize(m @ sp.diags(idf)).tocsr().astype(np.float32)


def _catalog_profiles(matches: list[Match], matcher: Matcher) -> sp.csr_matrix:
    pos_of = {e.id: i for i, e in enumerate(matcher.catalog.entries)}
    rows, cols, vals = [], [], []
    for i, m in enumerate(matches):
        if not m.candidates:
            continue
        scores = np.array([c.score for c in m.candidates], dtype=np.float64)
        share = np.exp((scores - scores.max()) / CATALOG_TEMPERATURE)
        share /= np.linalg.norm(share)
        strength = 1.0 - m.out_of_list_probability
        for c, s in zip(m.candidates, share):
            rows.append(i)
            cols.append(pos_of[c.entry.id])
            vals.append(strength * s)
    shape = (len(matches), max(len(matcher.catalog.entries), 1))
    return sp.csr_matrix((np.asarray(vals, np.float32), (rows, cols)), shape=shape)
