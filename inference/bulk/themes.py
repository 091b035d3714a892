"""Out-of-list tickets grouped into themes: what the township is asked to do that its duty list does not cover.

These are the candidates for the 职责准入 procedure, so each theme is named by its most telling words and shown
with a few of its tickets.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

MAX_THEMES = 8
MIN_PER_THEME = 3
EXAMPLES = 3


@dataclass(frozen=True)
class Theme:
    keywords: tuple[str, ...]
    size: int  # tickets of the sample in this theme
    estimated: int  # scaled to all out-of-list tickets
    examples: tuple[tuple[int, str], ...]  # (row number, text)

    def to_dict(self) -> dict:
        return {
            "keywords": list(self.keywords),
            "size": self.size,
            "estimated": self.estimated,
            "examples": [{"row": r, "text": t} for r, t in self.examples],
        }


def _words(segmenter, text: str) -> list[str]:
    return [w for w in segmenter.words(text) if not w.isdigit()]


def cluster_themes(items: list[tuple[int, str, str]], total_out_of_list: int, segmenter=None) -> list[Theme]:
    """items: (row number, text, cleaned text) of the sampled out-of-list tickets; clustered on the cleaned text
    (no greetings, names or phone numbers), shown with the original. Deterministic for the same items."""
    if len(items) < MIN_PER_THEME:
        if not items:
            return []
        return [Theme((), len(items), total_out_of_list, tuple((r, t) for r, t, _ in items[:EXAMPLES]))]
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    if segmenter is None:
        from models.lexical import Segmenter

        segmenter = Segmenter()
    docs = [" ".join(_words(segmenter, c)) or c for _, _, c in items]
    vectorizer = TfidfVectorizer(analyzer=str.split, sublinear_tf=True, min_df=1)
    try:
        matrix = vectorizer.fit_transform(docs)
    except ValueError:  # no words at all
        return [Theme((), len(items), total_out_of_list, tuple((r, t) for r, t, _ in items[:EXAMPLES]))]
    k = int(min(MAX_THEMES, max(1, len(items) // (2 * MIN_PER_THEME)), matrix.shape[0]))
    if k <= 1:
        labels = np.zeros(len(items), dtype=int)
        centers = np.asarray(matrix.mean(axis=0))
    else:
        model = KMeans(n_clusters=k, n_init=4, random_state=0).fit(matrix)
        labels, centers = model.labels_, model.cluster_centers_
    vocab = np.array(vectorizer.get_feature_names_out())
    scale = total_out_of_list / len(items)
    themes = []
    for label, size in Counter(labels.tolist()).most_common():
        members = [i for i in np.flatnonzero(labels == label)]
        center = np.asarray(centers[label]).ravel()
        top = [str(vocab[i]) for i in np.argsort(-center, kind="stable")[:4] if center[i] > 0]
        # Examples closest to the centre read as the theme, not its outliers.
        sims = np.asarray(matrix[members] @ center.reshape(-1, 1)).ravel()
        order = [members[j] for j in np.argsort(-sims, kind="stable")[:EXAMPLES]]
        themes.append(Theme(tuple(top), int(size), int(round(size * scale)), tuple(items[j][:2] for j in order)))
    return themes
