"""Counts of the training corpus and the dev list, and the checks their rules name, as Markdown.

    python -m corpus.corpus_report            # print
    python -m corpus.corpus_report --readme   # write them into corpus/data/training/README.md

The counts in `corpus/data/training/README.md` are this command's output (a test checks they are current).
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from corpus.catalogs import load_reference_catalog
from corpus.datasets import DEV_TOWNSHIP, TRAINING_CORPUS_PATH, evaluation_texts
from corpus.near_copy import max_jaccard, near_copies
from corpus.schema import Catalog
from corpus.styles import STYLE_FLOORS, STYLES, main_style
from corpus.tables import read_rows
from corpus.training_corpus import CorpusItem, load_training_corpus

OUT_OF_LIST_LABEL = "清单之外"
README_PATH = TRAINING_CORPUS_PATH.parent / "README.md"
BEGIN, END = "<!-- 统计开始：python -m corpus.corpus_report --readme -->", "<!-- 统计结束 -->"


def nearest_wrong_entries(items: list[CorpusItem], catalog: Catalog) -> list[str]:
    """Per in-list item, the entry other than its own that character TF-IDF ranks highest: a plain, model-free
    view of what the item could be confused with."""
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    entries = vec.fit_transform([e.text for e in catalog.entries])
    sims = (vec.transform([it.text for it in items]) @ entries.T).toarray()
    position = {e.id: i for i, e in enumerate(catalog.entries)}
    out = []
    for it, row in zip(items, sims):
        row[position[it.gold]] = -1.0
        out.append(catalog.entries[int(np.argmax(row))].id)
    return out


@dataclass
class CorpusChecks:
    items: int
    in_list: int
    out_of_list: int
    style_shares: dict[str, float]
    fewest_per_entry: int
    entries_covered: int
    entries_in_catalog: int
    self_near_copy_share: float
    evaluation_near_copies: list[tuple[str, str, float]]  # (corpus text, evaluation file, Jaccard)
    fewest_marked_confusables: int
    fewest_sibling_nearest: int  # per entry, items whose TF-IDF-nearest wrong entry is a same-category sibling


def check_corpus(items: list[CorpusItem], catalog: Catalog) -> CorpusChecks:
    in_list = [it for it in items if it.gold]
    per_entry = Counter(it.gold for it in in_list)
    styles = Counter(it.main_style for it in items)
    self_best, _ = max_jaccard([it.text for it in items])
    evaluation = evaluation_texts()
    hits = near_copies([it.text for it in items], [t for _, t in evaluation])
    category = {e.id: e.category for e in catalog.entries}
    marked = Counter(it.gold for it in in_list if it.confusable_with)
    nearest = nearest_wrong_entries(in_list, catalog)
    sibling = Counter(it.gold for it, wrong in zip(in_list, nearest) if category[wrong] == category[it.gold])
    return CorpusChecks(
        items=len(items),
        in_list=len(in_list),
        out_of_list=len(items) - len(in_list),
        style_shares={s: styles[s] / len(items) for s in STYLES},
        fewest_per_entry=min(per_entry[e.id] for e in catalog.entries),
        entries_covered=sum(1 for e in catalog.entries if per_entry[e.id]),
        entries_in_catalog=len(catalog),
        self_near_copy_share=float((self_best >= 0.5).mean()),
        evaluation_near_copies=[(items[i].text, evaluation[j][0], s) for i, j, s in hits],
        fewest_marked_confusables=min(marked[e.id] for e in catalog.entries),
        fewest_sibling_nearest=min(sibling[e.id] for e in catalog.entries),
    )


def _table(title: str, counts: Counter, total: int, floors: dict[str, float] | None = None) -> list[str]:
    head = f"| {title} | 条数 | 占比 |" + (" 下限 |" if floors else "")
    lines = [head, "|---|---|---|" + ("---|" if floors else "")]
    for key, n in counts.most_common():
        floor = f" {floors[key]:.0%} |" if floors and key in floors else (" |" if floors else "")
        lines.append(f"| {key} | {n:,} | {n / total:.1%} |{floor}")
    return lines


def corpus_markdown(items: list[CorpusItem], catalog: Catalog, checks: CorpusChecks) -> list[str]:
    entry = catalog.get
    total = len(items)
    lines = [
        f"共 {total:,} 条：清单内 {checks.in_list:,} 条（覆盖 {checks.entries_covered}/{checks.entries_in_catalog}"
        f" 个事项，每项至少 {checks.fewest_per_entry} 条），清单之外 {checks.out_of_list:,} 条。",
        "",
    ]
    lines += _table("风格", Counter(it.main_style for it in items), total, STYLE_FLOORS) + [""]
    variants = Counter(it.style for it in items if it.main_style == "口语")
    lines += ["口语工单中：" + "，".join(f"{k} {v:,}" for k, v in variants.most_common()) + "。", ""]
    lines += _table("来源", Counter(it.source for it in items), total) + [""]
    lines += _table(
        "清单类型", Counter(entry(it.gold).list_type.value if it.gold else OUT_OF_LIST_LABEL for it in items), total
    ) + [""]
    lines += _table(
        "事项类别", Counter(entry(it.gold).category if it.gold else OUT_OF_LIST_LABEL for it in items), total
    ) + [""]
    lines += [
        f"- 语料内部近似重复（字符 5-gram Jaccard ≥ 0.5）：{checks.self_near_copy_share:.2%} 的条目（上限 2%）。",
        f"- 与评测集（参考标注、合并标注、柳河街道、开发清单的事项与清单条目）的近似重复：{len(checks.evaluation_near_copies)} 条（须为 0）。",
        f"- 易混条目：每个事项至少 {checks.fewest_marked_confusables} 条写明了易混的同类事项（易混事项列）；"
        f"按字符 TF-IDF，每个事项至少 {checks.fewest_sibling_nearest} 条的“最近的错误事项”是同一类别的兄弟事项。",
    ]
    return lines


def dev_markdown() -> list[str]:
    catalog = DEV_TOWNSHIP.load_catalog()
    types = Counter(e.list_type.value for e in catalog.entries)
    items = read_rows(DEV_TOWNSHIP.items)
    gold = {r.values["编号"]: r.values["标准事项序号"] for r in read_rows(DEV_TOWNSHIP.gold)}
    styles = Counter(main_style(r.values.get("风格", "")) for r in items)
    out = sum(1 for r in items if gold[r.values["编号"]] == "无")
    lines = [
        f"开发清单「{catalog.name}」：{len(catalog)} 项（"
        + "、".join(f"{k} {v}" for k, v in types.items())
        + f"；兜底 {sum(e.bottom_line for e in catalog.entries)} 项，僵尸事项 {sum(e.is_zombie for e in catalog.entries)} 项），"
        f"标注 {len(items)} 条（清单之外 {out} 条，涉及 {len({g for g in gold.values() if g != '无'})} 个事项）。",
        "",
    ]
    return lines + _table("风格", styles, len(items))


def report_markdown() -> str:
    catalog = load_reference_catalog()
    items = load_training_corpus()
    checks = check_corpus(items, catalog)
    return "\n".join([*corpus_markdown(items, catalog, checks), "", *dev_markdown()])


def with_counts(readme: str, counts: str) -> str:
    """The README with the block between the markers replaced by `counts`."""
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{counts}\n{END}{tail}"


def main() -> None:
    ap = argparse.ArgumentParser(description="训练语料与开发清单的统计和检查")
    ap.add_argument("--readme", action="store_true", help="把统计写进 corpus/data/training/README.md")
    args = ap.parse_args()
    counts = report_markdown()
    if args.readme:
        README_PATH.write_text(with_counts(README_PATH.read_text(encoding="utf-8"), counts), encoding="utf-8")
    print(counts)


if __name__ == "__main__":
    main()
