"""What changed between two catalog versions, in the shape the 清单 page and /api/catalogs/diff show.

corpus.diff pairs entries by name and text similarity (renamed, merged, split, renumbered); this only words its
answer for the page.
"""

from __future__ import annotations

from typing import Any

from corpus.diff import FIELD_LABELS
from corpus.diff import diff_catalogs as pair_entries
from corpus.schema import Catalog

KIND_ORDER = ("新增", "删除", "合并", "拆分", "更名", "内容修改", "未变")
METHOD = "按名称、内容相似度与序号配对（可识别更名、合并、拆分、改号）"


def _brief(catalog: Catalog, entry_id: str) -> dict:
    entry = catalog.get(entry_id)
    if entry is None:
        return {"id": entry_id, "name": "", "list_type": ""}
    return {"id": entry.id, "name": entry.name, "list_type": entry.list_type.value}


def diff_catalogs(old: Catalog, new: Catalog, embedder: Any = None) -> dict:
    changes = [
        {
            "kind": c.kind.value,
            "old": [_brief(old, i) for i in c.old_ids],
            "new": [_brief(new, i) for i in c.new_ids],
            "similarity": round(float(c.similarity), 3),
            "fields": [FIELD_LABELS.get(f, f) for f in c.changed_fields],
        }
        for c in pair_entries(old, new, embedder).changes
    ]
    counts = {k: 0 for k in KIND_ORDER}  # every corpus.diff ChangeKind, in the order the page lists them
    for c in changes:
        counts[c["kind"]] += 1
    shown = sorted((c for c in changes if c["kind"] != "未变"), key=lambda c: KIND_ORDER.index(c["kind"]))
    return {"method": METHOD, "counts": counts, "changes": shown, "unchanged": counts.get("未变", 0)}
