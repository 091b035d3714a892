"""Scoring a labelled set: items `编号,内容`, gold `编号,标准事项序号` (`无` = outside the list)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from corpus.schema import Catalog
from corpus.tables import TableError, read_rows
from inference.matcher import Match, Matcher

OUT_OF_LIST = {"无", "清单之外", "none", "None", ""}
ID_COLUMNS = ("编号", "id", "ID", "序号")
TEXT_COLUMNS = ("内容", "text", "文本", "诉求内容", "工单内容")
GOLD_COLUMNS = ("标准事项序号", "gold", "事项序号", "标准事项")


@dataclass(frozen=True)
class LabelledItem:
    id: str
    text: str
    gold: str  # entry id, or "" for outside the list
    extra: dict[str, str] = field(default_factory=dict)


def _pick(headers: list[str], wanted: tuple[str, ...], path: Path) -> str:
    for w in wanted:
        if w in headers:
            return w
    raise TableError(f"{path.name}：缺少列「{wanted[0]}」（现有列：{'、'.join(headers)}）")


def load_labelled(items_path: Path, gold_path: Path, catalog: Catalog | None = None) -> list[LabelledItem]:
    """Items and their gold answers. With `catalog`, each answer is resolved to an entry id (by id or by name), and
    answers that name no entry of it are refused with their rows, rather than silently scored as misses."""
    items_path, gold_path = Path(items_path), Path(gold_path)
    item_rows, gold_rows = read_rows(items_path), read_rows(gold_path)
    if not item_rows:
        raise TableError(f"{items_path.name}：没有数据行")
    ih = list(item_rows[0].values)
    gh = list(gold_rows[0].values) if gold_rows else []
    id_col, text_col = _pick(ih, ID_COLUMNS, items_path), _pick(ih, TEXT_COLUMNS, items_path)
    gid_col, gold_col = _pick(gh, ID_COLUMNS, gold_path), _pick(gh, GOLD_COLUMNS, gold_path)
    gold = {}
    for row in gold_rows:
        key = row.values.get(gid_col, "").strip()
        if key in gold:
            raise TableError(f"{gold_path.name} 第 {row.number} 行「{gid_col}」列：编号 {key} 重复")
        gold[key] = row
    if catalog is not None:
        _resolve_gold(gold, gold_col, gold_path, catalog)
    out = []
    for row in item_rows:
        key = row.values.get(id_col, "").strip()
        if key not in gold:
            raise TableError(f"{gold_path.name}：缺少 {items_path.name} 第 {row.number} 行编号 {key} 的标准答案")
        g = gold[key].values
        label = g.get(gold_col, "").strip()
        extra = {**row.values, **g}
        out.append(LabelledItem(key, row.values.get(text_col, ""), "" if label in OUT_OF_LIST else label, extra))
    return out


def _resolve_gold(gold: dict, gold_col: str, gold_path: Path, catalog: Catalog) -> None:
    unknown = []
    for row in gold.values():
        label = row.values.get(gold_col, "").strip()
        if label in OUT_OF_LIST:
            continue
        entry = catalog.find(label)
        if entry is None:
            unknown.append((row.number, label))
        else:
            row.values[gold_col] = entry.id
    if unknown:
        shown = "；".join(f"第 {n} 行「{label}」" for n, label in unknown[:5])
        more = f"等 {len(unknown)} 行" if len(unknown) > 5 else ""
        raise TableError(
            f"{gold_path.name}「{gold_col}」列：{shown}{more}既不是清单中的事项序号，也不是事项名称"
            f"（清单之外请填「无」）"
        )


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


@dataclass
class EvalReport:
    n: int
    top1: float
    top3: float
    top5: float
    mrr: float
    out_of_list_precision: float
    out_of_list_recall: float
    reclaimed_precision: float
    reclaimed_recall: float
    n_in_list: int
    n_out_of_list: int
    by: dict[str, dict[str, float]]
    rows: list[dict]

    def summary(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "rows"}
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


def score(items: list[LabelledItem], matches: list[Match], catalog_get, by: str | None = None) -> EvalReport:
    """Top-k/MRR over items whose gold is an entry; out-of-list and reclaimed flags as precision/recall."""
    ranks, rows = [], []
    ool_tp = ool_fp = ool_fn = rec_tp = rec_fp = rec_fn = 0
    groups: dict[str, list[tuple[int | None, bool]]] = defaultdict(list)
    for item, m in zip(items, matches):
        ids = [c.entry.id for c in m.candidates]
        gold_entry = catalog_get(item.gold) if item.gold else None
        rank = ids.index(item.gold) + 1 if item.gold in ids else None
        if item.gold:
            ranks.append(rank)
        gold_ool = not item.gold
        ool_tp += gold_ool and m.flags.out_of_list
        ool_fp += (not gold_ool) and m.flags.out_of_list
        ool_fn += gold_ool and not m.flags.out_of_list
        gold_rec = gold_entry is not None and gold_entry.is_reclaimed
        rec_tp += gold_rec and m.flags.reclaimed
        rec_fp += (not gold_rec) and m.flags.reclaimed
        rec_fn += gold_rec and not m.flags.reclaimed
        if by:
            groups[item.extra.get(by, "")].append((rank, gold_ool))
        best = m.best
        rows.append(
            {
                "编号": item.id,
                "内容": item.text,
                "标准事项序号": item.gold or "无",
                "预测事项序号": "无" if m.flags.out_of_list else (best.entry.id if best else ""),
                "预测事项名称": best.entry.name if best else "",
                "排名": rank or "",
                "置信度": round(m.confidence, 4),
                "清单之外": m.flags.out_of_list,
                "收回": m.flags.reclaimed,
                "正确": (rank == 1 and not m.flags.out_of_list) if item.gold else m.flags.out_of_list,
                "候选": " | ".join(f"{c.entry.id}:{c.entry.name}" for c in m.candidates[:3]),
            }
        )
    n_in = len(ranks)

    def at(k: int, rs: list) -> float:
        return _ratio(sum(1 for r in rs if r is not None and r <= k), len(rs))

    by_table = {}
    for key, vals in sorted(groups.items()):
        rs = [r for r, ool in vals if not ool]
        by_table[key] = {
            "n": len(vals),
            "top1": round(at(1, rs), 4),
            "top3": round(at(3, rs), 4),
            "mrr": round(_ratio(sum(1 / r for r in rs if r), len(rs)), 4),
        }
    return EvalReport(
        n=len(items),
        top1=at(1, ranks),
        top3=at(3, ranks),
        top5=at(5, ranks),
        mrr=_ratio(sum(1 / r for r in ranks if r), n_in),
        out_of_list_precision=_ratio(ool_tp, ool_tp + ool_fp),
        out_of_list_recall=_ratio(ool_tp, ool_tp + ool_fn),
        reclaimed_precision=_ratio(rec_tp, rec_tp + rec_fp),
        reclaimed_recall=_ratio(rec_tp, rec_tp + rec_fn),
        n_in_list=n_in,
        n_out_of_list=len(items) - n_in,
        by=by_table,
        rows=rows,
    )


def evaluate(matcher: Matcher, items: list[LabelledItem], by: str | None = None) -> EvalReport:
    matches = matcher.match([it.text for it in items], top_k=max(5, matcher.settings.top_k))
    return score(items, matches, matcher.catalog.get, by)
