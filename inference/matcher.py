"""Matching free text onto duty entries: dense (FAISS) + lexical (jieba BM25, char n-grams) + concept evidence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from corpus.lexicon import Lexicon
from corpus.schema import Catalog, DutyEntry
from inference.fusion import FusionParams
from inference.index import IndexMeta, VectorIndex, build_faiss, choose_kind, views_hash
from inference.out_of_list import OutOfListProbe
from inference.query_clean import QueryCleaner
from lvzhi.config import Settings
from models.lexical import LexicalIndex, Segmenter

if TYPE_CHECKING:
    from models.embedder import Embedder

DENSE_POOL = 64  # dense neighbours fetched per query; also the sample the dense z-score is taken over
LEXICAL_POOL = 24  # best lexical entries always rescored, so a strong keyword hit is never lost
EXAMPLE_NEIGHBOURS = 8  # nearest confirmed examples looked at per ticket
CATEGORY_NEIGHBOURS = 3  # a category's support is its mean cosine over this many of its nearest examples
LEFT_OUT = -2.0  # a similarity below any cosine: marks an example as not there


@dataclass(frozen=True)
class Candidate:
    entry: DutyEntry
    score: float
    dense: float
    char: float
    bm25: float
    concept: float

    def to_dict(self) -> dict:
        e = self.entry
        return {
            "id": e.id,
            "name": e.name,
            "list_type": e.list_type.value,
            "category": e.category,
            "description": e.description,
            "department_duty": e.department_duty,
            "office": e.office,
            "department": e.department,
            "bottom_line": e.bottom_line,
            "reclaimed": e.is_reclaimed,
            "zombie": e.is_zombie,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class Flags:
    reclaimed: bool = False
    zombie: bool = False
    out_of_list: bool = False
    bottom_line: bool = False
    needs_review: bool = False


_FLAG_WORDS = (
    ("out_of_list", "清单之外", "清单之外：未找到对应履职事项，需按职责准入程序办理"),
    ("reclaimed", "收回事项（应交{department}）", "上级部门收回事项：应交回{department}"),
    ("zombie", "僵尸事项", "僵尸事项：该事项已因长期未发生收回，请核实"),
    ("bottom_line", "兜底事项", "兜底事项：须由乡镇（街道）承担"),
    ("needs_review", "需复核", "需人工复核：置信度低或与其他类型事项接近"),
)


@dataclass(frozen=True)
class Match:
    text: str
    cleaned: str
    candidates: tuple[Candidate, ...]
    confidence: float
    out_of_list_probability: float
    margin: float
    why: tuple[str, ...]
    flags: Flags
    handover_department: str = ""
    error: str = ""

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def flag_labels(self, short: bool = False) -> list[str]:
        """The raised flags in the words a township clerk uses; short=True for a table cell."""
        out = []
        for flag, brief, full in _FLAG_WORDS:
            if getattr(self.flags, flag):
                out.append((brief if short else full).format(department=self.handover_department))
        return out

    @property
    def warnings(self) -> list[str]:
        return self.flag_labels()

    def to_dict(self) -> dict:
        best = self.best
        return {
            "text": self.text,
            "cleaned": self.cleaned,
            "best": best.to_dict() if best else None,
            "confidence": round(self.confidence, 4),
            "out_of_list_probability": round(self.out_of_list_probability, 4),
            "margin": round(self.margin, 4),
            "why": list(self.why),
            "flags": {k: getattr(self.flags, k) for k in Flags.__dataclass_fields__},
            "handover_department": self.handover_department,
            "warnings": self.warnings,
            "candidates": [c.to_dict() for c in self.candidates],
            "error": self.error,
        }


@dataclass
class Evidence:
    """A batch's channel scores, kept apart from fusion so weights can be refitted without re-encoding."""

    texts: list[str]
    cleaned: list[str]
    hits: list[dict[int, str]]
    oos: list[dict[int, str]]
    query_words: list[list[str]]
    char: np.ndarray  # (queries, entries)
    bm25: np.ndarray
    concept: np.ndarray
    pools: list[list[int]]  # candidate entry positions per query
    dense: list[dict[int, float]]  # entry position -> best view cosine, for pool entries
    examples: list[dict[int, float]]  # entry position -> best confirmed-example cosine, where one was retrieved
    categories: list[dict[str, float]]  # category -> support from confirmed examples (z across categories)
    z_stats: list[tuple[float, float]]  # mean/std of each query's top dense scores
    outside: np.ndarray  # the out-of-list probe's logit per query (its neutral value where it cannot read)


