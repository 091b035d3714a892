"""What the county report needs from the classified rows, kept as small mergeable counts per chunk.

A chunk's counts are saved with its checkpoint, so a resumed run reports exactly what an uninterrupted one would.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from inference.bulk.dates import month_key
from inference.bulk.output import ERROR_LABEL, OUT_OF_LIST_LABEL
from inference.matcher import Match

OUT_OF_LIST_SAMPLE = 2000  # out-of-list tickets kept (a fixed pseudo-random subset) for theme clustering


def sample_key(row_index: int) -> int:
    """A fixed pseudo-random rank for a row, so the sample is the same however the work was split or resumed."""
    x = (row_index + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def error_kind(error: str) -> str:
    return error.split("（")[0].split("：")[0].strip() or "其他"


@dataclass
class TicketStats:
    rows: int = 0
    errors: int = 0
    routed: int = 0
    error_kinds: Counter = field(default_factory=Counter)
    by_entry: Counter = field(default_factory=Counter)
    last_date: dict[str, str] = field(default_factory=dict)  # entry id -> ISO date of its latest ticket
    by_list_type: Counter = field(default_factory=Counter)
    monthly: dict[str, Counter] = field(default_factory=dict)  # "YYYY-MM" -> list type label -> tickets
    flags: Counter = field(default_factory=Counter)
    first_day: str = ""
    last_day: str = ""
    undated: int = 0
    # (-key, row index, text, cleaned text): a max-heap on key, keeping the smallest keys
    out_of_list_sample: list[tuple[int, int, str, str]] = field(default_factory=list)

    def add(self, row_index: int, m: Match | None, error: str, day: date | None, routed: bool) -> None:
        self.rows += 1
        self.routed += int(routed)
        if day is None:
            self.undated += 1
        else:
            iso = day.isoformat()
            self.first_day = min(self.first_day, iso) if self.first_day else iso
            self.last_day = max(self.last_day, iso)
        if m is None or m.best is None or error:
            self.errors += 1
            self.error_kinds[error_kind(error)] += 1
            label = ERROR_LABEL
        elif m.flags.out_of_list:
            label = OUT_OF_LIST_LABEL
            self._sample((-sample_key(row_index), row_index, m.text, m.cleaned))
        else:
            entry = m.best.entry
            label = entry.list_type.value
            self.by_entry[entry.id] += 1
            if day is not None and day.isoformat() > self.last_date.get(entry.id, ""):
                self.last_date[entry.id] = day.isoformat()
        self.by_list_type[label] += 1
        if m is not None and not error:
            for name in ("reclaimed", "zombie", "bottom_line", "needs_review"):
                self.flags[name] += int(getattr(m.flags, name))
        if day is not None:
            self.monthly.setdefault(month_key(day), Counter())[label] += 1

    def _sample(self, item: tuple[int, int, str, str]) -> None:
        if len(self.out_of_list_sample) < OUT_OF_LIST_SAMPLE:
            heapq.heappush(self.out_of_list_sample, item)
        elif item > self.out_of_list_sample[0]:
            heapq.heapreplace(self.out_of_list_sample, item)

    def merge(self, other: TicketStats) -> None:
        self.rows += other.rows
        self.errors += other.errors
        self.routed += other.routed
        self.error_kinds.update(other.error_kinds)
        self.by_entry.update(other.by_entry)
        for k, v in other.last_date.items():
            if v > self.last_date.get(k, ""):
                self.last_date[k] = v
        self.by_list_type.update(other.by_list_type)
        for month, counts in other.monthly.items():
            self.monthly.setdefault(month, Counter()).update(counts)
        self.flags.update(other.flags)
        days = [d for d in (self.first_day, other.first_day) if d]
        self.first_day = min(days) if days else ""
        self.last_day = max(self.last_day, other.last_day)
        self.undated += other.undated
        for item in other.out_of_list_sample:
            self._sample(item)

    def sample_texts(self) -> list[tuple[int, str, str]]:
        """The out-of-list sample as (row index, text, cleaned text), in row order."""
        return sorted((row, text, cleaned) for _, row, text, cleaned in self.out_of_list_sample)

    def to_dict(self) -> dict:
        return {
            "rows": self.rows,
            "errors": self.errors,
            "routed": self.routed,
            "error_kinds": dict(self.error_kinds),
            "by_entry": dict(self.by_entry),
            "last_date": self.last_date,
            "by_list_type": dict(self.by_list_type),
            "monthly": {k: dict(v) for k, v in self.monthly.items()},
            "flags": dict(self.flags),
            "first_day": self.first_day,
            "last_day": self.last_day,
            "undated": self.undated,
            "out_of_list_sample": [list(t) for t in sorted(self.out_of_list_sample)],
        }

    @classmethod
    def from_dict(cls, d: dict) -> TicketStats:
        s = cls(
            rows=d["rows"],
            errors=d["errors"],
            routed=d["routed"],
            error_kinds=Counter(d["error_kinds"]),
            by_entry=Counter(d["by_entry"]),
            last_date=dict(d["last_date"]),
            by_list_type=Counter(d["by_list_type"]),
            monthly={k: Counter(v) for k, v in d["monthly"].items()},
            flags=Counter(d["flags"]),
            first_day=d["first_day"],
            last_day=d["last_day"],
            undated=d["undated"],
        )
        s.out_of_list_sample = [tuple(t) for t in d["out_of_list_sample"]]
        heapq.heapify(s.out_of_list_sample)
        return s
