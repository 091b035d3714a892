"""`lvzhi merge` (raw inventory -> proposed duties) and `lvzhi eval-merge` (score the grouping on a labelled set)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from inference.merge import DEFAULT_GRANULARITY, MergeResult, merge_items, read_items, write_merge
from inference.merge.evaluate import gold_labels, read_gold, score_grouping
from lvzhi.config import Settings

PREVIEW_GROUPS = 15


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("merge", help="合并建议：把原始工作事项清单归并为拟定履职事项，供人工审定")
    p.add_argument("items", type=Path, help="原始事项文件（CSV/XLSX/XLS），列：编号,内容，可含 乡镇 列，其他列原样保留")
    p.add_argument("-o", "--output", type=Path, required=True, help="输出文件：XLSX（含分组汇总、跨乡镇对照）或 CSV")
    _add_knobs(p)
    p.add_argument("--json", action="store_true", help="在标准输出打印完整结果 JSON")
    p.set_defaults(run=run_merge)

    e = sub.add_parser("eval-merge", help="用标注集评估合并建议（成对精确率/召回率/F1、调整兰德指数）")
    e.add_argument("--items", required=True, type=Path, help="事项文件，列：编号,内容")
    e.add_argument("--gold", required=True, type=Path, help="标准分组文件，列：编号,组号")
    _add_knobs(e)
    e.add_argument("-o", "--output", type=Path, help="同时写出合并结果（XLSX 或 CSV）")
    e.add_argument("--json", action="store_true", help="输出一个 JSON 对象")
    e.set_defaults(run=run_eval)


def _add_knobs(p: argparse.ArgumentParser) -> None:
    knob = p.add_mutually_exclusive_group()
    knob.add_argument(
        "--granularity",
        type=float,
        default=DEFAULT_GRANULARITY,
        help=f"合并粒度：0 最粗（合并最多）… 1 最细（默认 {DEFAULT_GRANULARITY}）",
    )
    knob.add_argument(
        "--groups", type=int, default=None, help="目标分组数（代替 --granularity；不会为凑数合并无关事项）"
    )
    vectors = p.add_mutually_exclusive_group()  # --fast loads no model, so it cannot encode with one either
    vectors.add_argument(
        "--fast", action="store_true", help="快速模式：不载入向量模型，只用词面与概念证据（质量明显低于默认）"
    )
    vectors.add_argument(
        "--transformer",
        action="store_true",
        help="用向量模型逐条编码事项（默认用从它蒸馏的静态词元向量：开发集上分组更好，快数倍）",
    )
    p.set_defaults(settings_overrides=lambda a: {"fast": a.fast or None})


def _item_vectors(args: argparse.Namespace) -> str:
    return "transformer" if args.transformer else "static"


def _static_vectors(args: argparse.Namespace, matcher):
    """The static token vectors the default item representation needs (distilled here at first use, minutes)."""
    if matcher.embedder is None or _item_vectors(args) != "static":
        return None
    from training.distill import ensure_static_encoder

    return ensure_static_encoder(matcher)


def _check_knobs(args: argparse.Namespace) -> None:
    if not 0.0 <= args.granularity <= 1.0:
        raise ValueError(f"--granularity 须在 0 到 1 之间（收到 {args.granularity}）")
    if args.groups is not None and args.groups < 1:
        raise ValueError(f"--groups 须为正整数（收到 {args.groups}）")


ITEM_VECTOR_NAMES = {"static": "静态词元向量", "transformer": "向量模型", "lexical": "仅词面与概念（--fast）"}


def _print_summary(result: MergeResult) -> None:
    counts = result.verdict_counts()
    multi = [g for g in result.groups if g.size > 1]
    knob = f"目标 {result.target_groups} 组" if result.target_groups else f"粒度 {result.granularity:g}"
    vectors = ITEM_VECTOR_NAMES.get(result.item_vectors, result.item_vectors)
    print(f"清单：{result.catalog_name or '—'}（版本 {result.catalog_version}）    {knob}    事项表示：{vectors}")
    print(
        f"事项 {result.n_items} 条（不同表述 {result.n_distinct} 条）→ 拟定事项 {len(result.groups)} 项："
        f"多条合并 {len(multi)} 项，单独成项 {result.singletons} 项"
    )
    print("判断：" + "，".join(f"{k} {v}" for k, v in counts.items()))
    towns = {m.item.township for g in result.groups for m in g.members if m.item.township}
    if towns:
        shared = sum(1 for g in result.groups if sum(1 for t in g.townships if t) > 1)
        print(f"涉及乡镇 {len(towns)} 个；跨乡镇的拟定事项 {shared} 项（见「跨乡镇对照」表）")
    for g in multi[:PREVIEW_GROUPS]:
        e = g.nearest_entry
        near = f"最接近「{e.name}」{g.nearest_score:.0%}" if e else "无接近的清单事项"
        sample = "；".join(m.item.text for m in g.members[:4]) + ("…" if g.size > 4 else "")
        print(
            f"  {g.group_id} {g.proposed_name}（{g.size} 条，凝聚度 {g.cohesion:.2f}，{g.verdict}，{near}）：{sample}"
        )
    if len(multi) > PREVIEW_GROUPS:
        print(f"  ……其余 {len(multi) - PREVIEW_GROUPS} 个合并组见输出文件")


def _merge(args: argparse.Namespace, items, matcher):
    """The merge both `merge` and `eval-merge` run, with the knobs the flags set."""
    return merge_items(
        items,
        matcher,
        granularity=args.granularity,
        target_groups=args.groups,
        item_vectors=_item_vectors(args),
        static=_static_vectors(args, matcher),
    )


def run_merge(args: argparse.Namespace, settings: Settings) -> int:
    _check_knobs(args)
    from api.confirmed import ready_matcher

    items = read_items(args.items)
    matcher = ready_matcher(settings, dense=not settings.fast)
    result = _merge(args, items, matcher)
    write_merge(result, args.output)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return 0
    _print_summary(result)
    print(f"已写入 {args.output}（每行一条事项，附所在组的建议名称、判断与相似度）")
    return 0


EVAL_LABELS = [
    ("n", "事项数"),
    ("groups", "拟定分组数"),
    ("gold_groups", "标准分组数"),
    ("singletons", "单独成组"),
    ("pairwise_precision", "成对精确率"),
    ("pairwise_recall", "成对召回率"),
    ("pairwise_f1", "成对 F1"),
    ("ari", "调整兰德指数 ARI"),
]


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    _check_knobs(args)
    items = read_items(args.items)
    gold = gold_labels(items, read_gold(args.gold), gold_name=args.gold.name)
    from api.confirmed import ready_matcher

    # Reviewer-confirmed examples change from install to install; a score must not depend on them.
    matcher = ready_matcher(settings, dense=not settings.fast, examples=False)
    result = _merge(args, items, matcher)
    labels = result.labels()
    scores = score_grouping([labels[it.id] for it in items], gold)
    if args.output:
        write_merge(result, args.output)
    summary = {
        **scores.to_dict(),
        "granularity": args.granularity,
        "target_groups": args.groups,
        "fast": settings.fast,
        "threshold": round(result.threshold, 4),
        "catalog_version": result.catalog_version,
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print(f"清单：{result.catalog_name or '—'}（版本 {result.catalog_version}）    标注集：{args.items.name}")
    for key, label in EVAL_LABELS:
        v = summary[key]
        print(f"  {label}：{v:.4f}" if isinstance(v, float) else f"  {label}：{v}")
    if args.output:
        print(f"合并结果已写入 {args.output}")
    return 0
