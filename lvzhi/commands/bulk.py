"""`lvzhi bulk INPUT -o OUTPUT`: classify every ticket of a hotline export and write the county report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inference.bulk import BulkOptions, run_bulk
from inference.bulk.checkpoint import CheckpointError, checkpoint_dir
from inference.bulk.columns import ColumnError
from inference.bulk.progress import ProgressPrinter
from inference.bulk.runner import check_bulk_input
from inference.fast import CascadePolicy
from inference.matcher import Matcher
from lvzhi.config import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bulk",
        help="批量分类 12345 热线工单导出文件（CSV/XLSX/XLS），并生成分析报告",
        description="逐行匹配工单到履职清单，输出原始列加匹配结果；中断后可用 --resume 续跑。",
    )
    p.add_argument("input", type=Path, help="工单导出文件（CSV，UTF-8 或 GBK；或 XLSX、XLS）")
    p.add_argument("-o", "--output", type=Path, required=True, help="结果文件（.csv 或 .xlsx，按扩展名决定格式）")
    p.add_argument("--text-col", help="工单文本所在列（默认自动识别：诉求内容、工单内容、来电内容……）")
    p.add_argument("--title-col", help="标题列，拼接在文本前（默认自动识别；传空字符串表示不用标题）")
    p.add_argument("--date-col", help="日期列（默认自动识别；传空字符串表示不用日期）")
    p.add_argument(
        "--fast",
        action="store_true",
        help="快速模式：用从向量模型蒸馏的静态词元向量加词法匹配（每秒上千条）；"
        "配合 --fast-margin 把没把握的工单交给向量模型",
    )
    p.add_argument(
        "--fast-margin",
        type=float,
        default=None,
        help=f"快速模式下首段的首选领先次选不足此值即交给向量模型（默认 {CascadePolicy().margin_below}，即只用首段；"
        "0.1 约交出八分之一，越大越接近完整模式、越慢）",
    )
    p.add_argument("--resume", action="store_true", help="从上次中断处继续（输出与不中断时完全相同）")
    p.add_argument("--engine", choices=("local", "ray"), default="local", help="执行引擎（默认 local）")
    p.add_argument("--ray-address", help="Ray 集群地址；不填时在本机启动 Ray")
    p.add_argument("--zombie-months", type=int, default=12, help="最近工单早于多少个月算僵尸事项候选（默认 12）")
    p.add_argument("--chunk-rows", type=int, default=2000, help="每块行数（默认 2000；检查点按块保存）")
    p.add_argument("--report-format", choices=("md", "html"), default="md", help="报告格式（另附 JSON）")
    p.add_argument("--batch-size", type=int, default=None, help="向量模型批大小（默认 64）")
    p.set_defaults(run=run, settings_overrides=lambda a: {"fast": a.fast or None, "batch_size": a.batch_size})


def _answering(settings: Settings, options: BulkOptions) -> tuple[Matcher | None, dict[str, list[str]] | None]:
    """The local engine answers with a matcher loaded here; the Ray engine's workers each load the model prepared
    here, with the confirmed texts gathered here."""
    from api.confirmed import confirmed_examples, ready_matcher

    if options.engine == "local":
        return ready_matcher(settings), None
    from inference.loader import load_catalog
    from training.adapt import prepare_model

    prepare_model(settings)
    return None, confirmed_examples(settings, load_catalog(settings))


def run(args: argparse.Namespace, settings: Settings) -> int:
    options = BulkOptions(
        text_col=args.text_col,
        title_col=args.title_col,
        date_col=args.date_col,
        engine=args.engine,
        ray_address=args.ray_address,
        zombie_months=args.zombie_months,
        chunk_rows=args.chunk_rows,
        fast=args.fast or settings.fast,
        report_format=args.report_format,
        fast_policy=CascadePolicy(margin_below=args.fast_margin) if args.fast_margin is not None else None,
    )
    if args.zombie_months < 1:
        print("错误：--zombie-months 须为正整数", file=sys.stderr)
        return 2
    printer = ProgressPrinter()
    print(f"读取 {args.input}，结果写入 {args.output}", file=sys.stderr)
    try:
        from training.distill import ensure_static_encoder

        check_bulk_input(args.input, args.output, options)  # a wrong file is refused before the model loads
        matcher, examples = _answering(settings, options)
        result = run_bulk(
            args.input,
            args.output,
            options,
            settings,
            matcher=matcher,
            progress=printer,
            resume=args.resume,
            examples=examples,
            static_source=ensure_static_encoder,
        )
    except (ColumnError, CheckpointError) as exc:
        printer.close()
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        printer.close()
        print(
            f"已中断。已完成的部分保存在 {checkpoint_dir(args.output)}，用同样的命令加 --resume 可继续。",
            file=sys.stderr,
        )
        return 130
    printer.close()
    for note in result.notes:
        print(note, file=sys.stderr)
    print(f"完成：{result.rows} 行，其中无法分类 {result.errors} 行。", file=sys.stderr)
    print(f"结果：{result.output}", file=sys.stderr)
    print(f"报告：{result.report}（数据：{result.report_json.name if result.report_json else ''}）", file=sys.stderr)
    if result.charts:
        print("图表：" + "、".join(p.name for p in result.charts), file=sys.stderr)
    return 0
