"""The columns a classified row gains, in the words analysts read."""

from __future__ import annotations

from inference.matcher import Candidate, Match

RESULT_HEADERS = (
    "事项序号",
    "事项名称",
    "清单类型",
    "承办机构",
    "主责部门",
    "置信度",
    "标记",
    "备选1",
    "备选2",
    "错误",
)
OUT_OF_LIST_ID = "无"
OUT_OF_LIST_LABEL = "清单之外"
ERROR_LABEL = "无法分类"


def result_headers(input_headers: list[str]) -> list[str]:
    """Our column names, renamed where the export already uses one, so no original column is overwritten."""
    taken = set(input_headers)
    out = []
    for h in RESULT_HEADERS:
        name = h
        while name in taken:
            name = f"{name}（匹配）"
        taken.add(name)
        out.append(name)
    return out


def flag_text(m: Match) -> str:
    return "；".join(m.flag_labels(short=True))


def _alt(c: Candidate | None) -> str:
    return f"{c.entry.id} {c.entry.name}" if c is not None else ""


def result_cells(m: Match | None, error: str = "") -> list[str]:
    """The ten result cells for one row; an unclassified row keeps only its error."""
    if m is None or m.best is None:
        return ["", "", "", "", "", "", "", "", "", error or (m.error if m else "") or "无法分类"]
    cands = list(m.candidates)
    if m.flags.out_of_list:
        # Nothing fits: the nearest entries become the alternatives a reviewer checks first.
        alts = cands[:2]
        head = [OUT_OF_LIST_ID, OUT_OF_LIST_LABEL, "", "", ""]
    else:
        e = m.best.entry
        alts = cands[1:3]
        head = [e.id, e.name, e.list_type.value, e.office, e.department]
    alts += [None] * (2 - len(alts))
    return head + [f"{m.confidence:.3f}", flag_text(m), _alt(alts[0]), _alt(alts[1]), m.error or ""]
