"""Reading published duty lists (CSV, XLSX, JSON) into a Catalog; bad input is refused as a whole."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from corpus.headers import (
    CANONICAL_HEADER,
    FUZZY_RANK,
    field_for_header,
    is_county_side,
    normalize_header,
    parse_yes_no,
    split_aliases,
)
from corpus.import_errors import CatalogImportError, ImportProblem, ProblemLog
from corpus.readers import (
    CSV_SUFFIXES,
    DOCX_SUFFIXES,
    JSON_SUFFIXES,
    XLS_SUFFIXES,
    XLSX_SUFFIXES,
    JsonDocument,
    Sheet,
    cell_text,
    filled_width,
    read_csv,
    read_docx,
    read_json,
    read_xls,
    read_xlsx,
    table_width,
)
from corpus.schema import Catalog, DutyEntry, ListType, parse_list_type

__all__ = ["CatalogImportError", "ImportProblem", "import_catalog"]

HEADER_SEARCH_ROWS = 10

# Words that name one list type inside a longer title, file name or section heading.
_TYPE_MENTIONS: dict[ListType, tuple[str, ...]] = {
    ListType.BASIC: ("基本履职", "基本职责", "基本事项"),
    ListType.COOPERATE: ("配合履职", "配合职责", "配合事项"),
    ListType.RECLAIMED: ("上级部门收回", "收回事项", "上级收回", "部门收回", "收回上级"),
}

_CN_NUMBER = "一二三四五六七八九十百零〇"
_HEADING = re.compile(
    rf"^(?:第[{_CN_NUMBER}\d]+[类部分章]|[{_CN_NUMBER}]+[、.．]|[（(][{_CN_NUMBER}\d]+[)）])\s*"
    r"(?P<title>.+?)\s*(?:[（(]\s*共?\s*\d+\s*[项条个]\s*[)）])?$"
)
_NOTE = re.compile(
    r"^(?:(?:注|说明|备注|附注)\s*[0-9一二三四五六七八九十]*\s*[:：、.．]"
    r"|合计|小计|共计|总计|(?:填表|制表|审核)(?:人|单位|日期|时间)?\s*[:：])"
)
# Sheets that explain how to fill the list rather than hold one.
_INSTRUCTION_SHEET_WORDS = ("说明", "目录", "封面", "填表", "填报要求")


def single_list_type_named(text: str) -> ListType | None:
    """The list type a title, sheet/file name or section heading names; None when it names none or several."""
    compact = "".join(str(text).split())
    named = {t for t, words in _TYPE_MENTIONS.items() if any(w in compact for w in words)}
    if len(named) == 1:
        return named.pop()
    return parse_list_type(compact) if not named else None


@dataclass(frozen=True)
class _Where:
    file: str
    sheet: str = ""
    row: int | None = None
    row_unit: str = "行"

    def problem(self, message: str, column: str = "") -> ImportProblem:
        return ImportProblem(self.file, message, self.sheet, self.row, column, self.row_unit)

    def __str__(self) -> str:
        return self.problem("").where

    def relative_to(self, other: _Where) -> str:
        """How to point at self from a message about `other`: just the row when both share a sheet."""
        if (self.file, self.sheet) == (other.file, other.sheet) and self.row is not None:
            return f"第 {self.row} {self.row_unit}"
        return str(self)


@dataclass(frozen=True)
class _Cells:
    """One row's text per field, with the header of the column each came from."""

    values: dict[str, tuple[str, str]]

    def text(self, field_name: str) -> str:
        return self.values.get(field_name, ("", ""))[0]

    def column(self, field_name: str) -> str:
        return self.values.get(field_name, ("", ""))[1] or CANONICAL_HEADER[field_name]


@dataclass
class _RawEntry:
    where: _Where
    list_type: ListType
    given_id: str
    id_column: str
    name: str
    category: str
    description: str
    office: str
    department: str
    bottom_line: bool
    reclaim_reason: str
    aliases: tuple[str, ...]
    department_duty: str


def _one_line(text: str) -> str:
    # Names wrapped inside an Excel cell come back with line breaks in the middle of a word.
    return re.sub(r"\s*\n\s*", "", text).strip()


# Printed lists number their items inside the name cell too ("1.秸秆禁烧", "（二）燃气安全检查", "③…"); the number is
# not part of the duty's name. Digits not followed by a separator stay ("12345热线工单办理").
_NAME_NUMBERING = re.compile(
    r"^(?:\d{1,3}(?:[.．](?!\d)|[、)）])|[（(](?:\d{1,3}|[一二三四五六七八九十]{1,3})[)）]|[一二三四五六七八九十]{1,3}、|[①-⑳])\s*"
)


