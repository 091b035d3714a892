"""What changed between two catalog versions, for the 清单 page and /api/catalogs/diff.

corpus.diff pairs entries by name and text similarity (renamed, merged, split, renumbered); when it is missing,
a plain comparison by id and by name answers in the same shape.
"""

from __future__ import annotations

import importlib
from typing import Any

from corpus.schema import Catalog, DutyEntry

COMPARED_FIELDS = ("name", "list_type", "category", "description", "office", "department", "bottom_line",
                   "reclaim_reason", "aliases")
FIELD_LABELS = {"id": "序号", "name": "事项名称", "list_type": "清单类型", "category": "类别", "description": "事项内容",
                "office": "承办机构", "department": "主责部门", "bottom_line": "兜底事项", "reclaim_reason": "收回原因",
                "aliases": "别名"}
KIND_ORDER = ("新增", "删除", "合并", "拆分", "更名", "内容修改", "未变")


def _brief(entry: DutyEntry | None, entry_id: str) -> dict:
    if entry is None:
        return {"id": entry_id, "name": "", "list_type": ""}
    return {"id": entry.id, "name": entry.name, "list_type": entry.list_type.value}


def _change(kind: str, old: Catalog, new: Catalog, old_ids, new_ids, similarity: float = 0.0,
            fields=()) -> dict:
    return {"kind": kind, "old": [_brief(old.get(i), i) for i in old_ids],
            "new": [_brief(new.get(i), i) for i in new_ids], "similarity": round(float(similarity), 3), "fields": [FIELD_LABELS.get(f, f) for f in fields]}


def _value(entry: DutyEntry, name: str) -> Any:
    value = getattr(entry, name)
    return value.value if hasattr(value, "value") else value


def simple_diff(old: Catalog, new: Catalog) -> list[dict]:
    old_ids = {e.id: e for e in old.entries}
    new_ids = {e.id: e for e in new.entries}
    changes = []
    for entry_id in sorted(old_ids.keys() & new_ids.keys(), key=lambda i: (len(i), i)):
        a, b = old_ids[entry_id], new_ids[entry_id]
        fields = [f for f in COMPARED_FIELDS if _value(a, f) != _value(b, f)]
        kind = "未变" if not fields else "更名" if "name" in fields else "内容修改"
        changes.append(_change(kind, old, new, [entry_id], [entry_id], 1.0, fields))
    removed = [old_ids[i] for i in old_ids.keys() - new_ids.keys()]
    added = {e.name: e for e in (new_ids[i] for i in new_ids.keys() - old_ids.keys())}
    for entry in sorted(removed, key=lambda e: (len(e.id), e.id)):
        twin = added.pop(entry.name, None)
        if twin is not None:  # same name under a new number
            changes.append(_change("内容修改", old, new, [entry.id], [twin.id], 1.0, ["id"]))
        else:
            changes.append(_change("删除", old, new, [entry.id], []))
    for entry in sorted(added.values(), key=lambda e: (len(e.id), e.id)):
        changes.append(_change("新增", old, new, [], [entry.id]))
    return changes


def diff_catalogs(old: Catalog, new: Catalog, embedder: Any = None) -> dict:
    try:
        richer = importlib.import_module("corpus.diff")
        detail = richer.diff_catalogs(old, new, embedder)
        changes = [_change(c.kind.value, old, new, c.old_ids, c.new_ids, c.similarity, c.changed_fields)
                   for c in detail.changes]
        method = "按名称、内容相似度与序号配对（可识别更名、合并、拆分、改号）"
    except (ImportError, AttributeError):
        changes = simple_diff(old, new)
        method = "按序号与名称比对"
    counts = {k: 0 for k in KIND_ORDER}
    for c in changes:
        counts[c["kind"]] = counts.get(c["kind"], 0) + 1
    shown = sorted((c for c in changes if c["kind"] != "未变"),
                   key=lambda c: KIND_ORDER.index(c["kind"]) if c["kind"] in KIND_ORDER else len(KIND_ORDER))
    return {"method": method, "counts": counts, "changes": shown, "unchanged": counts.get("未变", 0)}
