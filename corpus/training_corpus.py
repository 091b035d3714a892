"""The ticket training corpus: texts written for the bundled reference list, each labelled with its entry.

`corpus/data/training/items.csv`, columns 编号,内容,标准事项序号,来源,风格 and optionally 易混事项 (the sibling
entry an item was written to be confusable with). 标准事项序号 `无` = outside the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from corpus.datasets import TRAINING_CORPUS_PATH
from corpus.styles import main_style
from corpus.tables import TableError, read_rows

COLUMNS = ("编号", "内容", "标准事项序号", "来源", "风格")
OUT_OF_LIST = "无"


@dataclass(frozen=True)
class CorpusItem:
    id: str
    text: str
    gold: str  # an entry id of the reference list, or "" for outside the list
    source: str  # 工单 / 工作记录 / 他乡清单
    style: str  # 口语, 口语-方言, 长工单, 工作记录, 清单条目, 短片段, …
    confusable_with: str = ""  # the sibling entry the item was written to be mistaken for

    @property
    def main_style(self) -> str:
        return main_style(self.style)


def load_training_corpus(path: Path = TRAINING_CORPUS_PATH) -> list[CorpusItem]:
    path = Path(path)
    rows = read_rows(path)
    missing = [c for c in COLUMNS if rows and c not in rows[0].values]
    if not rows or missing:
        raise TableError(f"{path.name}：缺少列「{'」「'.join(missing or COLUMNS)}」")
    items = []
    for row in rows:
        v = row.values
        gold = v["标准事项序号"].strip()
        if not v["内容"].strip() or not gold:
            raise TableError(f"{path.name} 第 {row.number} 行：内容和标准事项序号都必须填写")
        items.append(
            CorpusItem(
                id=v["编号"].strip(),
                text=v["内容"].strip(),
                gold="" if gold == OUT_OF_LIST else gold,
                source=v["来源"].strip(),
                style=v["风格"].strip(),
                confusable_with=v.get("易混事项", "").strip(),
            )
        )
    return items
