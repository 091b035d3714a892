"""The `lvzhi` command. Each subcommand lives in lvzhi/commands/<name>.py and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import sys

from corpus.tables import TableError
from lvzhi.config import PRECISIONS, load_settings

COMMANDS = ("classify", "evaluate", "catalog", "serve", "user", "merge", "bulk", "train", "model")


def _add_global_options(parser: argparse.ArgumentParser, default: object = None) -> None:
    group = parser.add_argument_group("全局选项（写在命令之前或之后均可）")
    group.add_argument("--home", default=default, help="数据与缓存目录（默认 ~/.cache/lvzhi，或 LVZHI_HOME）")
    group.add_argument(
        "--model",
        default=default,
        help="嵌入模型：默认内置 multilingual-e5-small，或任一 sentence-transformers 模型名/路径",
    )
    group.add_argument("--catalog", default=default, help="履职清单：清单文件路径或已导入的版本号；默认内置参考清单")
    group.add_argument("--threads", type=int, default=default, help="CPU 线程数")
    group.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=default,
        help="向量模型的矩阵运算精度：auto（默认：CPU 原生支持 bfloat16 时用它，完整模式批量约快 1.5 倍（docs/benchmarks.md），向量几乎不变）"
        "、float32、bfloat16",
    )


def _subcommand_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser below `parser` (commands and their own sub-commands, such as `catalog import`)."""
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += [child, *_subcommand_parsers(child)]
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lvzhi", description="履职清单匹配：把工单、工作事项映射到乡镇（街道）履行职责事项清单"
    )
    _add_global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="命令")
    for name in COMMANDS:
        importlib.import_module(f"lvzhi.commands.{name}").register(sub)
    # The same options after the command (`lvzhi eval --catalog X …`), with the same meaning. SUPPRESS: a command's
    # parser sets them only when they are given there, so it never overwrites what was given before the command.
    for child in _subcommand_parsers(parser):
        _add_global_options(child, default=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        settings = load_settings(
            home=args.home,
            model=args.model,
            catalog=args.catalog,
            threads=args.threads,
            precision=args.precision,
            **getattr(args, "settings_overrides", lambda a: {})(args),
        )
        return int(args.run(args, settings) or 0)
    except (TableError, ValueError, FileNotFoundError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("已中断。", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
