"""The concept/alias lexicon: how citizens and staff say what duty lists call by official names.

Knowledge here is written for township work in general, not for one list, so it carries to lists never seen.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Concept:
    key: str
    official: tuple[str, ...]  # list wording
    colloquial: tuple[str, ...]  # ticket / staff wording

    @property
    def phrases(self) -> tuple[str, ...]:
        return (self.key, *self.official, *self.colloquial)


@dataclass
class PhraseIndex:
    """Finds which concepts' phrases occur in a text; indexed by each phrase's first two characters."""

    concepts: list[Concept]
    _by_prefix: dict[str, list[tuple[str, int]]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        table: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for idx, concept in enumerate(self.concepts):
            for phrase in set(concept.phrases):
                if len(phrase) >= 2:
                    table[phrase[:2]].append((phrase, idx))
        for items in table.values():
            items.sort(key=lambda pi: -len(pi[0]))
        self._by_prefix = dict(table)

    def find(self, text: str) -> dict[int, str]:
        """Concept index -> the longest phrase of it found in text."""
        hits: dict[int, str] = {}
        for i in range(len(text) - 1):
            for phrase, idx in self._by_prefix.get(text[i : i + 2], ()):
                if text.startswith(phrase, i) and len(phrase) > len(hits.get(idx, "")):
                    hits[idx] = phrase
        return hits


def _split(cell: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in cell.replace("｜", "|").split("|") if p.strip())


def load_concepts(path: Path = DATA_DIR / "concepts.tsv") -> list[Concept]:
    concepts = []
    if not path.exists():
        return concepts
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        cols = line.split("\t")
        if n == 0 and cols[0] == "概念" or not line.strip() or line.startswith("#"):
            continue
        cols += [""] * (3 - len(cols))
        concepts.append(Concept(cols[0].strip(), _split(cols[1]), _split(cols[2])))
    return concepts


def load_out_of_scope(path: Path = DATA_DIR / "out_of_scope.tsv") -> list[Concept]:
    themes = []
    if not path.exists():
        return themes
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        cols = line.split("\t")
        if n == 0 and cols[0] == "主题" or not line.strip() or line.startswith("#"):
            continue
        themes.append(Concept(cols[0].strip(), (), _split(cols[1]) if len(cols) > 1 else ()))
    return themes


@dataclass
class Lexicon:
    concepts: PhraseIndex
    out_of_scope: PhraseIndex

    @classmethod
    def load(cls, data_dir: Path = DATA_DIR) -> Lexicon:
        return cls(
            PhraseIndex(load_concepts(data_dir / "concepts.tsv")),
            PhraseIndex(load_out_of_scope(data_dir / "out_of_scope.tsv")),
        )

    def expansion(self, text: str) -> tuple[str, dict[int, str]]:
        """Official terms for the concepts a text mentions, to append to it, and the hits themselves."""
        hits = self.concepts.find(text)
        terms = []
        for idx in hits:
            concept = self.concepts.concepts[idx]
            for term in concept.official[:2] or (concept.key,):
                if term not in text and term not in terms:
                    terms.append(term)
        return " ".join(terms), hits
