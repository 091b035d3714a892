"""`lvzhi eval`: score a labelled set against a catalog."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from corpus.tables import write_table
from inference.evaluate import evaluate, load_labelled
from inference.loader import load_catalog
from lvzhi.config import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="用标注集评估匹配效果（top-k、MRR、清单之外、收回标记）")
    p.add_argument("--items", required=True, type=Path, help="事项文件，列：编号,内容")
    p.add_argument("--gold", required=True, type=Path, help="标准答案文件，列：编号,标准事项序号（无 = 清单之外）")
    p.add_argument("--by", help="按标准答案文件中的某列分组统计，例如 难度")
    p.add_argument("-o", "--output", type=Path, help="逐条结果输出文件（CSV 或 XLSX）")
    p.add_argument("--json", action="store_true", help="输出一个 JSON 对象")
    p.set_defaults(run=run)


LABELS = [
    ("n", "样本数"),
    ("top1", "Top-1 准确率"),
    ("top3", "Top-3 准确率"),
    ("top5", "Top-5 准确率"),
    ("mrr", "MRR"),
    ("out_of_list_precision", "清单之外 精确率"),
    ("out_of_list_recall", "清单之外 召回率"),
    ("reclaimed_precision", "收回标记 精确率"),
    ("reclaimed_recall", "收回标记 召回率"),
]


def run(args: argparse.Namespace, settings: Settings) -> int:
    catalog = load_catalog(settings)
    items = load_labelled(args.items, args.gold, catalog)
    from api.confirmed import ready_matcher

    matcher = ready_matcher(settings, catalog)
    report = evaluate(matcher, items, by=args.by)
    if args.output:
        write_table(args.output, report.rows)
    if args.json:
        print(json.dumps(report.summary(), ensure_ascii=False))
        return 0
    print(f"清单：{matcher.catalog.name}（版本 {matcher.catalog.version}，{len(matcher.catalog)} 项）")
    print(f"标注集：{args.items.name}，其中清单内 {report.n_in_list} 条，清单之外 {report.n_out_of_list} 条")
    summary = report.summary()
    for key, label in LABELS:
        v = summary[key]
        print(f"  {label}：{v:.3f}" if isinstance(v, float) else f"  {label}：{v}")
    if report.by:
        print(f"按「{args.by}」分组：")
        for key, row in report.by.items():
            print(
                f"  {key or '（空）'}：n={row['n']}  top1={row['top1']:.3f}  top3={row['top3']:.3f}  mrr={row['mrr']:.3f}"
            )
    if args.output:
        print(f"逐条结果已写入 {args.output}")
    return 0
