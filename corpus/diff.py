"""What became of each entry when a duty list is revised: unchanged, modified, renamed, merged, split, removed, added.

Published lists renumber freely (a row inserted near the top shifts every 序号 below it), so ids alone cannot be
trusted; entries are paired by name and text similarity, with a shared id only lowering the bar. The result also
moves reviewed texts and training examples from the old list's ids onto the new list's ids.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from corpus.schema import Catalog, DutyEntry


class PassageEncoder(Protocol):
    """What the comparison needs of an embedding model (models.embedder.Embedder is one): unit vectors."""

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...


MATCH_SIMILARITY = 0.6  # two entries are one entry carried over (possibly renamed) from here up
SAME_ID_SIMILARITY = 0.35  # ... or from here up when they also keep their id
PART_COVERAGE = 0.6  # share of a name's character pairs found in another entry's text to call it a part of it
PART_SIMILARITY = 0.2
MIN_PART_NAME_CHARS = 3  # names like "其他" are contained in too many texts to say anything
COMPARED_FIELDS = (
    "name",
    "list_type",
    "category",
    "description",
    "department_duty",
    "office",
    "department",
    "bottom_line",
    "reclaim_reason",
    "aliases",
)

FIELD_LABELS = {
    "id": "序号",
    "name": "事项名称",
    "list_type": "清单类型",
    "category": "类别",
    "description": "事项内容",
    "department_duty": "县级部门职责",
    "office": "承办机构",
    "department": "主责部门",
    "bottom_line": "兜底事项",
    "reclaim_reason": "收回原因",
    "aliases": "别名",
}

_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


class ChangeKind(str, Enum):  # noqa: UP042 -- StrEnum would change what str() and f-strings print for a member
    UNCHANGED = "未变"
    MODIFIED = "内容修改"
    RENAMED = "更名"
    MERGED = "合并"
    SPLIT = "拆分"
    REMOVED = "删除"
    ADDED = "新增"


@dataclass(frozen=True)
class EntryChange:
    kind: ChangeKind
    old_ids: tuple[str, ...]
    new_ids: tuple[str, ...]
    similarity: float = 0.0
    changed_fields: tuple[str, ...] = ()  # for one-to-one changes ("id" when only renumbered)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind.value,
            "old_ids": list(self.old_ids),
            "new_ids": list(self.new_ids),
            "similarity": round(self.similarity, 3),
            "changed_fields": list(self.changed_fields),
        }


@dataclass(frozen=True)
class CarriedExamples:
    examples: dict[str, list[str]]  # new entry id -> texts
    dropped: dict[str, list[str]]  # old entry id -> texts that have no place in the new list (entry removed)


def normalize_name(text: str) -> str:
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text)).lower()


def _entry_text(e: DutyEntry) -> str:
    return normalize_name(" ".join([e.name, e.description, e.department_duty, *e.aliases]))


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)} or ({text} if text else set())


def _changed_fields(old: DutyEntry, new: DutyEntry) -> tuple[str, ...]:
    fields = [f for f in COMPARED_FIELDS if getattr(old, f) != getattr(new, f)]
    if old.id != new.id:
        fields.insert(0, "id")
    return tuple(fields)


@dataclass
class _Similarity:
    """Entry-to-entry similarity between two lists: character n-grams, optionally averaged with embeddings."""

    old: tuple[DutyEntry, ...]
    new: tuple[DutyEntry, ...]
    embedder: PassageEncoder | None = None
    vectorizer: TfidfVectorizer = field(init=False)
    matrix: np.ndarray = field(init=False)  # (old, new)

    def __post_init__(self) -> None:
        old_texts = [_entry_text(e) for e in self.old]
        new_texts = [_entry_text(e) for e in self.new]
        old_names = [normalize_name(e.name) for e in self.old]
        new_names = [normalize_name(e.name) for e in self.new]
        self.vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        self.vectorizer.fit(old_texts + new_texts + old_names + new_names)
        text_sim = self._cosine(old_texts, new_texts)
        name_sim = self._cosine(old_names, new_names)
        sim = 0.4 * name_sim + 0.6 * text_sim
        if self.embedder is not None and self.old and self.new:
            # A revision repeats most entries word for word: encode each distinct text once.
            distinct = list(dict.fromkeys(e.text for e in (*self.old, *self.new)))
            row = {text: i for i, text in enumerate(distinct)}
            vectors = self.embedder.encode_passages(distinct)
            a = vectors[[row[e.text] for e in self.old]]
            b = vectors[[row[e.text] for e in self.new]]
            sim = 0.5 * sim + 0.5 * np.clip(a @ b.T, 0.0, 1.0)
        self.matrix = sim.astype(np.float32)

    def _cosine(self, a: list[str], b: list[str]) -> np.ndarray:
        if not a or not b:
            return np.zeros((len(a), len(b)), dtype=np.float32)
        return np.asarray((self.vectorizer.transform(a) @ self.vectorizer.transform(b).T).todense(), dtype=np.float32)

    def text_to_entries(self, text: str, entries: list[DutyEntry]) -> np.ndarray:
        q = self.vectorizer.transform([normalize_name(text)])
        m = self.vectorizer.transform([_entry_text(e) for e in entries])
        return np.asarray((q @ m.T).todense(), dtype=np.float32).ravel()


def _coverage(part_name: str, whole_text: str) -> float:
    """Share of part_name's character pairs that occur in whole_text."""
    grams = _bigrams(part_name)
    if not grams:
        return 0.0
    whole = _bigrams(whole_text)
    return sum(g in whole for g in grams) / len(grams)


