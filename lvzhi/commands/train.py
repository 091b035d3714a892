"""`lvzhi train`: fine-tune the current embedding model on a list, review decisions and labelled pairs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from inference.loader import load_catalog
from lvzhi.config import Settings
from training.finetune import AUTO_MAX_EPOCHS, AUTO_MIN_STEPS, FinetuneConfig

if TYPE_CHECKING:
    from training.pipeline import ScorePair, TrainOutcome


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="用新清单、审核结果和标注数据微调向量模型，验证不变差后启用")
    p.add_argument(
        "--reviews",
        type=Path,
        help="审核记录文件（CSV/XLSX，列：内容,决定,建议事项序号,最终事项序号,…）；不给时读取审核服务数据库中的记录",
    )
    p.add_argument("--no-service-reviews", action="store_true", help="不读取审核服务数据库")
    p.add_argument("--pairs", type=Path, help="标注文件（CSV/XLSX，列：内容,标准事项序号）")
    p.add_argument(
        "--eval",
        nargs=2,
        type=Path,
        metavar=("ITEMS", "GOLD"),
        help="另外报告训练前后在这个标注集上的效果（事项文件 标准答案文件）",
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help=f"训练轮数上限（默认按数据量自动：不足 {AUTO_MIN_STEPS} 步时多训几轮，最多 {AUTO_MAX_EPOCHS} 轮）；"
        "每轮后在验证集上打分，保留最好的一轮，再试只保留它一半或四分之三的改动，取验证最好的",
    )
    p.add_argument("--batch-size", type=int, default=16, help="批大小（默认 16）")
    p.add_argument("--learning-rate", type=float, default=FinetuneConfig.learning_rate)
    p.add_argument("--seed", type=int, default=42, help="随机种子（默认 42；也决定验证集划分）")
    p.add_argument("--validation", type=float, default=0.2, help="留作验证的标注比例（默认 0.2）")
    p.add_argument("--no-catalog-pairs", action="store_true", help="不使用清单自带的“名称—内容”样本对")
    p.add_argument("--force", action="store_true", help="即使验证集上变差也启用新模型")
    p.add_argument("--keep-refused", action="store_true", help="未启用的模型也保留权重（默认删除以节省磁盘）")
    p.add_argument("--quiet", action="store_true", help="不显示进度条")
    p.add_argument("--json", action="store_true", help="最后输出一个 JSON 对象")
    p.set_defaults(run=run)


def _scores_table(title: str, pair: ScorePair) -> list[str]:
    b, a = pair.before, pair.after
    lines = [f"{title}（{b.n} 条）：      训练前    训练后"]
    for label, key in (("Top-1", "top1"), ("Top-5", "top5"), ("MRR  ", "mrr")):
        before, after = getattr(b, key), getattr(a, key)
        lines.append(f"  {label}              {before:.3f}     {after:.3f}   ({after - before:+.3f})")
    return lines


def summary(outcome: TrainOutcome) -> dict:
    r = outcome.record
    return {
        "version": r.version,
        "promoted": outcome.verdict.promote,
        "verdict": outcome.verdict.reason,
        "train_pairs": r.train_pairs,
        "steps": outcome.stats.steps,
        "seconds": round(outcome.stats.seconds, 1),
        "data_hash": r.data_hash,
        "metrics": r.metrics,
    }


def _service_reviews(args: argparse.Namespace, settings: Settings) -> list:
    """The web service's review decisions, unless a reviews file replaces them or --no-service-reviews is given."""
    if args.reviews is not None or args.no_service_reviews:
        return []
    from api.confirmed import service_reviews

    return service_reviews(settings)


def run(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here, not at the top: it loads sentence-transformers, and every lvzhi command (even --help) builds
    # this command's parser.
    from training.pipeline import TrainRequest, run_training

    if (args.epochs is not None and args.epochs < 1) or args.batch_size < 2:
        raise ValueError("--epochs 至少为 1，--batch-size 至少为 2")
    if not 0 <= args.validation < 1:
        raise ValueError("--validation 应在 0 到 1 之间")
    catalog = load_catalog(settings)
    print(f"清单：{catalog.name}（版本 {catalog.version}，{len(catalog)} 项）")
    request = TrainRequest(
        reviews_file=args.reviews,
        pairs_file=args.pairs,
        eval_items=args.eval[0] if args.eval else None,
        eval_gold=args.eval[1] if args.eval else None,
        service_reviews=tuple(_service_reviews(args, settings)),
        use_catalog_pairs=not args.no_catalog_pairs,
        validation_fraction=args.validation,
        force=args.force,
        keep_refused_weights=args.keep_refused,
        config=FinetuneConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            seed=args.seed,
            progress=not args.quiet,
        ),
    )
    outcome = run_training(settings, catalog, request)
    if outcome.validation:
        for line in _scores_table(
            f"{outcome.validation_source}，模型本身（据此决定是否启用）", outcome.validation_dense
        ):
            print(line)
        for line in _scores_table(f"{outcome.validation_source}，完整匹配（含词法与示例）", outcome.validation):
            print(line)
    if outcome.evaluation and outcome.validation_source == "验证集":
        for line in _scores_table(f"评估集 {args.eval[0].name}，模型本身", outcome.evaluation_dense):
            print(line)
        for line in _scores_table(f"评估集 {args.eval[0].name}，完整匹配", outcome.evaluation):
            print(line)
    r = outcome.record
    if outcome.verdict.promote:
        print(f"已启用新模型 {r.version}：{outcome.verdict.reason}。向量索引将在下次匹配时自动重建。")
    else:
        print(f"新模型 {r.version} 未启用：{outcome.verdict.reason}。")
    if args.json:
        print(json.dumps(summary(outcome), ensure_ascii=False))
    return 0 if outcome.verdict.promote else 3
