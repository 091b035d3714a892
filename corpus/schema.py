"""The duty-list data model: one DutyEntry per row of a published 履职事项清单."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import asdict, dataclass, field
from enum import Enum


class ListType(str, Enum):  # noqa: UP042 -- StrEnum would change what str() and f-strings print for a member
    BASIC = "基本履职事项"
    COOPERATE = "配合履职事项"
    RECLAIMED = "上级部门收回事项"

    @property
    def short(self) -> str:
        return {"基本履职事项": "基本", "配合履职事项": "配合", "上级部门收回事项": "收回"}[self.value]


# Spellings seen in published lists and spreadsheets for each list type.
_LIST_TYPE_WORDS: dict[ListType, tuple[str, ...]] = {
    ListType.BASIC: ("基本履职事项", "基本履职", "基本职责", "基本事项", "基本", "basic"),
    ListType.COOPERATE: ("配合履职事项", "配合履职", "配合职责", "配合事项", "配合", "cooperate", "cooperative"),
    ListType.RECLAIMED: (
        "上级部门收回事项",
        "上级部门收回",
        "收回事项",
        "收回",
        "上级收回",
        "部门收回",
        "收回上级",
        "reclaimed",
    ),
}


def parse_list_type(value: str) -> ListType | None:
    """Map a cell or sheet/file name to a ListType; None when it names none."""
    text = "".join(str(value).split()).lower()
    text = text.replace("清单", "").strip("一二三四五六七八九十、.（）()0123456789")
    if not text:
        return None
    for list_type, words in _LIST_TYPE_WORDS.items():
        if text in words:
            return list_type
    for list_type, words in _LIST_TYPE_WORDS.items():
        if any(len(w) >= 4 and w in text for w in words):
            return list_type
    return None


ZOMBIE_WORDS = ("僵尸", "长期未发生", "多年未发生", "近年未发生", "近三年未发生", "实际未发生", "未实际发生")


@dataclass(frozen=True)
class DutyEntry:
    id: str
    name: str
    list_type: ListType = ListType.BASIC
    category: str = ""
    description: str = ""
    office: str = ""
    department: str = ""
    bottom_line: bool = False
    reclaim_reason: str = ""
    aliases: tuple[str, ...] = ()
    # 配合 lists print the boundary of a shared duty in two columns: what the township does (description) and
    # what the county department does (县级部门职责). The county part names the matter in its own words, which
    # is often how a ticket describes it.
    department_duty: str = ""

    @property
    def is_reclaimed(self) -> bool:
        return self.list_type is ListType.RECLAIMED

    @property
    def is_zombie(self) -> bool:
        return self.is_reclaimed and any(w in self.reclaim_reason for w in ZOMBIE_WORDS)

    @property
    def text(self) -> str:
        """What the matcher reads for this entry."""
        details = [t for t in (self.description, self.department_duty) if t and t != self.name]
        return "：".join([self.name, "；".join(details)]) if details else self.name

    def to_dict(self) -> dict:
        d = asdict(self)
        d["list_type"] = self.list_type.value
        d["aliases"] = list(self.aliases)
        if not self.department_duty:
            del d["department_duty"]  # lists without it keep the version (and the indexes) they always had
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DutyEntry:
        return cls(
            id=str(d["id"]),
            name=d["name"],
            list_type=ListType(d.get("list_type") or ListType.BASIC.value),
            category=d.get("category", ""),
            description=d.get("description", ""),
            office=d.get("office", ""),
            department=d.get("department", ""),
            bottom_line=bool(d.get("bottom_line", False)),
            reclaim_reason=d.get("reclaim_reason", ""),
            aliases=tuple(d.get("aliases", ())),
            department_duty=d.get("department_duty", ""),
        )


def content_hash(entries: list[DutyEntry]) -> str:
    blob = json.dumps([e.to_dict() for e in entries], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


def _loose(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", str(text)).split()).lower()


@dataclass(frozen=True)
class Catalog:
    """One imported version of a duty list. `version` is the content hash, so the same list imports to the same version."""

    name: str
    entries: tuple[DutyEntry, ...]
    version: str = ""
    imported_at: str = ""
    source: str = ""
    _by_id: dict = field(default_factory=dict, repr=False, compare=False)
    _by_label: dict = field(default_factory=dict, repr=False, compare=False)  # loose id / loose name -> entries

    def __post_init__(self) -> None:
        if not self.version:
            object.__setattr__(self, "version", content_hash(list(self.entries)))
        object.__setattr__(self, "_by_id", {e.id: e for e in self.entries})
        by_label: dict[tuple[str, str], list[DutyEntry]] = {}
        for e in self.entries:
            by_label.setdefault(("id", _loose(e.id)), []).append(e)
            by_label.setdefault(("name", _loose(e.name)), []).append(e)
        object.__setattr__(self, "_by_label", by_label)

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, entry_id: str) -> DutyEntry | None:
        return self._by_id.get(str(entry_id))

    def find(self, label: str) -> DutyEntry | None:
        """The entry a person's label names: its id, the id written loosely (jb034, ＪＢ034), or its name when no
        other entry shares it. Labelled sets and pairs files are written by hand, and by name as often as by id."""
        found = self.get(label)
        if found is not None:
            return found
        key = _loose(label)
        same_id = self._by_label.get(("id", key), [])
        named = self._by_label.get(("name", key), [])
        return (same_id or named)[0] if len(same_id) == 1 or (not same_id and len(named) == 1) else None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "imported_at": self.imported_at,
            "source": self.source,
            "entries": [e.to_dict() for e in self.entries],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Catalog:
        return cls(
            name=d.get("name", ""),
            entries=tuple(DutyEntry.from_dict(e) for e in d["entries"]),
            version=d.get("version", ""),
            imported_at=d.get("imported_at", ""),
            source=d.get("source", ""),
        )