# Lists mark the centre's bottom-line items in the name cell (防汛防台工作★, …（兜底事项）) or in 备注 when they have
# no column for it.
_NOT_BOTTOM_LINE = re.compile(r"[非不否无].{0,3}兜底")
_BOTTOM_LINE_MARK = re.compile(r"\s*(?:[★☆]|[（(【\[]\s*兜底(?:事项)?\s*[)）】\]])\s*")


def _duty_name(text: str) -> tuple[str, bool]:
    """(name without its printed number or bottom-line mark, whether it carried that mark)."""
    name = _one_line(text)
    unmarked, marks = _BOTTOM_LINE_MARK.subn("", name)
    bare = _NAME_NUMBERING.sub("", unmarked, count=1).strip()
    return bare or unmarked or name, marks > 0


def _multi_line(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


@dataclass
class _TypeTracker:
    """Rows whose list type could not be decided, reported once per sheet rather than once per row."""

    rows: list[_Where]
    column: str = CANONICAL_HEADER["list_type"]

    def report(self, log: ProblemLog) -> None:
        if not self.rows:
            return
        first = self.rows[0]
        log.add(
            first.problem(
                f"无法确定清单类型（共 {len(self.rows)} 行）：没有填写「清单类型」，工作表名、标题行和文件名也没有写明是哪类清单；"
                "请加「清单类型」列（基本履职事项／配合履职事项／上级部门收回事项），或用 --list-type 指定",
                self.column,
            )
        )


def _entry_from_cells(
    cells: _Cells, where: _Where, default_type: ListType | None, untyped: _TypeTracker, log: ProblemLog
) -> _RawEntry | None:
    name, marked_bottom_line = _duty_name(cells.text("name"))
    if not name:
        filled = [v for v, _ in cells.values.values() if v.strip()]
        hint = "（如果这一行是说明文字，请删除它或以「注：」开头）" if len(filled) == 1 else ""
        log.add(where.problem(f"事项名称为空{hint}", cells.column("name")))
        return None

    type_text = cells.text("list_type").strip()
    if type_text:
        list_type = parse_list_type(type_text)
        if list_type is None:
            log.add(
                where.problem(
                    f"无法识别的清单类型「{type_text}」，应为 基本履职事项、配合履职事项 或 上级部门收回事项",
                    cells.column("list_type"),
                )
            )
    else:
        list_type = default_type
        if list_type is None:
            untyped.column = cells.column("list_type")
            untyped.rows.append(where)

    bottom_line = parse_yes_no(cells.text("bottom_line"))
    if not cells.text("bottom_line").strip():
        note = cells.text("note")
        bottom_line = marked_bottom_line or ("兜底" in note and not _NOT_BOTTOM_LINE.search(note))
    if bottom_line is None:
        log.add(
            where.problem(
                f"无法识别「{cells.text('bottom_line').strip()}」，兜底事项请填「是」或「否」（也可留空）",
                cells.column("bottom_line"),
            )
        )
    if list_type is None or bottom_line is None:
        return None

    reclaim_reason = _multi_line(cells.text("reclaim_reason"))
    if not reclaim_reason and list_type is ListType.RECLAIMED:
        reclaim_reason = _multi_line(cells.text("note"))
    return _RawEntry(
        where=where,
        list_type=list_type,
        given_id=_one_line(cells.text("id")),
        id_column=cells.column("id"),
        name=name,
        category=_one_line(cells.text("category")),
        description=_multi_line(cells.text("description")),
        office=_multi_line(cells.text("office")),
        department=_multi_line(cells.text("department")),
        bottom_line=bottom_line,
        reclaim_reason=reclaim_reason,
        aliases=split_aliases(cells.text("aliases")),
        department_duty=_multi_line(cells.text("department_duty")),
    )


# --- spreadsheets and CSV -------------------------------------------------------------------------

_HeaderColumns = dict[int, tuple[str, int, str]]  # column index -> (field, preference rank, header text)


def _header_columns(cells: Sequence[str]) -> _HeaderColumns:
    columns: _HeaderColumns = {}
    for index, text in enumerate(cells):
        found = field_for_header(text) if text else None
        if found:
            columns[index] = (found[0], found[1], _one_line(text))
    return columns


def _name_column(columns: _HeaderColumns) -> int | None:
    named = sorted((rank, index) for index, (f, rank, _) in columns.items() if f == "name")
    return named[0][1] if named else None


def _promote_name_column(columns: _HeaderColumns) -> int | None:
    """Lists titled 职责任务清单 head the duty column 职责任务 and the details 具体事项: with no name column among
    two or more known headers, the leftmost content column names the duty."""
    if len({text for _, _, text in columns.values()}) < 2:
        return None
    content = sorted(index for index, (f, _, _) in columns.items() if f == "description")
    if not content:
        return None
    _, rank, text = columns[content[0]]
    columns[content[0]] = ("name", rank + FUZZY_RANK, text)
    return content[0]


def _find_header(rows: list[tuple[int, tuple[str, ...]]]) -> tuple[int, int, _HeaderColumns] | None:
    """(header position, first data position, columns) from the first top row that has a name column."""
    for position, (_, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns = _header_columns(cells)
        name_index = _name_column(columns)
        if name_index is None:
            name_index = _promote_name_column(columns)
        if name_index is None:
            continue
        if columns[name_index][1] >= FUZZY_RANK and len({text for _, _, text in columns.values()}) < 2:
            continue  # a title such as "白沙镇履职事项" read by its words is not a header row
        data_start = position + 1
        # Two-row headers ("县级部门" over "主责部门｜配合部门") repeat the vertically merged name cell below, or, once
        # saved as CSV, leave it blank under a row of nothing but header words.
        if data_start < len(rows):
            below = rows[data_start][1]
            below_name = normalize_header(below[name_index]) if name_index < len(below) else ""
            below_columns = _header_columns(below)
            filled = [c.strip() for c in below if c.strip()]
            if below_name == normalize_header(cells[name_index]) or (
                not below_name
                and len(set(filled)) >= 2
                and len(below_columns) == len(filled)
                and not any(single_list_type_named(c) for c in filled)
            ):
                columns.update(below_columns)
                data_start += 1
        return position, data_start, columns
    return None


def _row_cells(cells: tuple[str, ...], columns: _HeaderColumns) -> _Cells:
    by_field: dict[str, list[tuple[int, int, str]]] = {}
    for index, (field_name, rank, header) in columns.items():
        by_field.setdefault(field_name, []).append((rank, index, header))
    values: dict[str, tuple[str, str]] = {}
    for field_name, candidates in by_field.items():
        candidates.sort()
        filled = [
            (cells[index], header) for _, index, header in candidates if index < len(cells) and cells[index].strip()
        ]
        values[field_name] = filled[0] if filled else ("", candidates[0][2])
        if field_name == "description":
            _keep_county_side(values, filled)
    return _Cells(values)


def _keep_county_side(values: dict[str, tuple[str, str]], descriptions: list[tuple[str, str]]) -> None:
    """With the township's part as the description, the county department's part (县级部门职责) is kept beside it
    rather than dropped; (text, header) pairs, best-ranked first."""
    county = [d for d in descriptions[1:] if is_county_side(d[1]) and d[0].strip() != descriptions[0][0].strip()]
    if county:
        values["department_duty"] = county[0]


def _is_instruction_sheet(name: str) -> bool:
    return any(word in name for word in _INSTRUCTION_SHEET_WORDS)


def _entries_from_sheet(sheet: Sheet, fallback_type: ListType | None, log: ProblemLog) -> list[_RawEntry]:
    file_label = sheet.file.name
    rows = [(number, cells) for number, cells in sheet.rows if any(c.strip() for c in cells)]
    found = _find_header(rows)
    if found is None:
        if not _is_instruction_sheet(sheet.name):
            log.add(
                _Where(file_label, sheet.name).problem(
                    f"找不到表头：前 {HEADER_SEARCH_ROWS} 行中没有「事项名称」列"
                    "（可用的列名如：事项名称、履职事项、职责事项、工作事项、事项、name，或以“事项”结尾、含“名称”的列名）"
                )
            )
        return []
    header_position, data_start, columns = found
    name_index = _name_column(columns)
    name_header = normalize_header(columns[name_index][2]) if name_index is not None else ""

    titles = [" ".join(c for c in cells if c) for _, cells in rows[:header_position]]
    title_types = {t for t in (single_list_type_named(text) for text in titles) if t is not None}
    sheet_type = single_list_type_named(sheet.name) if sheet.name else None
    if sheet_type is None and len(title_types) == 1:
        sheet_type = next(iter(title_types))

    section_type: ListType | None = None
    heading_category = category_above = ""
    untyped = _TypeTracker([])
    entries: list[_RawEntry] = []
    # Only CSV: a worksheet may hold a note beside the table, but a CSV row longer than its header has been cut
    # by a comma the exporting program did not quote, and every column after it is shifted.
    named_width = max((filled_width(cells) for _, cells in rows[header_position:data_start]), default=0)
    header_width = table_width(named_width, [cells for _, cells in rows[data_start:]]) if not sheet.name else None
    for number, cells in rows[data_start:]:
        if name_index is not None and name_index < len(cells) and normalize_header(cells[name_index]) == name_header:
            continue  # the header repeated further down, as printed lists do on every page
        spilled = [c for c in cells[header_width:] if c.strip()] if header_width else []
        if spilled:
            log.add(
                _Where(file_label, sheet.name, number).problem(
                    f"列数多于表头（第 {header_width + 1} 列起没有表头）：{'、'.join(f'「{c}」' for c in spilled)}；"
                    "多半是内容中的逗号未加引号，各列已错位，请给含逗号的内容加上英文双引号"
                )
            )
            continue
        distinct = {c.strip() for c in cells if c.strip()}
        if len(distinct) == 1:
            text = next(iter(distinct))
            named = single_list_type_named(text)
            if named is not None:
                section_type, heading_category, category_above = named, "", ""
                continue
            if _NOTE.match(text):
                continue
            heading = _HEADING.match(text)
            if heading:
                heading_category, category_above = heading.group("title"), ""
                continue
        where = _Where(file_label, sheet.name, number)
        cells_by_field = _row_cells(cells, columns)
        category = cells_by_field.text("category").strip()
        if not category and (category_above or heading_category):
            # A category cell merged down over its items arrives blank below its first row once the sheet has been
            # saved as CSV or copied out; the items still belong to it.
            cells_by_field.values["category"] = (category_above or heading_category, cells_by_field.column("category"))
        elif category:
            category_above = category
        default_type = section_type or sheet_type or fallback_type
        entry = _entry_from_cells(cells_by_field, where, default_type, untyped, log)
        if entry is None:
            continue
        previous = entries[-1] if entries else None
        if (
            previous is not None
            and entry.given_id
            and (previous.given_id, previous.name, previous.list_type) == (entry.given_id, entry.name, entry.list_type)
        ):
            # One item whose number and name cells are merged over several content rows.
            for part in ("description", "department_duty"):
                text, before = getattr(entry, part), getattr(previous, part)
                if text and text not in before.split("\n"):
                    setattr(previous, part, "\n".join(p for p in (before, text) if p))
            continue
        entries.append(entry)
    untyped.report(log)
    return entries


# --- JSON ----------------------------------------------------------------------------------------


def _json_text(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return "；".join(text for text in map(_json_text, value) if text)
    return cell_text(value)


def _entries_from_json(document: JsonDocument, fallback_type: ListType | None, log: ProblemLog) -> list[_RawEntry]:
    file_label = document.file.name
    default_type = fallback_type
    if document.list_type:
        default_type = parse_list_type(document.list_type)
        if default_type is None:
            log.add(
                ImportProblem(
                    file_label, f"无法识别的清单类型「{document.list_type}」", column="list_type", row_unit="条"
                )
            )
            return []
    untyped = _TypeTracker([])
    entries = []
    for number, record in enumerate(document.entries, start=1):
        where = _Where(file_label, "", number, "条")
        if not isinstance(record, dict):
            log.add(where.problem("每条事项应为一个对象（{…}）"))
            continue
        values: dict[str, tuple[str, str]] = {}
        ranks: dict[str, int] = {}
        descriptions: list[tuple[int, str, str]] = []
        for key, value in record.items():
            found = field_for_header(str(key))
            if found is None:
                continue
            field_name, rank = found
            text = _json_text(value)
            if not text.strip():
                values.setdefault(field_name, ("", str(key)))  # still names the key in messages
                continue
            if field_name == "description":
                descriptions.append((rank, text, str(key)))
            if not values.get(field_name, ("", ""))[0] or rank < ranks[field_name]:
                values[field_name], ranks[field_name] = (text, str(key)), rank
        descriptions.sort(key=lambda d: d[0])  # stable: on equal rank the record's order, as `values` chose
        _keep_county_side(values, [(text, key) for _, text, key in descriptions])
        entry = _entry_from_cells(_Cells(values), where, default_type, untyped, log)
        if entry is not None:
            entries.append(entry)
    untyped.report(log)
    return entries


# --- ids and the catalog -------------------------------------------------------------------------


def _assign_ids(raw: list[_RawEntry], log: ProblemLog) -> list[DutyEntry]:
    first_use: dict[tuple[ListType, str], _RawEntry] = {}
    types_using: dict[str, set[ListType]] = {}
    for entry in raw:
        if not entry.given_id:
            continue
        key = (entry.list_type, entry.given_id)
        if key in first_use:
            log.add(
                entry.where.problem(
                    f"编号「{entry.given_id}」在{entry.list_type.value}中重复（{first_use[key].where.relative_to(entry.where)}已使用）",
                    entry.id_column,
                )
            )
        else:
            first_use[key] = entry
        types_using.setdefault(entry.given_id, set()).add(entry.list_type)
    # Lists published separately each number from 1; prefixing the type keeps every id unique and readable.
    qualify = any(len(types) > 1 for types in types_using.values())

    running: Counter[ListType] = Counter()
    owner: dict[str, _RawEntry] = {}
    entries = []
    for entry in raw:
        running[entry.list_type] += 1
        short = entry.list_type.short
        if entry.given_id:
            entry_id = f"{short}-{entry.given_id}" if qualify else entry.given_id
        else:
            entry_id = f"{short}-{running[entry.list_type]:03d}"
        other = owner.get(entry_id)
        if other is not None and not (entry.given_id and first_use.get((entry.list_type, entry.given_id)) is not entry):
            log.add(
                entry.where.problem(
                    f"编号「{entry_id}」与{other.where.relative_to(entry.where)}的事项编号相同；请为每个事项填写不重复的编号",
                    entry.id_column,
                )
            )
        owner.setdefault(entry_id, entry)
        entries.append(
            DutyEntry(
                id=entry_id,
                name=entry.name,
                list_type=entry.list_type,
                category=entry.category,
                description=entry.description,
                office=entry.office,
                department=entry.department,
                bottom_line=entry.bottom_line,
                reclaim_reason=entry.reclaim_reason,
                aliases=entry.aliases,
                department_duty=entry.department_duty,
            )
        )
    return entries


def _read_file(path: Path, argument_type: ListType | None, log: ProblemLog) -> tuple[list[_RawEntry], str]:
    """Entries of one file and, for JSON, the catalog name it carries."""
    suffix = path.suffix.lower()
    file_type = single_list_type_named(path.stem) or argument_type
    problems_before = len(log)
    readers = {
        **dict.fromkeys(CSV_SUFFIXES, read_csv),
        **dict.fromkeys(XLSX_SUFFIXES, read_xlsx),
        **dict.fromkeys(XLS_SUFFIXES, read_xls),
        **dict.fromkeys(DOCX_SUFFIXES, read_docx),
    }
    if suffix in readers:
        sheets = readers[suffix](path, log)
        if len(log) > problems_before:
            return [], ""
        if all(sheet.is_empty for sheet in sheets):
            log.add(
                ImportProblem(path.name, "文件为空" if suffix in CSV_SUFFIXES else "文件为空：所有工作表都没有内容")
            )
            return [], ""
        entries = [e for sheet in sheets if not sheet.is_empty for e in _entries_from_sheet(sheet, file_type, log)]
        document_name = ""
    elif suffix in JSON_SUFFIXES:
        document = read_json(path, log)
        if document is None:
            return [], ""
        entries = _entries_from_json(document, file_type, log)
        document_name = document.name
    else:
        hint = {
            ".doc": "；.doc 文件请先在 Word 中另存为 .docx",
            ".pdf": "；PDF 请先把表格复制到 Excel 或另存为 Word（.docx）",
        }.get(suffix, "")
        log.add(
            ImportProblem(
                path.name, f"不支持的文件类型「{suffix or '无扩展名'}」，请使用 CSV、XLSX、XLS、DOCX 或 JSON 文件{hint}"
            )
        )
        return [], ""
    if not entries and len(log) == problems_before:
        log.add(ImportProblem(path.name, "没有任何事项：只有表头，或所有工作表都是空的"))
    return entries, document_name


def import_catalog(
    paths: Sequence[Path | str] | Path | str, name: str = "", list_type: ListType | None = None
) -> Catalog:
    """Read one or more published list files into one Catalog, or raise CatalogImportError naming every problem.

    `list_type` is the fallback for rows whose type is given neither by a 清单类型 column, a section row,
    the sheet name, a title row nor the file name.
    """
    path_list = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    log = ProblemLog()
    if not path_list:
        log.add(ImportProblem("", "没有指定要导入的清单文件"))
        raise CatalogImportError.from_log(log)

    raw: list[_RawEntry] = []
    document_names: list[str] = []
    for path in path_list:
        entries, document_name = _read_file(path, list_type, log)
        raw.extend(entries)
        document_names.append(document_name)
    entries = _assign_ids(raw, log)
    if log:
        raise CatalogImportError.from_log(log)

    if not name:
        name = document_names[0] if len(path_list) == 1 and document_names[0] else "、".join(p.stem for p in path_list)
    return Catalog(
        name=name,
        entries=tuple(entries),
        imported_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        source="; ".join(str(p) for p in path_list),
    )