@dataclass(frozen=True)
class CatalogDiff:
    old: Catalog
    new: Catalog
    changes: tuple[EntryChange, ...]
    similarity: _Similarity = field(repr=False, compare=False)

    def id_map(self) -> dict[str, tuple[str, ...]]:
        """Old entry id -> the new entry ids it became (empty tuple = removed)."""
        out: dict[str, tuple[str, ...]] = {}
        for c in self.changes:
            for old_id in c.old_ids:
                out[old_id] = c.new_ids
        return out

    def route(self, old_id: str, text: str = "") -> str | None:
        """The new entry id a text filed under old_id belongs to; a split entry sends it to its most similar part."""
        targets = self.id_map().get(str(old_id), ())
        if not targets:
            return None
        if len(targets) == 1 or not text:
            return targets[0]
        parts = [self.new.get(t) for t in targets]
        scores = self.similarity.text_to_entries(text, parts)
        return targets[int(np.argmax(scores))]

    def carry_over(self, examples: dict[str, list[str]]) -> CarriedExamples:
        carried: dict[str, list[str]] = {}
        dropped: dict[str, list[str]] = {}
        for old_id, texts in examples.items():
            for text in texts:
                target = self.route(old_id, text)
                if target is None:
                    dropped.setdefault(old_id, []).append(text)
                else:
                    carried.setdefault(target, []).append(text)
        return CarriedExamples(carried, dropped)

    def of_kind(self, kind: ChangeKind) -> list[EntryChange]:
        return [c for c in self.changes if c.kind is kind]

    def counts(self) -> dict[str, int]:
        return {k.value: len(self.of_kind(k)) for k in ChangeKind}

    def to_dict(self) -> dict:
        return {
            "old_version": self.old.version,
            "new_version": self.new.version,
            "counts": self.counts(),
            "changes": [c.to_dict() for c in self.changes],
        }


