"""Lexical evidence: jieba words (with our domain dictionary) scored by BM25, plus character n-gram TF-IDF.

Character n-grams are strong on short Chinese texts and survive segmentation errors; BM25 on words rewards
rare list jargon (两违, 三资) that a character model dilutes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

DATA_DIR = Path(__file__).resolve().parent.parent / "corpus" / "data"
_NOISE = re.compile(r"[\s\d０-９a-zA-Z_~`!@#$%^&*()\-+=\[\]{}|\\;:'\",.<>/?，。！？、；：“”‘’（）【】《》…—·\u3000]+")


def _read_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]


@dataclass
class Segmenter:
    """A private jieba tokenizer (not jieba's global one) with the domain dictionary and stopwords loaded."""

    userdict: Path = DATA_DIR / "userdict.txt"
    stopwords_path: Path = DATA_DIR / "stopwords.txt"
    stopwords: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        import jieba

        jieba.setLogLevel(60)
        self._jieba = jieba.Tokenizer()
        if self.userdict.exists():
            self._jieba.load_userdict(str(self.userdict))
        self.stopwords = frozenset(_read_lines(self.stopwords_path))

    def add_words(self, words: list[str]) -> None:
        for w in words:
            if 2 <= len(w) <= 12:
                self._jieba.add_word(w, freq=2000)

    def words(self, text: str) -> list[str]:
        """Content words: no stopwords, punctuation, digits or single characters."""
        out = []
        for w in self._jieba.lcut(text, HMM=True):
            w = w.strip()
            if len(w) < 2 or w in self.stopwords or _NOISE.fullmatch(w):
                continue
            out.append(w)
        return out


def char_text(text: str) -> str:
    """Text reduced to what character n-grams should see."""
    return _NOISE.sub(" ", text).strip()


@dataclass
class BM25:
    k1: float = 1.2
    b: float = 0.75
    vocab: dict[str, int] = field(default_factory=dict)
    idf: np.ndarray | None = None
    doc_matrix: sp.csr_matrix | None = None  # (docs, vocab) BM25-weighted term frequencies

    def fit(self, docs: list[list[str]]) -> BM25:
        for doc in docs:
            for w in doc:
                self.vocab.setdefault(w, len(self.vocab))
        rows, cols, vals = [], [], []
        for i, doc in enumerate(docs):
            counts: dict[int, int] = {}
            for w in doc:
                counts[self.vocab[w]] = counts.get(self.vocab[w], 0) + 1
            rows.extend([i] * len(counts))
            cols.extend(counts.keys())
            vals.extend(counts.values())
        tf = sp.csr_matrix((vals, (rows, cols)), shape=(len(docs), max(len(self.vocab), 1)), dtype=np.float32)
        lengths = np.asarray(tf.sum(axis=1)).ravel()
        avg = float(lengths.mean()) if len(lengths) else 1.0
        df = np.bincount(tf.indices, minlength=tf.shape[1])
        n = len(docs)
        self.idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        tf = tf.tocoo()
        denom = tf.data + self.k1 * (1 - self.b + self.b * lengths[tf.row] / max(avg, 1e-6))
        weighted = tf.data * (self.k1 + 1) / denom * self.idf[tf.col]
        self.doc_matrix = sp.csr_matrix((weighted, (tf.row, tf.col)), shape=tf.shape, dtype=np.float32)
        return self

    def query_matrix(self, queries: list[list[str]]) -> sp.csr_matrix:
        rows, cols = [], []
        for i, q in enumerate(queries):
            ids = {self.vocab[w] for w in q if w in self.vocab}
            rows.extend([i] * len(ids))
            cols.extend(ids)
        data = np.ones(len(rows), dtype=np.float32)
        return sp.csr_matrix((data, (rows, cols)), shape=(len(queries), self.doc_matrix.shape[1]), dtype=np.float32)

    def scores(self, queries: list[list[str]]) -> np.ndarray:
        """(queries, docs) BM25 scores, divided by each query's best achievable score so they sit in [0, 1]."""
        q = self.query_matrix(queries)
        raw = np.asarray((q @ self.doc_matrix.T).todense(), dtype=np.float32)
        # Normalising by the query's own idf mass keeps scores comparable across queries of any length.
        ideal = np.asarray(q @ (self.idf * (self.k1 + 1)).reshape(-1, 1)).ravel()
        return raw / np.maximum(ideal, 1e-6)[:, None]


@dataclass
class LexicalIndex:
    """Word BM25 + char 1–3-gram TF-IDF over a fixed list of documents."""

    segmenter: Segmenter
    bm25: BM25 = field(default_factory=BM25)
    chars: TfidfVectorizer = field(
        default_factory=lambda: TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1)
    )
    char_matrix: sp.csr_matrix | None = None

    def fit(self, docs: list[str]) -> LexicalIndex:
        self.bm25.fit([self.segmenter.words(d) for d in docs])
        self.char_matrix = self.chars.fit_transform([char_text(d) for d in docs]).astype(np.float32).tocsr()
        return self

    def char_scores(self, queries: list[str]) -> np.ndarray:
        q = self.chars.transform([char_text(t) for t in queries]).astype(np.float32)
        return np.asarray((q @ self.char_matrix.T).todense(), dtype=np.float32)

    def word_scores(self, queries: list[str]) -> tuple[np.ndarray, list[list[str]]]:
        words = [self.segmenter.words(t) for t in queries]
        return self.bm25.scores(words), words
