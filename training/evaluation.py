"""Top-1, top-5 and MRR of a model on labelled texts: through the whole matcher, and through the embedding alone."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from corpus.schema import Catalog
from inference.matcher import Matcher
from lvzhi.config import Settings
from models.registry import ValidationScores
from training.data import LabelledText

if TYPE_CHECKING:
    from models.embedder import Embedder

RANK_DEPTH = 10  # candidates looked at; a gold entry ranked lower counts 0 towards MRR


def ranking_scores(ranks: list[int | None]) -> ValidationScores:
    """ranks: 1-based rank of the gold entry per item, None when not found."""
    n = len(ranks)
    if not n:
        return ValidationScores(0.0, 0.0, 0.0, 0)
    top1 = sum(1 for r in ranks if r == 1) / n
    top5 = sum(1 for r in ranks if r is not None and r <= 5) / n
    mrr = sum(1.0 / r for r in ranks if r is not None) / n
    return ValidationScores(top1, top5, mrr, n)


def build_matcher(
    settings: Settings, catalog: Catalog, embedder: Embedder, examples: dict[str, list[str]] | None = None
) -> Matcher:
    """The matcher as it would answer with this model and these confirmed examples in its index."""
    return Matcher(catalog=catalog, embedder=embedder, settings=settings, examples=copy.deepcopy(examples or {}))


def in_query_form(matcher: Matcher, items: list[LabelledText]) -> list[LabelledText]:
    """The items with their texts as the matcher's dense channel encodes them (see Matcher.query_forms)."""
    forms = matcher.query_forms([x.text for x in items])
    return [replace(x, text=form) for x, form in zip(items, forms)]


def matcher_scores(matcher: Matcher, items: list[LabelledText]) -> ValidationScores:
    if not items:
        return ranking_scores([])
    matches = matcher.match([x.text for x in items], top_k=RANK_DEPTH)
    ranks = []
    for item, m in zip(items, matches):
        ids = [c.entry.id for c in m.candidates]
        ranks.append(ids.index(item.entry_id) + 1 if item.entry_id in ids else None)
    return ranking_scores(ranks)


def dense_scores(
    embedder: Embedder, catalog: Catalog, items: list[LabelledText], batch_size: int = 64
) -> ValidationScores:
    """The embedding on its own: entries ranked by cosine between the text and the entry's text."""
    if not items:
        return ranking_scores([])
    entries = catalog.entries
    passages = embedder.encode_passages([e.text for e in entries], batch_size=batch_size)
    queries = embedder.encode_queries([x.text for x in items], batch_size=batch_size)
    sims = queries @ passages.T
    position = {e.id: i for i, e in enumerate(entries)}
    ranks = []
    for row, item in zip(sims, items):
        gold = position.get(item.entry_id)
        if gold is None:
            ranks.append(None)
            continue
        rank = int(np.sum(row > row[gold])) + 1
        ranks.append(rank if rank <= RANK_DEPTH else None)
    return ranking_scores(ranks)


def examples_by_entry(labelled: list[LabelledText]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for x in labelled:
        out.setdefault(x.entry_id, []).append(x.text)
    return out
