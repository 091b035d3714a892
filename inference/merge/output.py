"""Writing a merge for review: XLSX (members, group summary, cross-township view) or CSV (members only)."""

from __future__ import annotations

from pathlib import Path

from corpus.tables import atomic_write, write_table
from inference.merge.result import MergeGroup, MergeResult

MEMBER_SHEET = "合并建议"
SUMMARY_SHEET = "分组汇总"
TOWNSHIP_SHEET = "跨乡镇对照"
GROUP_COLUMNS = (
    "组号",
    "建议事项名称",
    "判断",
    "组内事项数",
    "涉及乡镇数",
    "凝聚度",
    "最接近清单事项序号",
    "最接近清单事项",
    "清单类型",
    "与清单事项吻合度",
)
MEMBER_COLUMNS = ("编号", "内容", "乡镇", "与本组相似度", "本条最佳匹配", "本条匹配置信度")
PREVIEW_MEMBERS = 8


def _group_cells(g: MergeGroup) -> dict:
    e = g.nearest_entry
    return {
        "组号": g.group_id,
        "建议事项名称": g.proposed_name,
        "判断": g.verdict,
        "组内事项数": g.size,
        "涉及乡镇数": sum(1 for t in g.townships if t),
        "凝聚度": round(g.cohesion, 4),
        "最接近清单事项序号": e.id if e else "",
        "最接近清单事项": e.name if e else "",
        "清单类型": e.list_type.value if e else "",
        "与清单事项吻合度": round(g.nearest_score, 4),
    }


def member_rows(result: MergeResult) -> list[dict]:
    """One row per member, group columns repeated: the sheet the review page reads."""
    rows = []
    taken = set(GROUP_COLUMNS) | set(MEMBER_COLUMNS)
    for g in result.groups:
        head = _group_cells(g)
        for m in g.members:
            row = dict(head)
            row.update(
                {
                    "编号": m.item.id,
                    "内容": m.item.text,
                    "乡镇": m.item.township,
                    "与本组相似度": round(m.similarity, 4),
                    "本条最佳匹配": f"[{m.best_entry.id}] {m.best_entry.name}" if m.best_entry else "清单之外",
                    "本条匹配置信度": round(m.best_confidence, 4),
                }
            )
            for k, v in m.item.extra.items():
                row[k if k not in taken else f"原表·{k}"] = v
            rows.append(row)
    return rows


def summary_rows(result: MergeResult) -> list[dict]:
    rows = []
    for g in result.groups:
        row = _group_cells(g)
        texts = [m.item.text for m in g.members]
        more = f"（另 {len(texts) - PREVIEW_MEMBERS} 条）" if len(texts) > PREVIEW_MEMBERS else ""
        row["成员"] = "；".join(texts[:PREVIEW_MEMBERS]) + more
        rows.append(row)
    return rows


def township_rows(result: MergeResult) -> tuple[list[str], list[dict]]:
    """For each group, how each township words it: one column per township, in order of first appearance."""
    towns = list(dict.fromkeys(m.item.township for g in result.groups for m in g.members if m.item.township))
    rows = []
    for g in result.groups:
        by_town = g.townships
        row = {
            "组号": g.group_id,
            "建议事项名称": g.proposed_name,
            "判断": g.verdict,
            "涉及乡镇数": sum(1 for t in by_town if t),
        }
        for t in towns:
            row[t] = "；".join(dict.fromkeys(by_town.get(t, ())))
        rows.append(row)
    return towns, rows


def write_merge(result: MergeResult, path: Path | str) -> None:
    """XLSX: sheets 合并建议 (one row per member), 分组汇总, 跨乡镇对照 (when items carry a township). CSV: members."""
    path = Path(path)
    members = member_rows(result)
    if path.suffix.lower() != ".xlsx":
        write_table(path, members)
        return
    towns, by_town = township_rows(result)
    sheets = [
        (MEMBER_SHEET, members, list(GROUP_COLUMNS) + list(MEMBER_COLUMNS)),
        (SUMMARY_SHEET, summary_rows(result), list(GROUP_COLUMNS) + ["成员"]),
    ]
    if towns:
        sheets.append((TOWNSHIP_SHEET, by_town, ["组号", "建议事项名称", "判断", "涉及乡镇数", *towns]))

    def write(tmp: Path) -> None:
        import openpyxl

        book = openpyxl.Workbook(write_only=True)
        for title, rows, first_columns in sheets:
            ws = book.create_sheet(title)
            ws.freeze_panes = "A2"
            headers = list(dict.fromkeys([*first_columns, *(k for r in rows for k in r)]))
            ws.append(headers)
            for r in rows:
                ws.append([r.get(h, "") for h in headers])
        book.save(tmp)

    atomic_write(path, write)
