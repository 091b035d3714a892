"""What a merge proposes: groups of raw items, each with a proposed duty name and its place against the catalog."""

from __future__ import annotations

from dataclasses import dataclass, field

from corpus.schema import DutyEntry
from inference.merge.items import RawItem

VERDICT_EXISTING = "对应现有事项"
VERDICT_NEW = "新增事项"
VERDICT_RECLAIMED = "收回事项"
VERDICT_ZOMBIE = "僵尸事项"
VERDICTS = (VERDICT_EXISTING, VERDICT_NEW, VERDICT_RECLAIMED, VERDICT_ZOMBIE)


@dataclass
class MergeMember:
    item: RawItem
    similarity: float  # mean similarity to the group's other members (1.0 alone)
    best_entry: DutyEntry | None = None  # the member's own best catalog entry, for the reviewer
    best_confidence: float = 0.0


@dataclass
class MergeGroup:
    group_id: str
    proposed_name: str
    members: list[MergeMember]
    cohesion: float  # mean pairwise similarity of members (1.0 for a singleton)
    nearest_entry: DutyEntry | None
    nearest_score: float  # 0..1: how much of the group the catalog files, confidently, under nearest_entry
    verdict: str  # one of VERDICTS

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def townships(self) -> dict[str, list[str]]:
        """Township -> how its members word this duty, in input order; the cross-township view."""
        out: dict[str, list[str]] = {}
        for m in self.members:
            out.setdefault(m.item.township, []).append(m.item.text)
        return out

    def to_dict(self) -> dict:
        e = self.nearest_entry
        return {
            "group_id": self.group_id,
            "proposed_name": self.proposed_name,
            "size": self.size,
            "cohesion": round(self.cohesion, 4),
            "verdict": self.verdict,
            "nearest_entry": None
            if e is None
            else {
                "id": e.id,
                "name": e.name,
                "list_type": e.list_type.value,
                "zombie": e.is_zombie,
                "department": e.department,
                "office": e.office,
            },
            "nearest_score": round(self.nearest_score, 4),
            "townships": self.townships,
            "members": [
                {
                    "id": m.item.id,
                    "text": m.item.text,
                    "township": m.item.township,
                    "similarity": round(m.similarity, 4),
                    "extra": m.item.extra,
                    "best_entry": None if m.best_entry is None else {"id": m.best_entry.id, "name": m.best_entry.name},
                    "best_confidence": round(m.best_confidence, 4),
                }
                for m in self.members
            ],
        }


@dataclass
class MergeResult:
    groups: list[MergeGroup]
    granularity: float
    catalog_version: str
    catalog_name: str = ""
    threshold: float = 0.0  # the average-similarity bar merges had to clear
    target_groups: int | None = None
    n_items: int = 0
    n_distinct: int = 0  # items left after folding identical wording
    item_vectors: str = ""  # what embedded the items: static, transformer, or lexical (no model)
    timings: dict[str, float] = field(default_factory=dict)

    def labels(self) -> dict[str, str]:
        """Item id -> group id."""
        return {m.item.id: g.group_id for g in self.groups for m in g.members}

    @property
    def singletons(self) -> int:
        return sum(1 for g in self.groups if g.size == 1)

    def verdict_counts(self) -> dict[str, int]:
        counts = {v: 0 for v in VERDICTS}
        for g in self.groups:
            counts[g.verdict] += 1
        return counts

    def to_dict(self) -> dict:
        return {
            "granularity": self.granularity,
            "threshold": round(self.threshold, 4),
            "target_groups": self.target_groups,
            "catalog_version": self.catalog_version,
            "catalog_name": self.catalog_name,
            "n_items": self.n_items,
            "n_distinct": self.n_distinct,
            "item_vectors": self.item_vectors,
            "n_groups": len(self.groups),
            "singletons": self.singletons,
            "verdicts": self.verdict_counts(),
            "groups": [g.to_dict() for g in self.groups],
        }
