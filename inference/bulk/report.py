"""The county report: where the township's ticket load really lies, in numbers a county office reads.

One dict (saved as JSON) holds every figure; Markdown, HTML and the XLSX summary sheet are renderings of the same
sections, so they never disagree.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from corpus.schema import Catalog, ListType
from corpus.tables import atomic_write
from inference.bulk.dates import minus_months, months_between
from inference.bulk.output import ERROR_LABEL, OUT_OF_LIST_LABEL
from inference.bulk.stats import TicketStats
from inference.bulk.themes import Theme

NATIONAL_COOPERATE_RECLAIMED_SHARE = 0.656  # 配合 + 收回 entries in the national lists
SHIFTED_TYPES = (ListType.COOPERATE.value, ListType.RECLAIMED.value)


@dataclass(frozen=True)
class DuplicateGroup:
    count: int
    rows: tuple[int, ...]  # row numbers as seen in the export (first few)
    text: str
    entry: str  # "id 名称" the group landed on, or 清单之外 / 无法分类
    first_date: str
    last_date: str

    def to_dict(self) -> dict:
        return {
            "count": self.count,
            "rows": list(self.rows),
            "text": self.text,
            "entry": self.entry,
            "first_date": self.first_date,
            "last_date": self.last_date,
        }


@dataclass(frozen=True)
class DuplicateSummary:
    groups: int  # groups of two or more near-identical tickets
    rows_in_groups: int
    top: tuple[DuplicateGroup, ...] = ()

    @property
    def refilings(self) -> int:
        return self.rows_in_groups - self.groups


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def build_report(
    *,
    catalog: Catalog,
    stats: TicketStats,
    duplicates: DuplicateSummary,
    themes: list[Theme],
    zombie_months: int,
    columns: dict,
    input_name: str,
    output_name: str,
    fast: bool,
) -> dict:
    classified = stats.rows - stats.errors
    in_list = sum(stats.by_entry.values())
    out_of_list = stats.by_list_type.get(OUT_OF_LIST_LABEL, 0)

    by_type = []
    for lt in ListType:
        entries = [e for e in catalog.entries if e.list_type is lt]
        tickets = stats.by_list_type.get(lt.value, 0)
        by_type.append(
            {
                "list_type": lt.value,
                "tickets": tickets,
                "share": _share(tickets, in_list),
                "entries": len(entries),
                "entries_with_tickets": sum(1 for e in entries if stats.by_entry[e.id]),
            }
        )

    shifted_tickets = sum(stats.by_list_type.get(t, 0) for t in SHIFTED_TYPES)
    shifted_entries = sum(1 for e in catalog.entries if e.list_type.value in SHIFTED_TYPES)

    offices: dict[str, dict] = {}
    for e in catalog.entries:
        o = offices.setdefault(e.office, {"office": e.office, "tickets": 0, "entries": 0, "entries_with_tickets": 0})
        o["tickets"] += stats.by_entry[e.id]
        o["entries"] += 1
        o["entries_with_tickets"] += int(stats.by_entry[e.id] > 0)
    by_office = sorted(offices.values(), key=lambda o: (-o["tickets"], o["office"]))
    for o in by_office:
        o["share"] = _share(o["tickets"], in_list)

    by_entry = [
        {
            "id": e.id,
            "name": e.name,
            "list_type": e.list_type.value,
            "office": e.office,
            "department": e.department,
            "tickets": stats.by_entry[e.id],
            "share": _share(stats.by_entry[e.id], in_list),
            "last_date": stats.last_date.get(e.id, ""),
        }
        for e in catalog.entries
    ]
    by_entry.sort(key=lambda r: -r["tickets"])  # stable: ties keep catalog order

    reclaimed: dict[str, dict] = {}
    for e in catalog.entries:
        if e.is_reclaimed and stats.by_entry[e.id]:
            dept = e.department or "县级主管部门（清单未写明）"
            d = reclaimed.setdefault(dept, {"department": dept, "tickets": 0, "entries": []})
            d["tickets"] += stats.by_entry[e.id]
            d["entries"].append({"id": e.id, "name": e.name, "tickets": stats.by_entry[e.id]})
    reclaimed_load = sorted(reclaimed.values(), key=lambda d: (-d["tickets"], d["department"]))
    for d in reclaimed_load:
        d["entries"].sort(key=lambda x: -x["tickets"])

    reference = stats.last_day
    cutoff = minus_months(date.fromisoformat(reference), zombie_months).isoformat() if reference else ""
    no_tickets, stale = [], []
    for e in catalog.entries:
        base = {
            "id": e.id,
            "name": e.name,
            "list_type": e.list_type.value,
            "office": e.office,
            "catalog_zombie": e.is_zombie,
        }
        if stats.by_entry[e.id] == 0:
            no_tickets.append(base)
        elif cutoff and stats.last_date.get(e.id) and stats.last_date[e.id] < cutoff:
            last = stats.last_date[e.id]
            stale.append(
                {
                    **base,
                    "tickets": stats.by_entry[e.id],
                    "last_date": last,
                    "months_since": months_between(date.fromisoformat(last), date.fromisoformat(reference)),
                }
            )
    stale.sort(key=lambda r: r["last_date"])
    # Reclaimed entries first: a reclaimed entry with no tickets is the clearest zombie.
    type_order = {ListType.RECLAIMED.value: 0, ListType.COOPERATE.value: 1, ListType.BASIC.value: 2}
    no_tickets.sort(key=lambda r: type_order[r["list_type"]])

    return {
        "input": input_name,
        "output": output_name,
        "mode": "快速" if fast else "完整",
        "catalog": {"name": catalog.name, "version": catalog.version, "entries": len(catalog)},
        "columns": columns,
        "rows": stats.rows,
        "classified": classified,
        "in_list": in_list,
        "out_of_list": out_of_list,
        "errors": stats.errors,
        "error_kinds": dict(stats.error_kinds.most_common()),
        "transformer_rows": stats.routed,
        "flags": {k: stats.flags.get(k, 0) for k in ("reclaimed", "zombie", "bottom_line", "needs_review")},
        "period": {"first": stats.first_day, "last": stats.last_day, "undated": stats.undated},
        "by_list_type": by_type,
        "cooperate_reclaimed": {
            "tickets": shifted_tickets,
            "ticket_share": _share(shifted_tickets, in_list),
            "entries": shifted_entries,
            "entry_share": _share(shifted_entries, len(catalog)),
            "national_entry_share": NATIONAL_COOPERATE_RECLAIMED_SHARE,
        },
        "by_office": by_office,
        "by_entry": by_entry,
        "reclaimed_load": reclaimed_load,
        "zombies": {
            "months": zombie_months,
            "reference_date": reference,
            "cutoff": cutoff,
            "no_tickets": no_tickets,
            "stale": stale,
        },
        "out_of_list_themes": [t.to_dict() for t in themes],
        "duplicates": {
            "groups": duplicates.groups,
            "rows_in_groups": duplicates.rows_in_groups,
            "refilings": duplicates.refilings,
            "top": [g.to_dict() for g in duplicates.top],
        },
        "monthly": {m: dict(sorted(c.items())) for m, c in sorted(stats.monthly.items())},
        "charts": [],
    }


# -- rendering -----------------------------------------------------------------------------------------------------


@dataclass
class Table:
    headers: list[str]
    rows: list[list]
    caption: str = ""


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    images: list[str] = field(default_factory=list)  # file names beside the report


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def sections(r: dict) -> list[Section]:
    out = []
    cr = r["cooperate_reclaimed"]
    overview = Section(
        "概况",
        [
            f"输入文件：{r['input']}；结果文件：{r['output']}；匹配模式：{r['mode']}；"
            f"履职清单：{r['catalog']['name']}（{r['catalog']['entries']} 项，版本 {r['catalog']['version']}）。",
            f"列识别：{r['columns'].get('how', '')}。",
            f"共 {r['rows']} 条工单：清单内 {r['in_list']} 条，清单之外 {r['out_of_list']} 条，无法分类 {r['errors']} 条。",
        ],
    )
    if r["period"]["first"]:
        overview.paragraphs.append(
            f"工单时间范围：{r['period']['first']} 至 {r['period']['last']}"
            + (f"（另有 {r['period']['undated']} 条无日期）" if r["period"]["undated"] else "")
            + "。"
        )
    if r["error_kinds"]:
        overview.paragraphs.append(
            "无法分类原因：" + "；".join(f"{k} {v} 条" for k, v in r["error_kinds"].items()) + "。"
        )
    if r["mode"] == "快速":
        overview.paragraphs.append(
            f"快速模式：{r['transformer_rows']} 条工单经向量模型复核，其余由首段（词法匹配与静态词元向量，"
            "无静态向量时只用词法）直接给出。"
        )
    out.append(overview)

    out.append(
        Section(
            "配合履职与上级部门收回事项所占比例",
            [
                f"本镇工单中落在配合履职事项和上级部门收回事项上的有 {cr['tickets']} 条，占清单内工单的 "
                f"{_pct(cr['ticket_share'])}；本镇清单中这两类事项占 {_pct(cr['entry_share'])}；"
                f"全国清单中这两类事项占 {_pct(cr['national_entry_share'])}。",
            ],
            [
                Table(
                    ["清单类型", "工单数", "占清单内工单", "事项数", "有工单的事项数"],
                    [
                        [t["list_type"], t["tickets"], _pct(t["share"]), t["entries"], t["entries_with_tickets"]]
                        for t in r["by_list_type"]
                    ],
                )
            ],
            ["share"],
        )
    )

    out.append(
        Section(
            "各承办机构工单量",
            [],
            [
                Table(
                    ["承办机构", "工单数", "占比", "事项数", "有工单的事项数"],
                    [
                        [
                            o["office"] or "（未填）",
                            o["tickets"],
                            _pct(o["share"]),
                            o["entries"],
                            o["entries_with_tickets"],
                        ]
                        for o in r["by_office"]
                    ],
                )
            ],
            ["office"],
        )
    )

    busy = [e for e in r["by_entry"] if e["tickets"]]
    out.append(
        Section(
            "各履职事项工单量",
            [f"有工单的事项 {len(busy)} 项（按工单数排序，前 50 项）。"],
            [
                Table(
                    ["事项序号", "事项名称", "清单类型", "承办机构", "工单数", "占比", "最近工单"],
                    [
                        [
                            e["id"],
                            e["name"],
                            e["list_type"],
                            e["office"],
                            e["tickets"],
                            _pct(e["share"]),
                            e["last_date"],
                        ]
                        for e in busy[:50]
                    ],
                )
            ],
        )
    )

    rec_rows = [
        [d["department"], d["tickets"], "、".join(f"{x['name']}（{x['tickets']}）" for x in d["entries"])]
        for d in r["reclaimed_load"]
    ]
    out.append(
        Section(
            "上级部门收回事项的工单（按应承接部门）",
            [] if rec_rows else ["没有工单落在上级部门收回事项上。"],
            [Table(["应承接部门", "工单数", "涉及事项（工单数）"], rec_rows)] if rec_rows else [],
        )
    )

    z = r["zombies"]
    zp = [
        f"无工单的事项 {len(z['no_tickets'])} 项；"
        + (
            f"最近一条工单早于 {z['cutoff']}（统计期末 {z['reference_date']} 前 {z['months']} 个月）的事项 {len(z['stale'])} 项。"
            if z["cutoff"]
            else "没有日期列，无法判断最近工单距今多久。"
        )
    ]
    zt = [
        Table(
            ["事项序号", "事项名称", "清单类型", "承办机构", "清单已标僵尸"],
            [
                [x["id"], x["name"], x["list_type"], x["office"], "是" if x["catalog_zombie"] else ""]
                for x in z["no_tickets"]
            ],
            "统计期内没有工单",
        )
    ]
    if z["stale"]:
        zt.append(
            Table(
                ["事项序号", "事项名称", "清单类型", "工单数", "最近工单", "距期末月数"],
                [
                    [x["id"], x["name"], x["list_type"], x["tickets"], x["last_date"], x["months_since"]]
                    for x in z["stale"]
                ],
                f"最近工单早于 {z['cutoff']}",
            )
        )
    out.append(Section("僵尸事项候选", zp, zt))

    themes = r["out_of_list_themes"]
    out.append(
        Section(
            "清单之外的工单主题（职责准入候选）",
            [f"清单之外工单 {r['out_of_list']} 条" + ("，按主题归纳如下（条数为估计）。" if themes else "。")],
            [
                Table(
                    ["主题关键词", "工单数（估计）", "示例"],
                    [
                        [
                            "、".join(t["keywords"]) or "（未归纳）",
                            t["estimated"],
                            " / ".join(f"第{e['row']}行：{e['text'][:60]}" for e in t["examples"]),
                        ]
                        for t in themes
                    ],
                )
            ]
            if themes
            else [],
        )
    )

    d = r["duplicates"]
    out.append(
        Section(
            "重复工单（同一诉求反复反映）",
            [f"共 {d['groups']} 组近似重复工单，涉及 {d['rows_in_groups']} 条，其中重复反映 {d['refilings']} 次。"],
            [
                Table(
                    ["次数", "首次行号", "诉求", "匹配事项", "起止日期"],
                    [
                        [
                            g["count"],
                            g["rows"][0] if g["rows"] else "",
                            g["text"][:80],
                            g["entry"],
                            f"{g['first_date']} 至 {g['last_date']}" if g["first_date"] else "",
                        ]
                        for g in d["top"]
                    ],
                )
            ]
            if d["top"]
            else [],
        )
    )

    months = r["monthly"]
    if months:
        labels = [lt.value for lt in ListType] + [OUT_OF_LIST_LABEL, ERROR_LABEL]
        out.append(
            Section(
                "每月工单量",
                [],
                [
                    Table(
                        ["月份", *labels, "合计"],
                        [[m, *[c.get(x, 0) for x in labels], sum(c.values())] for m, c in months.items()],
                    )
                ],
                ["monthly"],
            )
        )
    return out


def _md_cell(v) -> str:
    return str(v).replace("|", "｜").replace("\n", " ")


def render_markdown(r: dict, chart_files: dict[str, str]) -> str:
    lines = [f"# 工单履职分析报告：{r['input']}", ""]
    for s in sections(r):
        lines += [f"## {s.title}", ""]
        for p in s.paragraphs:
            lines += [p, ""]
        for t in s.tables:
            if t.caption:
                lines += [f"**{t.caption}**", ""]
            if not t.rows:
                lines += ["（无）", ""]
                continue
            lines.append("| " + " | ".join(t.headers) + " |")
            lines.append("|" + "---|" * len(t.headers))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
            lines.append("")
        for key in s.images:
            if key in chart_files:
                lines += [f"![{s.title}]({chart_files[key]})", ""]
    return "\n".join(lines)


def render_html(r: dict, chart_files: dict[str, str]) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>工单履职分析报告：{e(r['input'])}</title>",
        "<style>body{font-family:'Noto Sans CJK SC',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;"
        "font-size:14px}th{background:#f3f3f3}img{max-width:100%}</style></head><body>",
        f"<h1>工单履职分析报告：{e(r['input'])}</h1>",
    ]
    for s in sections(r):
        parts.append(f"<h2>{e(s.title)}</h2>")
        parts += [f"<p>{e(p)}</p>" for p in s.paragraphs]
        for t in s.tables:
            if t.caption:
                parts.append(f"<p><b>{e(t.caption)}</b></p>")
            parts.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in t.headers) + "</tr>")
            parts += ["<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in t.rows]
            parts.append("</table>")
        parts += [f"<img src='{e(chart_files[k])}' alt='{e(s.title)}'>" for k in s.images if k in chart_files]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(r: dict, report_path: Path, json_path: Path, chart_files: dict[str, str]) -> None:
    text = render_html(r, chart_files) if report_path.suffix.lower() == ".html" else render_markdown(r, chart_files)
    atomic_write(report_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    atomic_write(json_path, lambda tmp: tmp.write_text(json.dumps(r, ensure_ascii=False, indent=1), encoding="utf-8"))
