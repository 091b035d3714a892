"""`lvzhi model list|use|rollback`: which fine-tuned embedding model answers, and going back to an earlier one."""

from __future__ import annotations

import argparse
import json

from lvzhi.config import Settings
from models.registry import ModelRecord, ModelRegistry

STATUS_LABELS = {"promoted": "已启用过", "refused": "未通过验证", "candidate": "训练中断"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("model", help="查看、切换、回滚训练出的向量模型版本")
    ms = p.add_subparsers(dest="model_command", metavar="操作")
    ls = ms.add_parser("list", help="列出模型版本（* 为当前使用的版本）")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(run=run_list)
    use = ms.add_parser("use", help="启用某个版本（base = 回到未训练的基础模型）")
    use.add_argument("version", help="版本号，如 v3；或 base")
    use.set_defaults(run=run_use)
    rb = ms.add_parser("rollback", help="回到上一次切换之前使用的版本")
    rb.set_defaults(run=run_rollback)
    p.set_defaults(run=lambda a, s: (p.print_help(), 2)[1])


def _validation_line(record: ModelRecord) -> str:
    after = record.metrics.get("validation", {}).get("after")
    before = record.metrics.get("validation", {}).get("before")
    if not after:
        return "无验证数据"
    return (
        f"验证 Top-1 {before['top1']:.3f}→{after['top1']:.3f}，MRR {before['mrr']:.3f}→{after['mrr']:.3f}"
        f"（{after['n']} 条）"
    )


def _kept_share(record: ModelRecord) -> str:
    kept = record.metrics.get("mix", {}).get("kept", 1.0)
    return "" if kept >= 1.0 else f"（改动保留 {kept:.0%}）"


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    registry = ModelRegistry.for_models_dir(settings.models_dir)
    records = registry.records()
    pointer = registry.pointer()
    if args.json:
        print(
            json.dumps(
                {
                    "current": pointer.current,
                    "history": list(pointer.history),
                    "models": [r.to_dict() for r in records],
                },
                ensure_ascii=False,
            )
        )
        return 0
    mark = "*" if not pointer.current else " "
    print(f"{mark} base  基础模型 {settings.model}")
    for r in records:
        mark = "*" if r.version == pointer.current else " "
        status = STATUS_LABELS.get(r.status, r.status) + ("" if r.weights_kept else "，权重已删除")
        print(
            f"{mark} {r.version:<5} {r.created_at}  {status}  基于 {r.parent or 'base'}  "
            f"清单 {r.catalog_name or '—'}（{r.catalog_version or '—'}）  {r.train_pairs} 对 × {r.epochs} 轮{_kept_share(r)}  "
            f"{_validation_line(r)}"
        )
    if not records:
        print("尚未训练过模型；用 lvzhi train 训练。")
    return 0


def _say_current(record: ModelRecord | None, settings: Settings) -> None:
    if record is None:
        print(f"当前模型：基础模型 {settings.model}")
    else:
        print(f"当前模型：{record.version}（{record.created_at} 训练，基于 {record.parent or 'base'}）")
    print("向量索引将在下次匹配时按当前模型自动重建。")


def run_use(args: argparse.Namespace, settings: Settings) -> int:
    registry = ModelRegistry.for_models_dir(settings.models_dir)
    record = registry.use(args.version)
    if record is not None and record.base_model != settings.model:
        print(f"注意：{record.version} 是在 {record.base_model} 上训练的，只有使用该基础模型时才会生效。")
    _say_current(record, settings)
    return 0


def run_rollback(args: argparse.Namespace, settings: Settings) -> int:
    record = ModelRegistry.for_models_dir(settings.models_dir).rollback()
    _say_current(record, settings)
    return 0
