"""`lvzhi classify TEXT…`: the best duty entries for a task description, in readable Chinese or JSON."""

from __future__ import annotations

import argparse
import json
import sys

from inference.matcher import Match
from lvzhi.config import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="匹配一条或多条事项描述（无参数时逐行读取标准输入）")
    p.add_argument("texts", nargs="*", help="事项或工单描述")
    p.add_argument("--json", action="store_true", help="输出 JSON（每行一个结果）")
    p.add_argument("--top-k", type=int, default=None, help="列出的候选数（默认 5）")
    p.add_argument("--fast", action="store_true", help="快速模式：先用词法匹配，仅在不确定时调用向量模型")
    p.set_defaults(run=run, settings_overrides=lambda a: {"top_k": a.top_k, "fast": a.fast or None})


def format_match(m: Match, top_k: int) -> str:
    lines = [f"输入：{m.text}"]
    best = m.best
    if best is None:
        return "\n".join(lines + ["  无法匹配：" + (m.error or "文本为空")])
    e = best.entry
    head = f"清单之外（最接近：{e.name}）" if m.flags.out_of_list else e.name
    lines.append(f"最佳匹配：[{e.id}] {head}")
    lines.append(f"  清单类型：{e.list_type.value}    类别：{e.category or '—'}")
    lines.append(f"  承办机构：{e.office or '—'}    主责部门：{e.department or '—'}")
    if e.department_duty:  # a shared duty: where the township's part ends and the county's begins
        lines.append(f"  乡镇（街道）职责：{e.description or '—'}")
        lines.append(f"  县级部门职责：{e.department_duty}")
    lines.append(f"  置信度：{m.confidence:.0%}    与次选差距：{m.margin:.3f}")
    if m.why:
        lines.append("  依据：" + "、".join(m.why))
    for w in m.warnings:
        lines.append("  ⚠ " + w)
    if len(m.candidates) > 1:
        lines.append("  其他候选：")
        for c in m.candidates[1:top_k]:
            lines.append(f"    [{c.entry.id}] {c.entry.name}（{c.entry.list_type.short}，{c.entry.office or '—'}）")
    return "\n".join(lines)


def run(args: argparse.Namespace, settings: Settings) -> int:
    texts = [t for t in args.texts if t.strip()]
    if not texts:
        texts = [line.strip() for line in sys.stdin if line.strip()]
    if not texts:
        print("错误：请提供要匹配的事项描述（参数或标准输入）。", file=sys.stderr)
        return 2
    from api.confirmed import ready_matcher

    matcher = ready_matcher(settings)
    for m in matcher.match(texts, top_k=settings.top_k):
        if args.json:
            print(json.dumps(m.to_dict(), ensure_ascii=False))
        else:
            print(format_match(m, settings.top_k))
            print()
    return 0