def diff_catalogs(old: Catalog, new: Catalog, embedder: PassageEncoder | None = None) -> CatalogDiff:
    olds, news = old.entries, new.entries
    sim = _Similarity(olds, news, embedder)
    S = sim.matrix
    partner_of_old: dict[int, int] = {}
    partner_of_new: dict[int, int] = {}

    def link(i: int, j: int) -> None:
        partner_of_old[i], partner_of_new[j] = j, i

    # 1. The same name on both sides, once each: the same entry whatever its number or wording now.
    old_by_name: dict[str, list[int]] = {}
    new_by_name: dict[str, list[int]] = {}
    for i, e in enumerate(olds):
        old_by_name.setdefault(normalize_name(e.name), []).append(i)
    for j, e in enumerate(news):
        new_by_name.setdefault(normalize_name(e.name), []).append(j)
    for name, ii in old_by_name.items():
        jj = new_by_name.get(name, [])
        if len(ii) == 1 and len(jj) == 1:
            link(ii[0], jj[0])
    # Names repeated within a list (e.g. under different categories) pair up by similarity below.

    # 2. Most similar pairs first; a kept id lowers the bar.
    if S.size:
        same_id = np.array([[o.id == n.id for n in news] for o in olds], dtype=bool)
        eligible = (S >= MATCH_SIMILARITY) | (same_id & (S >= SAME_ID_SIMILARITY))
        ii, jj = np.nonzero(eligible)
        order = np.argsort(-(S[ii, jj] + 0.05 * same_id[ii, jj]), kind="stable")
        for k in order:
            i, j = int(ii[k]), int(jj[k])
            if i not in partner_of_old and j not in partner_of_new:
                link(i, j)

    old_names = [normalize_name(e.name) for e in olds]
    new_names = [normalize_name(e.name) for e in news]
    old_texts = [_entry_text(e) for e in olds]
    new_texts = [_entry_text(e) for e in news]

    # 3. A new entry left over that is part of an old one: the old entry was split.
    split_parts: dict[int, list[int]] = {}
    for j in range(len(news)):
        if j in partner_of_new or len(new_names[j]) < MIN_PART_NAME_CHARS or not len(olds):
            continue
        cov = np.array([_coverage(new_names[j], t) for t in old_texts])
        i = int(np.argmax(cov + 0.01 * S[:, j]))
        if cov[i] >= PART_COVERAGE and S[i, j] >= PART_SIMILARITY:
            split_parts.setdefault(i, []).append(j)

    # 4. An old entry left over that is part of a new one: it was merged into it.
    merged_parts: dict[int, list[int]] = {}
    for i in range(len(olds)):
        if i in partner_of_old or i in split_parts or len(old_names[i]) < MIN_PART_NAME_CHARS or not len(news):
            continue
        cov = np.array([_coverage(old_names[i], t) for t in new_texts])
        j = int(np.argmax(cov + 0.01 * S[i, :]))
        if cov[j] >= PART_COVERAGE and S[i, j] >= PART_SIMILARITY:
            merged_parts.setdefault(j, []).append(i)

    changes: list[EntryChange] = []
    consumed_old: set[int] = set()
    consumed_new: set[int] = set()
    for i, parts in sorted(split_parts.items()):
        targets = ([partner_of_old[i]] if i in partner_of_old else []) + sorted(parts)
        if len(targets) < 2 and S[i, targets[0]] < SAME_ID_SIMILARITY:
            continue  # one weak part is no evidence the entry lives on
        kind = ChangeKind.SPLIT if len(targets) >= 2 else ChangeKind.RENAMED
        changes.append(
            EntryChange(kind, (olds[i].id,), tuple(news[j].id for j in targets), float(max(S[i, j] for j in targets)))
        )
        consumed_old.add(i)
        consumed_new.update(targets)
    for j, parts in sorted(merged_parts.items()):
        if j in consumed_new:
            continue
        sources = ([partner_of_new[j]] if j in partner_of_new else []) + sorted(parts)
        sources = [i for i in sources if i not in consumed_old]
        if not sources or (len(sources) < 2 and S[sources[0], j] < SAME_ID_SIMILARITY):
            continue
        kind = ChangeKind.MERGED if len(sources) >= 2 else ChangeKind.RENAMED
        changes.append(
            EntryChange(kind, tuple(olds[i].id for i in sources), (news[j].id,), float(max(S[i, j] for i in sources)))
        )
        consumed_old.update(sources)
        consumed_new.add(j)

    for i, j in sorted(partner_of_old.items()):
        if i in consumed_old or j in consumed_new:
            continue
        o, n = olds[i], news[j]
        fields = _changed_fields(o, n)
        if normalize_name(o.name) != normalize_name(n.name):
            kind = ChangeKind.RENAMED
        elif [f for f in fields if f != "id"]:
            kind = ChangeKind.MODIFIED
        else:
            kind = ChangeKind.UNCHANGED
        changes.append(EntryChange(kind, (o.id,), (n.id,), float(S[i, j]), fields))
        consumed_old.add(i)
        consumed_new.add(j)

    for i, o in enumerate(olds):
        if i not in consumed_old:
            changes.append(EntryChange(ChangeKind.REMOVED, (o.id,), ()))
    for j, n in enumerate(news):
        if j not in consumed_new:
            changes.append(EntryChange(ChangeKind.ADDED, (), (n.id,)))
    return CatalogDiff(old, new, tuple(_in_list_order(changes, old, new)), sim)


def _in_list_order(changes: list[EntryChange], old: Catalog, new: Catalog) -> list[EntryChange]:
    """Changes in the order of the new list, removed entries at the place they had in the old one."""
    new_pos = {e.id: k for k, e in enumerate(new.entries)}
    old_pos = {e.id: k for k, e in enumerate(old.entries)}

    def key(c: EntryChange) -> tuple[float, float]:
        if c.new_ids:
            return (min(new_pos[x] for x in c.new_ids), 0)
        return (old_pos[c.old_ids[0]] - 0.5, 1)

    return sorted(changes, key=key)
