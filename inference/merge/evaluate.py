"""Scoring proposed groups against a gold grouping (`编号,组号`): pairwise precision/recall/F1 and ARI."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score

from corpus.tables import TableError, read_rows
from inference.merge.items import ID_HEADERS, RawItem, _find_column

GROUP_HEADERS = ("组号", "组", "group", "gold")


@dataclass(frozen=True)
class MergeScores:
    n: int
    groups: int  # proposed groups, singletons included
    gold_groups: int
    singletons: int
    gold_singletons: int
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    ari: float

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def read_gold(path: Path | str) -> dict[str, str]:
    path = Path(path)
    rows = read_rows(path)
    if not rows:
        raise TableError(f"{path.name}：没有数据行")
    headers = list(rows[0].values)
    id_col, group_col = _find_column(headers, ID_HEADERS), _find_column(headers, GROUP_HEADERS)
    if id_col is None or group_col is None:
        raise TableError(f"{path.name}：需要列「编号」和「组号」（现有列：{'、'.join(headers)}）")
    gold: dict[str, str] = {}
    for row in rows:
        key = row.values.get(id_col, "").strip()
        if key in gold:
            raise TableError(f"{path.name} 第 {row.number} 行：编号 {key} 重复")
        gold[key] = row.values.get(group_col, "").strip()
    return gold


def gold_labels(items: list[RawItem], gold: dict[str, str], gold_name: str = "标准答案") -> list[str]:
    """Gold group per item; an item with an empty 组号 is a group of its own."""
    missing = [it.id for it in items if it.id not in gold]
    if missing:
        shown = "、".join(missing[:5]) + ("等" if len(missing) > 5 else "")
        raise TableError(f"{gold_name}缺少 {len(missing)} 个事项的组号：{shown}")
    return [gold[it.id] or f"\x00{it.id}" for it in items]


def _pairs_within(labels: list) -> int:
    return sum(c * (c - 1) // 2 for c in Counter(labels).values())


def score_grouping(predicted: list, gold: list) -> MergeScores:
    if len(predicted) != len(gold):
        raise ValueError("预测分组与标准答案的条数不一致")
    both = _pairs_within(list(zip(predicted, gold)))
    pred_pairs, gold_pairs = _pairs_within(predicted), _pairs_within(gold)
    precision = both / pred_pairs if pred_pairs else 1.0
    recall = both / gold_pairs if gold_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    pred_sizes, gold_sizes = Counter(predicted), Counter(gold)
    return MergeScores(
        n=len(gold),
        groups=len(pred_sizes),
        gold_groups=len(gold_sizes),
        singletons=sum(1 for c in pred_sizes.values() if c == 1),
        gold_singletons=sum(1 for c in gold_sizes.values() if c == 1),
        pairwise_precision=precision,
        pairwise_recall=recall,
        pairwise_f1=f1,
        ari=float(
            adjusted_rand_score(
                np.asarray(gold, dtype=object).astype(str), np.asarray(predicted, dtype=object).astype(str)
            )
        )
        if gold
        else 0.0,
    )