def judge_features(
    best: Candidate, margin: float, hits: dict[int, str], oos: dict[int, str], outside: float
) -> dict[str, float]:
    return {
        "top": best.score,
        "margin": margin,
        "dense_raw": best.dense,
        "char": best.char,
        "bm25": best.bm25,
        "concept": best.concept,
        "out_of_scope": float(bool(oos)),
        "concept_hits": float(len(hits)),
        "outside": outside,
    }


@dataclass
class EntryViews:
    """Each entry is seen through several texts (full text, bare name, aliases), stored contiguously per entry."""

    texts: list[str]
    entry_of_view: np.ndarray  # view -> entry position
    starts: np.ndarray  # entry position -> its first view

    @classmethod
    def build(cls, entries: tuple[DutyEntry, ...]) -> EntryViews:
        texts, owners, starts = [], [], []
        for pos, entry in enumerate(entries):
            starts.append(len(texts))
            views = [entry.text, entry.name if entry.text != entry.name else "", *entry.aliases]
            for v in dict.fromkeys(v for v in views if v):
                texts.append(v)
                owners.append(pos)
        return cls(texts, np.asarray(owners, dtype=np.int64), np.asarray(starts, dtype=np.int64))

    def max_per_entry(self, view_scores: np.ndarray) -> np.ndarray:
        """(queries, views) -> (queries, entries), taking each entry's best view."""
        return np.maximum.reduceat(view_scores, self.starts, axis=1)

    def of_entries(self, positions: list[int]) -> np.ndarray:
        ends = np.append(self.starts[1:], len(self.texts))
        return np.concatenate([np.arange(self.starts[p], ends[p]) for p in positions])


