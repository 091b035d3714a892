"""Reviewers' decisions on classifications, read from an export file or from rows of the web service's export.

A row has the Chinese keys the service exports: 内容, 决定 (接受/更正/驳回), 建议事项序号, 最终事项序号, 审核人,
审核时间, 意见, 清单版本, 模型版本. The service's own database is read by api.confirmed.service_reviews, which turns
its rows into decisions with `decisions_from_rows`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from corpus.tables import TableError, open_table

ACCEPT, CORRECT, REJECT = "accept", "correct", "reject"
_DECISION_WORDS = {
    ACCEPT: ("接受", "采纳", "通过", "正确", "accept", "accepted"),
    CORRECT: ("更正", "修改", "纠正", "改正", "correct", "corrected"),
    REJECT: ("驳回", "拒绝", "错误", "reject", "rejected"),
}
REQUIRED_COLUMNS = ("内容", "决定")


@dataclass(frozen=True)
class ReviewDecision:
    text: str
    decision: str  # accept | correct | reject
    suggested_id: str
    final_id: str
    reviewer: str = ""
    reviewed_at: str = ""
    comment: str = ""
    catalog_version: str = ""
    model_version: str = ""

    @property
    def positive_id(self) -> str:
        """The entry the text belongs to ("" = none known: rejected without a correction, or outside the list)."""
        if self.decision == ACCEPT:
            return self.final_id or self.suggested_id
        if self.decision in (CORRECT, REJECT):
            return self.final_id if self.final_id != self.suggested_id else ""
        return ""

    @property
    def negative_id(self) -> str:
        """The entry the text was wrongly mapped to."""
        if self.decision in (CORRECT, REJECT) and self.suggested_id and self.suggested_id != self.final_id:
            return self.suggested_id
        return ""


def parse_decision(word: str) -> str | None:
    value = "".join(str(word).split()).lower()
    for decision, words in _DECISION_WORDS.items():
        if value in words:
            return decision
    return None


_OUTSIDE = {"无", "清单之外", "none", "-", "—"}


def _entry_id(value: str) -> str:
    value = str(value or "").strip()
    return "" if value in _OUTSIDE else value


def decisions_from_rows(rows: list[dict[str, str]], where: str = "审核记录") -> list[ReviewDecision]:
    """Rows with the export's Chinese keys -> decisions; a row with an unknown decision word is refused by number."""
    out = []
    for number, row in enumerate(rows, start=2):
        text = str(row.get("内容", "") or "").strip()
        if not text:
            continue
        decision = parse_decision(row.get("决定", ""))
        if decision is None:
            raise TableError(
                f"{where} 第 {number} 行：无法识别的「决定」：{row.get('决定', '')}（应为 接受 / 更正 / 驳回）"
            )
        out.append(
            ReviewDecision(
                text=text,
                decision=decision,
                suggested_id=_entry_id(row.get("建议事项序号", "")),
                final_id=_entry_id(row.get("最终事项序号", "")),
                reviewer=str(row.get("审核人", "") or ""),
                reviewed_at=str(row.get("审核时间", "") or ""),
                comment=str(row.get("意见", "") or ""),
                catalog_version=str(row.get("清单版本", "") or "").strip(),
                model_version=str(row.get("模型版本", "") or ""),
            )
        )
    return out


def read_review_file(path: Path) -> list[ReviewDecision]:
    """A CSV/XLSX export of review decisions."""
    table = open_table(Path(path))
    missing = [c for c in REQUIRED_COLUMNS if c not in table.headers]
    if missing:
        raise TableError(f"{Path(path).name}：缺少列「{'、'.join(missing)}」（现有列：{'、'.join(table.headers)}）")
    rows = []
    for row in table:
        if row.problem:
            raise TableError(f"{Path(path).name} 第 {row.number} 行：{row.problem}")
        rows.append(row.values)
    return decisions_from_rows(rows, Path(path).name)
