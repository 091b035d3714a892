"""`lvzhi catalog import|list|show`: published duty lists in, versions out."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from corpus.importer import import_catalog
from corpus.schema import parse_list_type
from corpus.store import CatalogStore
from inference.loader import load_catalog
from lvzhi.config import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("catalog", help="导入、列出、查看履职清单版本")
    cs = p.add_subparsers(dest="catalog_command", metavar="操作")
    imp = cs.add_parser("import", help="导入清单文件（CSV/XLSX/XLS/DOCX/JSON，可多个）")
    imp.add_argument("files", nargs="+", type=Path)
    imp.add_argument("--name", default="", help="清单名称（默认取文件名）")
    imp.add_argument("--list-type", help="文件只含一类清单时的类型：基本 / 配合 / 收回")
    imp.set_defaults(run=run_import)
    ls = cs.add_parser("list", help="列出已导入的清单版本")
    ls.set_defaults(run=run_list)
    show = cs.add_parser("show", help="查看一个清单版本的事项（默认内置参考清单）")
    show.add_argument("version", nargs="?", default=None, help="版本号（或其前缀）、清单文件路径")
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=run_show)
    diff = cs.add_parser("diff", help="比较两个清单版本：未变、修改、更名、合并、拆分、删除、新增")
    diff.add_argument("old", help="旧清单：版本号（或前缀）或清单文件")
    diff.add_argument("new", help="新清单：版本号（或前缀）或清单文件")
    diff.add_argument("--all", action="store_true", help="也列出未变的事项")
    diff.add_argument("--semantic", action="store_true", help="同时用向量模型比较语义（较慢）")
    diff.add_argument("--json", action="store_true")
    diff.set_defaults(run=run_diff)
    p.set_defaults(run=lambda a, s: (p.print_help(), 2)[1])


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    list_type = None
    if args.list_type:
        list_type = parse_list_type(args.list_type)
        if list_type is None:
            raise ValueError(f"无法识别的清单类型：{args.list_type}（可选 基本 / 配合 / 收回）")
    catalog = import_catalog(list(args.files), name=args.name, list_type=list_type)
    saved = CatalogStore(settings.catalogs_dir).save(catalog)
    counts = Counter(e.list_type.short for e in saved.entries)
    print(
        f"已导入「{saved.name}」：共 {len(saved)} 项（基本 {counts['基本']}，配合 {counts['配合']}，收回 {counts['收回']}）"
    )
    print(f"版本：{saved.version}    导入时间：{saved.imported_at}")
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    rows = CatalogStore(settings.catalogs_dir).list()
    if not rows:
        print("尚未导入任何清单；未指定 --catalog 时使用内置参考清单。")
        return 0
    for r in rows:
        print(f"{r.version}  {r.imported_at}  {r.entries:>4} 项  {r.name}")
    return 0


def run_show(args: argparse.Namespace, settings: Settings) -> int:
    catalog = load_catalog(settings, args.version)
    if args.json:
        print(json.dumps(catalog.to_dict(), ensure_ascii=False, indent=1))
        return 0
    print(f"{catalog.name}  版本 {catalog.version}  共 {len(catalog)} 项")
    for e in catalog.entries:
        marks = "".join(m for m, on in (("【兜底】", e.bottom_line), ("【僵尸】", e.is_zombie)) if on)
        print(
            f"[{e.id}] {e.list_type.short} | {e.category or '—'} | {e.name}{marks} | {e.office or '—'} | {e.department or '—'}"
        )
    return 0


def run_diff(args: argparse.Namespace, settings: Settings) -> int:
    from corpus.diff import FIELD_LABELS, ChangeKind, diff_catalogs

    old, new = load_catalog(settings, args.old), load_catalog(settings, args.new)
    embedder = None
    if args.semantic:
        from models.embedder import load_embedder
        from training.adapt import prepare_model

        prepare_model(settings)
        embedder = load_embedder(settings)
    result = diff_catalogs(old, new, embedder)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return 0
    print(f"旧：{old.name}（版本 {old.version}，{len(old)} 项）")
    print(f"新：{new.name}（版本 {new.version}，{len(new)} 项）")
    print("；".join(f"{kind} {n}" for kind, n in result.counts().items()))

    def names(catalog, ids) -> str:
        return "、".join(f"[{i}] {catalog.get(i).name}" for i in ids)

    for c in result.changes:
        if c.kind is ChangeKind.UNCHANGED and not args.all:
            continue
        if c.kind is ChangeKind.ADDED:
            line = names(new, c.new_ids)
        elif c.kind is ChangeKind.REMOVED:
            line = names(old, c.old_ids)
        else:
            line = f"{names(old, c.old_ids)} → {names(new, c.new_ids)}（相似度 {c.similarity:.2f}）"
            fields = [f for f in c.changed_fields if f not in ("name",)]
            if fields:
                line += "，变动：" + "、".join(FIELD_LABELS.get(f, f) for f in fields)
        print(f"  {c.kind.value}：{line}")
    return 0
