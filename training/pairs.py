"""Contrastive training pairs: a query-side text, the entry it belongs to, and a confusable entry it does not."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from corpus.schema import Catalog
from corpus.training_corpus import CorpusItem
from training.data import LabelledText, RejectedText

if TYPE_CHECKING:
    from models.embedder import Embedder

CONFUSABLE_PER_ENTRY = 3


@dataclass(frozen=True)
class ContrastivePair:
    anchor: str  # encoded as a query (a ticket, a work item, an entry's description)
    positive: str  # encoded as a passage: the text of the entry the anchor belongs to
    negative: str = ""  # encoded as a passage: a confusable entry the anchor does not belong to ("" = none)
    group: str = ""  # pairs of one group never share a batch: their positives would be counted as negatives
    source: str = ""


def catalog_pairs(catalog: Catalog) -> list[ContrastivePair]:
    """What a list says about itself: an entry's description, its county department's part and its aliases are
    other ways of saying its name."""
    out = []
    for e in catalog.entries:
        for detail in dict.fromkeys((e.description, e.department_duty)):
            if detail and detail != e.name:
                out.append(ContrastivePair(detail, e.name, group=e.id, source="清单"))
        for alias in e.aliases:
            if alias and alias != e.name:
                out.append(ContrastivePair(alias, e.text, group=e.id, source="清单"))
    return out


def corpus_pairs(items: list[CorpusItem], catalog: Catalog) -> list[ContrastivePair]:
    """Each in-list ticket of the training corpus against its entry's text (out-of-list items have no positive)."""
    out = []
    for item in items:
        entry = catalog.get(item.gold) if item.gold else None
        if entry is not None:
            out.append(ContrastivePair(item.text, entry.text, group=entry.id, source="语料"))
    return out


def labelled_pairs(labelled: list[LabelledText], catalog: Catalog) -> list[ContrastivePair]:
    out = []
    for item in labelled:
        entry = catalog.get(item.entry_id)
        if entry is not None:
            out.append(ContrastivePair(item.text, entry.text, group=entry.id, source=item.source))
    return out


def confusable_entries(
    embedder: Embedder, catalog: Catalog, k: int = CONFUSABLE_PER_ENTRY, batch_size: int = 64
) -> dict[str, list[str]]:
    """Each entry's k nearest other entries under the current model: the mistakes it is most likely to make."""
    entries = catalog.entries
    if len(entries) < 2:
        return {}
    vectors = embedder.encode_passages([e.text for e in entries], batch_size=batch_size)
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    k = min(k, len(entries) - 1)
    out = {}
    for i, e in enumerate(entries):
        nearest = np.argpartition(-sims[i], k - 1)[:k]
        nearest = nearest[np.argsort(-sims[i][nearest], kind="stable")]
        out[e.id] = [entries[j].id for j in nearest]
    return out


def with_hard_negatives(
    pairs: list[ContrastivePair], catalog: Catalog, confusable: dict[str, list[str]], rejected: list[RejectedText] = ()
) -> list[ContrastivePair]:
    """Give each pair a negative: the entry a reviewer rejected for that very text, else a confusable neighbour of
    its entry (taken in turn, so an entry's pairs see all of its neighbours)."""
    rejected_for: dict[str, list[str]] = defaultdict(list)
    for r in rejected:
        rejected_for[r.text].append(r.entry_id)
    turn: dict[str, int] = defaultdict(int)
    out = []
    for p in pairs:
        negative_id = ""
        for candidate in rejected_for.get(p.anchor, ()):
            if candidate != p.group and catalog.get(candidate) is not None:
                negative_id = candidate
                break
        if not negative_id and confusable.get(p.group):
            options = confusable[p.group]
            negative_id = options[turn[p.group] % len(options)]
            turn[p.group] += 1
        negative = catalog.get(negative_id).text if negative_id else ""
        out.append(ContrastivePair(p.anchor, p.positive, negative, p.group, p.source))
    return out


def data_hash(pairs: list[ContrastivePair], catalog: Catalog) -> str:
    """Identifies the training data: the same pairs for the same list version hash the same."""
    blob = json.dumps(
        {"catalog": catalog.version, "pairs": sorted(json.dumps(asdict(p), ensure_ascii=False) for p in pairs)},
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
