"""Column headers of published duty lists (Chinese or English) and the cell values they hold."""

from __future__ import annotations

import re
import unicodedata

# Each DutyEntry field with the header spellings seen in published lists, best first: when a sheet has
# several columns for one field (主责部门 and 收回部门), a row takes the first non-empty one in this order.
FIELD_HEADERS: dict[str, tuple[str, ...]] = {
    "id": ("事项编号", "编号", "序号", "id"),
    "list_type": ("清单类型", "事项类型", "类型", "list_type"),
    "category": ("事项类别", "类别", "分类", "领域", "category"),
    "name": ("事项名称", "履职事项", "工作事项", "事项", "name"),
    "description": ("具体内容", "事项内容", "工作内容", "主要内容", "具体事项", "内容", "description"),
    "office": ("承办机构", "责任科室", "责任单位", "承办科室", "责任机构", "office"),
    "department": ("主责部门", "县级主责部门", "牵头部门", "收回部门", "承接部门", "配合部门", "上级部门", "department"),
    "bottom_line": ("兜底事项", "是否兜底", "兜底", "bottom_line"),
    "reclaim_reason": ("收回原因", "收回理由", "reclaim_reason"),
    # 备注 only becomes the reclaim reason on 收回 entries; elsewhere it is free commentary.
    "note": ("备注",),
    "aliases": ("别名", "曾用名", "aliases"),
}

# The header a person expects to see named in a message when the file has no such column.
CANONICAL_HEADER: dict[str, str] = {f: names[0] for f, names in FIELD_HEADERS.items()}

_NOTE_IN_BRACKETS = re.compile(r"[(\[【〔<《][^()\[\]【】〔〕<>《》]*[)\]】〕>》]$")
_DROPPED_CHARS = re.compile(r"[\s_\-*＊:：()\[\]【】〔〕<>《》]")


def normalize_header(text: str) -> str:
    """"事项名称（必填）", " 序 号 " and "List-Type" all reduce to the spelling used in FIELD_HEADERS."""
    value = unicodedata.normalize("NFKC", str(text)).strip()
    value = re.sub(r"\s+", "", value)
    previous = None
    while previous != value:
        previous = value
        value = _NOTE_IN_BRACKETS.sub("", value)
    return _DROPPED_CHARS.sub("", value).lower()


_FIELD_BY_HEADER: dict[str, tuple[str, int]] = {
    normalize_header(header): (field_name, rank)
    for field_name, headers in FIELD_HEADERS.items()
    for rank, header in enumerate(headers)
}


def field_for_header(text: str) -> tuple[str, int] | None:
    """(field, preference rank) for a header cell, or None for a column we do not read."""
    key = normalize_header(text)
    return _FIELD_BY_HEADER.get(key) if key else None


_TRUE_WORDS = {"是", "√", "✓", "✔", "☑", "yes", "y", "true", "1", "兜底", "兜底事项"}
_FALSE_WORDS = {"", "否", "不是", "非", "无", "no", "n", "false", "0", "×", "✗", "✘", "-", "—", "/"}


def parse_yes_no(text: str) -> bool | None:
    """True/False for the ways a 兜底 column says yes or no; None when the cell says something else."""
    value = unicodedata.normalize("NFKC", str(text)).strip().lower()
    if value in _TRUE_WORDS:
        return True
    if value in _FALSE_WORDS:
        return False
    return None


def split_aliases(text: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for part in re.split(r"[；;、|｜\n]", text):
        part = part.strip()
        if part:
            seen.setdefault(part, None)
    return tuple(seen)
