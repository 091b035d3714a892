"""What changed between two catalog versions, for the 清单 page.

Uses corpus.diff when that module is present (it follows renames, merges and splits); otherwise a plain
comparison by id, plus entries that kept their name under a new id.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from corpus.schema import Catalog, DutyEntry

COMPARED_FIELDS = ("name", "list_type", "category", "description", "office", "department", "bottom_line",
                   "reclaim_reason")
FIELD_LABELS = {"name": "事项名称", "list_type": "清单类型", "category": "类别", "description": "事项内容",
                "office": "承办机构", "department": "主责部门", "bottom_line": "兜底事项", "reclaim_reason": "收回原因"}


def _brief(entry: DutyEntry) -> dict:
    return {"id": entry.id, "name": entry.name, "list_type": entry.list_type.value, "office": entry.office,
            "department": entry.department}


def _value(entry: DutyEntry, name: str) -> Any:
    value = getattr(entry, name)
    return value.value if hasattr(value, "value") else value


def simple_diff(old: Catalog, new: Catalog) -> dict:
    old_ids = {e.id: e for e in old.entries}
    new_ids = {e.id: e for e in new.entries}
    changed = []
    for entry_id in old_ids.keys() & new_ids.keys():
        a, b = old_ids[entry_id], new_ids[entry_id]
        fields = {FIELD_LABELS[f]: [_value(a, f), _value(b, f)] for f in COMPARED_FIELDS if _value(a, f) != _value(b, f)}
        if fields:
            changed.append({"id": entry_id, "name": b.name, "fields": fields})
    removed = [old_ids[i] for i in old_ids.keys() - new_ids.keys()]
    added = [new_ids[i] for i in new_ids.keys() - old_ids.keys()]
    added_by_name = {e.name: e for e in added}
    moved = []
    for entry in list(removed):
        twin = added_by_name.get(entry.name)
        if twin is not None:
            moved.append({"name": entry.name, "old_id": entry.id, "new_id": twin.id})
            removed.remove(entry)
            added.remove(twin)
            del added_by_name[entry.name]
    key = lambda e: (len(e.id), e.id)  # noqa: E731  (numeric-looking ids in their natural order)
    return {
        "method": "按序号与名称比对",
        "added": [_brief(e) for e in sorted(added, key=key)],
        "removed": [_brief(e) for e in sorted(removed, key=key)],
        "changed": sorted(changed, key=lambda c: (len(c["id"]), c["id"])),
        "moved": moved,
        "unchanged": len(old_ids.keys() & new_ids.keys()) - len(changed),
    }


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "value") and isinstance(getattr(value, "value"), str):
        return value.value
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def diff_catalogs(old: Catalog, new: Catalog) -> dict:
    result = simple_diff(old, new)
    try:
        richer = importlib.import_module("corpus.diff")
    except ImportError:
        return result
    for name in ("diff_catalogs", "catalog_diff", "diff"):
        fn = getattr(richer, name, None)
        if callable(fn):
            try:
                detail = fn(old, new)
            except Exception as exc:  # the plain comparison above still answers
                result["detail_error"] = f"详细比对失败：{exc}"
                return result
            result["detail"] = _jsonable(detail.to_dict() if hasattr(detail, "to_dict") else detail)
            result["method"] = "按序号、名称与语义相似度比对"
            break
    return result