@dataclass
class Examples:
    """Texts people confirmed for an entry (reviews, training pairs), searched apart from the entry views, so
    adding one never rebuilds the entry index. They count only when a ticket is nearly the same
    (`FusionParams.example_floor`): one confirmed ticket must not pull every ticket written in the same hotline
    style onto its entry. A vote over the nearest examples per entry was tried: it helped where every class had
    many examples (taidi2020) and cost 2–3 points of top-1 where examples were sparse (cross-validated on our
    tuning items), so it is not used. What is used is coarser: each category's support (`category_support`),
    weighted by `FusionParams.category_examples`, which `lvzhi train` fits on the examples themselves by
    leave-one-out, so it is zero wherever it would not have helped."""

    texts: list[str]
    owner: np.ndarray  # example -> entry position
    vectors: np.ndarray | None = None  # (examples, dim), normalised; None without an embedder

    @classmethod
    def build(cls, entries: tuple[DutyEntry, ...], examples: dict[str, list[str]]) -> Examples:
        texts, owner = [], []
        for pos, entry in enumerate(entries):
            for t in dict.fromkeys(t for t in examples.get(entry.id, ()) if t):
                texts.append(t)
                owner.append(pos)
        return cls(texts, np.asarray(owner, dtype=np.int64))

    def neighbours(self, sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(cosines, example ids) of each query's k nearest examples, best first; sims is (queries, examples)."""
        k = min(k, len(self.texts))
        ids = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        part = np.take_along_axis(sims, ids, axis=1)
        order = np.argsort(-part, axis=1, kind="stable")
        return np.take_along_axis(part, order, axis=1), np.take_along_axis(ids, order, axis=1)


def category_support(sims: np.ndarray, categories: np.ndarray) -> list[dict[str, float]]:
    """Per query, each category's mean cosine to its nearest confirmed examples, as z-scores across the categories
    that have examples. Pooled per category because one entry rarely has enough examples to vote on its own.
    Similarities at LEFT_OUT do not count (leave-one-out fitting)."""
    names = sorted(set(categories.tolist()))
    if len(names) < 2 or not len(sims):
        return [{} for _ in range(len(sims))]
    columns = []
    for name in names:
        s = sims[:, categories == name]
        k = min(CATEGORY_NEIGHBOURS, s.shape[1])
        top = -np.partition(-s, k - 1, axis=1)[:, :k]
        present = top > LEFT_OUT / 2
        count = present.sum(axis=1)
        columns.append(np.where(count > 0, (top * present).sum(axis=1) / np.maximum(count, 1), np.nan))
    support = np.stack(columns, axis=1)
    with np.errstate(all="ignore"):
        z = (support - np.nanmean(support, axis=1, keepdims=True)) / np.nanstd(support, axis=1, keepdims=True)
    return [{n: float(v) for n, v in zip(names, row) if np.isfinite(v)} for row in z]


@dataclass
class ConceptSpace:
    """Entries and queries as idf-weighted bags of lexicon concepts."""

    lexicon: Lexicon
    idf: np.ndarray
    entry_matrix: sp.csr_matrix
    entry_hits: list[dict[int, str]]  # per entry: concept -> the phrase the entry's own text uses for it

    @classmethod
    def build(cls, lexicon: Lexicon, entry_texts: list[str]) -> ConceptSpace:
        n_concepts = max(len(lexicon.concepts.concepts), 1)
        hits = [lexicon.concepts.find(t) for t in entry_texts]
        df = np.zeros(n_concepts, dtype=np.float32)
        for h in hits:
            df[list(h)] += 1
        idf = np.log((1 + len(entry_texts)) / (1 + df)).astype(np.float32) + 1.0
        return cls(lexicon, idf, cls._matrix(hits, idf, n_concepts), hits)

    @staticmethod
    def _matrix(hits: list[dict[int, str]], idf: np.ndarray, n_concepts: int) -> sp.csr_matrix:
        rows, cols = [], []
        for i, h in enumerate(hits):
            rows.extend([i] * len(h))
            cols.extend(h)
        m = sp.csr_matrix((idf[cols] if cols else [], (rows, cols)), shape=(len(hits), n_concepts), dtype=np.float32)
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        return sp.diags(1.0 / np.maximum(norms, 1e-6)) @ m

    def scores(self, hits: list[dict[int, str]]) -> np.ndarray:
        q = self._matrix(hits, self.idf, self.entry_matrix.shape[1])
        return np.asarray((q @ self.entry_matrix.T).todense(), dtype=np.float32)


@dataclass
class Matcher:
    catalog: Catalog
    embedder: Embedder | None  # None = lexical-only (fast first stage, baselines)
    settings: Settings
    fusion: FusionParams = field(default_factory=FusionParams.load)
    lexicon: Lexicon = field(default_factory=Lexicon.load)
    cleaner: QueryCleaner = field(default_factory=QueryCleaner)
    segmenter: Segmenter = field(default_factory=Segmenter)
    examples: dict[str, list[str]] = field(default_factory=dict)  # entry id -> confirmed ticket texts
    probe: OutOfListProbe | None = field(default_factory=OutOfListProbe.load)
    # Ask the probe whether a text is township business at all. Merge turns it off: its items are a township's
    # own collected work, so the question does not arise there.
    ask_probe: bool = True

    def __post_init__(self) -> None:
        self.segmenter.add_words([e.name for e in self.catalog.entries])
        self._rebuild()

    def _rebuild(self) -> None:
        entries = self.catalog.entries
        self.views = EntryViews.build(entries)
        self.lexical = LexicalIndex(self.segmenter).fit(self.views.texts)
        entry_concept_texts = [" ".join([e.text, *e.aliases]) for e in entries]
        self.concepts = ConceptSpace.build(self.lexicon, entry_concept_texts)
        self._entry_words = [set(self.segmenter.words(e.text)) for e in entries]
        self._pos_by_id = {e.id: i for i, e in enumerate(entries)}
        self.index = self._load_or_build_index() if self.embedder is not None else None
        self._index_examples()

    def _index_examples(self) -> None:
        """Examples are searched apart from the entry views, so adding one never rebuilds the entry index."""
        # Examples are encoded in the queries' form, so near-duplicates look alike.
        views = Examples.build(self.catalog.entries, {k: self.query_forms(v) for k, v in self.examples.items()})
        if self.embedder is not None:
            views.vectors = self._vectors(views.texts, "query")
        self.example_views = views

    def add_examples(self, examples: dict[str, list[str]]) -> None:
        """Confirmed (reviewed) texts count for their entries at once; only the new texts are encoded."""
        for entry_id, texts in examples.items():
            if self.catalog.get(entry_id) is not None:
                self.examples.setdefault(entry_id, []).extend(texts)
        self._index_examples()

    def _vectors(self, texts: list[str], side: str) -> np.ndarray:
        """Embeddings through a per-matcher cache, so adding a reviewed example encodes only that example."""
        cache = self.__dict__.setdefault("_vector_cache", {})
        missing = list(dict.fromkeys(t for t in texts if (side, t) not in cache))
        if missing:
            encode = self.embedder.encode_passages if side == "passage" else self.embedder.encode_queries
            for t, v in zip(missing, encode(missing, batch_size=self.settings.batch_size)):
                cache[(side, t)] = v
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([cache[(side, t)] for t in texts]).astype(np.float32)

    def _load_or_build_index(self) -> VectorIndex:
        meta = IndexMeta(
            catalog_version=self.catalog.version,
            model_identity=self.embedder.identity,
            views_hash=views_hash(self.views.texts),
            kind=choose_kind(self.settings.index_kind, len(self.views.texts)),
            dim=self.embedder.dim,
            count=len(self.views.texts),
        )
        found = VectorIndex.load(self.settings.index_dir, meta)
        if found is not None:
            return found
        vectors = self._vectors(self.views.texts, "passage")
        index = VectorIndex(meta, build_faiss(vectors, meta.kind), vectors)
        try:
            index.save(self.settings.index_dir)
        except OSError:
            pass  # a read-only cache only costs a rebuild next time
        return index

    # -- matching -------------------------------------------------------------------------------------------------

    def prepare(self, texts: list[str]) -> tuple[list[str], list[str], list[dict[int, str]]]:
        """Cleaned texts, texts expanded with official terms, and the concept hits."""
        cleaned, expanded, hits = [], [], []
        for t in texts:
            c = self.cleaner.clean(t)
            extra, h = self.lexicon.expansion(c)
            cleaned.append(c)
            expanded.append(f"{c} {extra}".strip())
            hits.append(h)
        return cleaned, expanded, hits

    def query_forms(self, texts: list[str]) -> list[str]:
        """The texts as the dense channel encodes them: cleaned, without the official terms the lexical channels
        get. Training on reviewed tickets and distilling --fast's static vectors use this same form."""
        return self.prepare(texts)[0]

    def match(
        self,
        texts: list[str],
        top_k: int | None = None,
        use_dense: bool | None = None,
        query_encoder: Callable[..., np.ndarray] | None = None,
        fusion: FusionParams | None = None,
    ) -> list[Match]:
        """query_encoder, when given, makes the query vectors in place of the transformer (the static
        first stage of --fast); entries, examples and the index stay the transformer's. fusion, when given,
        weighs the evidence in place of self.fusion (the first stage's own fit)."""
        top_k = top_k or self.settings.top_k
        use_dense = self.embedder is not None if use_dense is None else (use_dense and self.embedder is not None)
        fusion = fusion or self.fusion
        results: list[Match] = []
        step = max(self.settings.batch_size, 1) * 4
        for start in range(0, len(texts), step):
            batch = texts[start : start + step]
            ev = self.gather_evidence(batch, use_dense, query_encoder=query_encoder, fusion=fusion)
            results.extend(self.judge(ev, i, fusion, top_k) for i in range(len(batch)))
        return results

    def gather_evidence(
        self,
        texts: list[str],
        use_dense: bool,
        dense_pool: int = DENSE_POOL,
        lexical_pool: int = LEXICAL_POOL,
        leave_out: bool = False,
        query_encoder: Callable[..., np.ndarray] | None = None,
        fusion: FusionParams | None = None,
    ) -> Evidence:
        """Every channel's scores for a batch, over a candidate pool per query; fusion happens later (its
        lexical weights only choose the lexical candidate pool here).
        leave_out=True scores texts that are themselves confirmed examples as if they were not (fitting)."""
        n_entries = len(self.catalog.entries)
        cleaned, expanded, hits = self.prepare(texts)
        char = self.views.max_per_entry(self.lexical.char_scores(expanded))
        bm25_views, query_words = self.lexical.word_scores(expanded)
        bm25 = self.views.max_per_entry(bm25_views)
        concept = self.concepts.scores(hits)
        oos = [self.lexicon.out_of_scope.find(c) for c in cleaned]
        f = fusion or self.fusion
        lexical = f.char * char + f.bm25 * bm25 + f.concept * concept
        lexical_pool = min(lexical_pool, n_entries)
        pools, dense, examples, z_stats = [], [], [], []
        encode = (query_encoder or self.embedder.encode_queries) if use_dense else None
        q = None
        if encode is not None:
            # The encoder reads the cleaned ticket, not the one expanded with official terms: it was trained on
            # tickets as people write them, and the appended terms pull its vector off (tuning+dev top-1 0.82→0.87).
            # Tickets that differ only in what the cleaner strips (names, phone numbers, dates) are encoded once.
            distinct = list(dict.fromkeys(cleaned))
            vectors = encode(distinct, batch_size=self.settings.batch_size)
            row_of = {t: k for k, t in enumerate(distinct)}
            q = vectors[[row_of[t] for t in cleaned]] if len(distinct) < len(cleaned) else vectors
        outside = np.full(len(texts), self.probe.neutral if self.probe else 0.0, dtype=np.float32)
        if q is not None:
            dense_scores, dense_ids = self.index.search(q, max(dense_pool, DENSE_POOL))
            if self.ask_probe and self.probe is not None and self.probe.reads(self.settings.model, q.shape[1]):
                outside = self.probe.logits(q)
        with_examples = q is not None and len(self.example_views.texts) > 0
        categories: list[dict[str, float]] = [{} for _ in texts]
        if with_examples:
            sims = q @ self.example_views.vectors.T
            if leave_out:
                same_text: dict[str, list[int]] = {}
                for j, own in enumerate(self.example_views.texts):
                    same_text.setdefault(own, []).append(j)
                for i, t in enumerate(cleaned):
                    sims[i, same_text.get(t, [])] = LEFT_OUT
            ex_cos, ex_ids = self.example_views.neighbours(sims, EXAMPLE_NEIGHBOURS)
            owner_category = np.asarray([self.catalog.entries[p].category for p in self.example_views.owner])
            categories = category_support(sims, owner_category)
        for i in range(len(texts)):
            pool = set(np.argpartition(-lexical[i], lexical_pool - 1)[:lexical_pool].tolist())
            by_entry: dict[int, float] = {}
            by_example: dict[int, float] = {}
            mean, std = 0.0, 1.0
            if q is not None:
                valid = dense_ids[i] >= 0
                ids_i, scores_i = dense_ids[i][valid], dense_scores[i][valid]
                # The z-score reference is always the top DENSE_POOL entry views, whatever pool a caller asks for.
                ref = scores_i[:DENSE_POOL]
                mean, std = float(ref.mean()), float(ref.std()) or 1.0
                for vid, sc in zip(ids_i[:dense_pool], scores_i[:dense_pool]):
                    pos = int(self.views.entry_of_view[vid])
                    by_entry[pos] = max(by_entry.get(pos, -1.0), float(sc))
                pool |= set(by_entry)
            if with_examples:
                for example, sc in zip(ex_ids[i].tolist(), ex_cos[i].tolist()):
                    if sc <= LEFT_OUT:
                        continue
                    pos = int(self.example_views.owner[example])
                    by_example[pos] = max(by_example.get(pos, -1.0), float(sc))
                pool |= set(by_example)
            missing = [p for p in pool if p not in by_entry] if q is not None else []
            if missing:
                by_entry.update(self._exact_dense(q[i], missing))
            pools.append(sorted(pool))
            dense.append(by_entry)
            examples.append(by_example)
            z_stats.append((mean, std))
        return Evidence(
            texts,
            cleaned,
            hits,
            oos,
            query_words,
            char,
            bm25,
            concept,
            pools,
            dense,
            examples,
            categories,
            z_stats,
            outside,
        )

    def rank(self, ev: Evidence, i: int, params: FusionParams, top_k: int) -> tuple[Candidate, ...]:
        mean, std = ev.z_stats[i]
        scored = []
        for pos in ev.pools[i]:
            d = ev.dense[i].get(pos, mean)
            example = ev.examples[i].get(pos, 0.0)
            if example >= params.example_floor:
                d = max(d, example)
            fused = (
                params.char * float(ev.char[i, pos])
                + params.bm25 * float(ev.bm25[i, pos])
                + params.concept * float(ev.concept[i, pos])
                + params.dense * (d - mean) / std
            )
            if params.category_examples:
                fused += params.category_examples * ev.categories[i].get(self.catalog.entries[pos].category, 0.0)
            scored.append((fused, pos, d))
        scored.sort(key=lambda t: (-t[0], t[1]))
        return tuple(
            Candidate(
                self.catalog.entries[pos],
                fused,
                d,
                float(ev.char[i, pos]),
                float(ev.bm25[i, pos]),
                float(ev.concept[i, pos]),
            )
            for fused, pos, d in scored[:top_k]
        )

    def judge(self, ev: Evidence, i: int, params: FusionParams, top_k: int) -> Match:
        cands = self.rank(ev, i, params, top_k)
        return self._judge(
            ev.texts[i], ev.cleaned[i], cands, ev.hits[i], ev.oos[i], float(ev.outside[i]), ev.query_words[i], params
        )

    def _exact_dense(self, query_vec: np.ndarray, positions: list[int]) -> dict[int, float]:
        view_ids = self.views.of_entries(positions)
        sims = self.index.vectors[view_ids] @ query_vec
        best: dict[int, float] = {}
        for v, sim in zip(view_ids, sims):
            p = int(self.views.entry_of_view[v])
            best[p] = max(best.get(p, -1.0), float(sim))
        return best

    def _judge(
        self,
        text: str,
        cleaned: str,
        cands: tuple[Candidate, ...],
        hits: dict[int, str],
        oos: dict[int, str],
        outside: float,
        query_words: list[str],
        params: FusionParams,
    ) -> Match:
        best = cands[0]
        runner = cands[1] if len(cands) > 1 else None
        margin = best.score - runner.score if runner else best.score
        features = judge_features(best, margin, hits, oos, outside)
        confidence = params.correct(features)
        p_out = params.out_of_list(features)
        out_of_list = p_out >= params.out_of_list_above
        close_other_type = (
            runner is not None
            and runner.entry.list_type is not best.entry.list_type
            and margin < 0.1 * max(best.score, 1e-6)
        )
        entry = best.entry
        flags = Flags(
            reclaimed=entry.is_reclaimed and not out_of_list,
            zombie=entry.is_zombie and not out_of_list,
            out_of_list=out_of_list,
            bottom_line=entry.bottom_line and not out_of_list,
            needs_review=confidence < params.review_below or close_other_type,
        )
        handover = (entry.department or "县级主管部门") if flags.reclaimed else ""
        return Match(
            text, cleaned, cands, confidence, p_out, margin, self._why(entry, query_words, hits), flags, handover
        )

    def _why(self, entry: DutyEntry, query_words: list[str], hits: dict[int, str]) -> tuple[str, ...]:
        pos = self._pos_by_id[entry.id]
        reasons = [w for w in dict.fromkeys(query_words) if w in self._entry_words[pos]][:4]
        # A shared concept is shown as the ticket's phrase → the entry's own phrase, so the reason points at words
        # the person can find in the entry (not at the concept's headline term, which may belong to another entry).
        entry_phrases = self.concepts.entry_hits[pos]
        for idx, phrase in hits.items():
            if idx in entry_phrases:
                label = entry_phrases[idx]
                reasons.append(phrase if phrase == label else f"{phrase}→{label}")
        return tuple(dict.fromkeys(reasons))[:6]
