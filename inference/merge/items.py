"""Reading a raw inventory of work items (`编号,内容` + optional 乡镇 column; other columns are kept)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from corpus.headers import field_for_header, normalize_header
from corpus.tables import TableError, open_table

ID_HEADERS = ("编号", "序号", "事项编号", "id")
TEXT_HEADERS = ("内容", "事项内容", "工作内容", "具体内容", "工作事项", "事项名称", "事项", "text")
TOWNSHIP_HEADERS = ("乡镇", "乡镇街道", "所属乡镇", "乡镇名称", "街道", "单位", "township")


@dataclass
class RawItem:
    id: str
    text: str
    township: str = ""
    extra: dict = field(default_factory=dict)


def _find_column(headers: list[str], wanted: tuple[str, ...]) -> str | None:
    by_norm = {}
    for h in headers:
        by_norm.setdefault(normalize_header(h), h)
    for w in wanted:
        found = by_norm.get(normalize_header(w))
        if found is not None:
            return found
    return None


def _text_column_by_words(headers: list[str]) -> str | None:
    """A content column worded some other way (工作任务描述, 原始事项名称), read as the duty-list importer reads it:
    content before name, then the better-ranked header."""
    ranked = []
    for position, h in enumerate(headers):
        found = field_for_header(h)
        if found and found[0] in ("description", "name"):
            ranked.append((found[0] != "description", found[1], position, h))
    return min(ranked)[3] if ranked else None


def read_items(path: Path | str) -> list[RawItem]:
    """Items in file order. Rows without content are skipped (section headings); a missing 编号 becomes the row number."""
    path = Path(path)
    table = open_table(path)
    text_col = _find_column(table.headers, TEXT_HEADERS) or _text_column_by_words(table.headers)
    if text_col is None:
        raise TableError(f"{path.name}：缺少列「内容」（现有列：{'、'.join(table.headers)}）")
    id_col = _find_column(table.headers, ID_HEADERS)
    town_col = _find_column(table.headers, TOWNSHIP_HEADERS)
    used = {c for c in (text_col, id_col, town_col) if c}
    items: list[RawItem] = []
    seen: dict[str, int] = {}
    for row in table:
        if row.problem:
            raise TableError(f"{path.name} 第 {row.number} 行：{row.problem}")
        text = " ".join(row.values.get(text_col, "").split())
        if not text:
            continue
        item_id = row.values.get(id_col, "").strip() if id_col else ""
        item_id = item_id or str(row.number)
        if item_id in seen:
            raise TableError(f"{path.name} 第 {row.number} 行：编号 {item_id} 与第 {seen[item_id]} 行重复")
        seen[item_id] = row.number
        township = row.values.get(town_col, "").strip() if town_col else ""
        extra = {k: v for k, v in row.values.items() if k not in used}
        items.append(RawItem(item_id, text, township, extra))
    if not items:
        raise TableError(f"{path.name}：没有可合并的事项（「{text_col}」列为空）")
    return items
