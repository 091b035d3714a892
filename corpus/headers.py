"""Column headers of published duty lists (Chinese or English) and the cell values they hold."""

from __future__ import annotations

import re
import unicodedata

# Each DutyEntry field with the header spellings seen in published lists, best first: when a sheet has
# several columns for one field (主责部门 and 收回部门), a row takes the first non-empty one in this order.
FIELD_HEADERS: dict[str, tuple[str, ...]] = {
    "id": ("事项编号", "编号", "序号", "事项序号", "事项编码", "编码", "id"),
    "list_type": ("清单类型", "事项类型", "类型", "履职类型", "事项性质", "list_type"),
    "category": (
        "事项类别",
        "类别",
        "分类",
        "领域",
        "事项分类",
        "职责类别",
        "所属领域",
        "业务领域",
        "一级事项",
        "category",
    ),
    "name": (
        "事项名称",
        "履职事项",
        "工作事项",
        "事项",
        "履职事项名称",
        "职责事项",
        "职责事项名称",
        "职责名称",
        "二级事项",
        "清单事项",
        "name",
    ),
    "description": (
        "具体内容",
        "事项内容",
        "工作内容",
        "主要内容",
        "具体事项",
        "内容",
        "具体工作事项",
        "具体工作内容",
        "履职内容",
        "职责内容",
        "具体职责",
        "主要职责",
        "工作职责",
        "事项描述",
        "三级事项",
        "description",
    ),
    "office": (
        "承办机构",
        "责任科室",
        "责任单位",
        "承办科室",
        "责任机构",
        "承办单位",
        "承办站所",
        "内设机构",
        "office",
    ),
    "department": (
        "主责部门",
        "县级主责部门",
        "牵头部门",
        "收回部门",
        "承接部门",
        "配合部门",
        "上级部门",
        "department",
    ),
    "bottom_line": ("兜底事项", "是否兜底", "兜底", "bottom_line"),
    "reclaim_reason": ("收回原因", "收回理由", "调整理由", "调整原因", "reclaim_reason"),
    # 备注 only becomes the reclaim reason on 收回 entries; elsewhere it is free commentary.
    "note": ("备注",),
    "aliases": ("别名", "曾用名", "aliases"),
    # A column headed 县级部门职责 is read as a description column and kept here when the township's part is also
    # given (corpus.importer); this spelling is how an exported catalog names it.
    "department_duty": ("department_duty",),
}

# Headers outside the table above are read by the words they contain, first rule first, ranked after every exact
# spelling. Published lists word their headers freely (县级牵头部门（主责部门）, 乡镇（街道）配合职责, 承办科室（站所）),
# and a list that cannot be imported at all is worse than one whose odd column is read by its words.
HEADER_WORDS: tuple[tuple[str | None, tuple[str, ...]], ...] = (
    (None, ("依据", "方式", "时限", "流程", "来源", "层级", "频次", "联系", "电话")),  # columns we do not read
    ("bottom_line", ("兜底",)),
    ("note", ("备注",)),  # 备注说明 is a note, not the content
    ("id", ("编号", "序号", "编码")),
    ("reclaim_reason", ("理由", "原因")),
    ("category", ("一级",)),
    ("description", ("具体", "三级", "子项", "细项")),
    ("name", ("名称", "二级")),  # unless a body's name (部门名称): checked below
    ("description", ("内容", "职责", "描述", "说明", "任务")),
    ("office", ("科室", "股室", "机构", "站所", "办公室", "内设")),
    ("department", ("部门", "单位")),
    ("category", ("类别", "领域", "分类")),
    ("aliases", ("别名", "又称")),
)
# No rule for 类型: lists also have columns such as 权力类型 (行政许可, 公共服务) that are not the list type, and a
# list-type column that cannot be read refuses the whole file.
_BODY_WORDS = ("部门", "单位", "科室", "机构")
# 类别名称 and 事项分类名称 name the category, not the duty.
_CATEGORY_WORDS = ("类别", "分类")
# Among several description columns of a 配合 list, the township's own part first, the county's after.
_TOWNSHIP_WORDS = ("乡镇", "街道", "镇")
_COUNTY_WORDS = ("县", "区级", "部门", "上级")
FUZZY_RANK = 100

# The header a person expects to see named in a message when the file has no such column.
CANONICAL_HEADER: dict[str, str] = {f: names[0] for f, names in FIELD_HEADERS.items()}

_NOTE_IN_BRACKETS = re.compile(r"[(\[【〔<《][^()\[\]【】〔〕<>《》]*[)\]】〕>》]$")
_DROPPED_CHARS = re.compile(r"[\s_\-*＊:：()\[\]【】〔〕<>《》]")


def normalize_header(text: str) -> str:
    """ "事项名称（必填）", " 序 号 " and "List-Type" all reduce to the spelling used in FIELD_HEADERS."""
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
    if not key:
        return None
    return _FIELD_BY_HEADER.get(key) or _field_by_words(key)


def _field_by_words(key: str) -> tuple[str, int] | None:
    if key.endswith("事项") and not any(w in key for w in ("具体", "三级", "一级", "兜底")):
        return "name", FUZZY_RANK  # 履行职责事项, 乡镇履职事项: the duty itself (是否为兜底事项 is not)
    for rule, (field_name, words) in enumerate(HEADER_WORDS):
        if not any(w in key for w in words):
            continue
        if field_name == "name" and any(w in key for w in _BODY_WORDS + _CATEGORY_WORDS):
            continue
        if field_name is None:
            return None
        rank = FUZZY_RANK + rule
        if field_name == "description":
            rank += -50 if any(w in key for w in _TOWNSHIP_WORDS) else 50 if any(w in key for w in _COUNTY_WORDS) else 0
        return field_name, rank
    return None


def is_county_side(header: str) -> bool:
    """A description column that states the county department's part (县级部门职责), not the township's."""
    key = normalize_header(header)
    return any(w in key for w in _COUNTY_WORDS) and not any(w in key for w in _TOWNSHIP_WORDS)


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
