"""Proposed duty names in the style of published lists (`防汛抗旱工作`, `燃气安全管理`), derived from members.

The core of a name is what most members share: a lexicon concept (named by its official term) or, failing
that, a distinctive word. The ending follows what members mostly do: services (办理、发放、走访…) give
`XX服务`, inspections and enforcement (检查、巡查、整治…) give `XX管理`, anything else `XX工作`; a core that
already ends like a duty name keeps its own ending.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from corpus.lexicon import Lexicon
from models.lexical import Segmenter

# Words saying what is done rather than what it is done to: never the core of a name.
SERVICE_ACTIONS = frozenset(
    "服务 办理 代办 申领 申请 发放 慰问 走访 帮扶 探访 照料 助餐 对接 受理 推荐 救助 关爱 补贴 资助 接待 回访 签约".split()
)
CONTROL_ACTIONS = frozenset(
    "检查 巡查 排查 整治 查处 清理 监管 督查 管控 劝导 制止 拆除 整改 核查 维护 管护 巡河 巡山 巡田 踏查 劝离 "
    "巡逻 监测 督导 考核 考评 审查 审核 备案 处置 打捞 治理 隐患".split()
)
OTHER_GENERIC = frozenset(
    "工作 组织 开展 做好 落实 推进 加强 召开 举办 宣传 培训 登记 统计 台账 报送 上报 记录 公示 活动 会议 "
    "日常 年度 季度 定期 集中 专项 情况 信息 相关 人员 对象 名单 资料 建立 更新 设置 签订 配备 指导 协调 "
    "动员 组建 入户 进村 到村 到户 村级 镇级 乡镇 社区 全镇 辖区 辖区内 各村 每月 每日 期间 工作人员 配合 协助 负责 "
    "督促 参与 常态化".split()
)
GENERIC_WORDS = SERVICE_ACTIONS | CONTROL_ACTIONS | OTHER_GENERIC
# Fixed orders (longest first) so trimming never depends on set iteration order.
_LONGEST_FIRST_FILLER = tuple(sorted(OTHER_GENERIC, key=lambda w: (-len(w), w)))
_LONGEST_FIRST_GENERIC = tuple(sorted(GENERIC_WORDS, key=lambda w: (-len(w), w)))

# Endings that already make a duty name; a core ending in one gets no suffix.
DUTY_ENDINGS = (
    "工作",
    "管理",
    "服务",
    "保障",
    "建设",
    "治理",
    "整治",
    "防治",
    "救助",
    "监管",
    "防控",
    "帮扶",
    "调处",
    "化解",
    "供养",
    "调查",
    "审核",
    "登记",
    "保护",
    "监督",
    "事务",
    "改革",
    "创建",
    "运行",
    "办理",
    "协管",
    "管护",
    "经办",
    "自治",
    "普查",
    "整顿",
    "制度",
    "行动",
    "工程",
    "防灭火",
    "防火",
    "救援",
    "处置",
    "监测",
    "检查",
    "排查",
    "巡查",
    "调解",
    "审批",
    "许可",
    "补贴",
    "关爱",
    "优待",
    "考核",
    "运动",
    "帮教",
    "矫正",
    "制",
    "查处",
    "发放",
    "培育",
    "推广",
    "防御",
    "整改",
)
# Cores that name an activity (防汛抗旱, 征兵) take 工作 whatever members do; objects (燃气, 物业) take 管理/服务.
ACTIVITY_STARTS = tuple("防禁反抗扶救征治创调统招化减整保扫打护控")
SAFETY_ENDINGS = ("安全",)
MIN_SHARE = 0.34  # a term must be shared by about a third of the group to name it
MAX_CORE_CHARS = 14
SHORT_CORE_CHARS = 10


@dataclass(frozen=True)
class NameEvidence:
    """Per distinct text: its content words and lexicon concepts."""

    cleaned: list[str]
    words: list[list[str]]
    content: list[list[str]]  # words without the generic ones
    concepts: list[frozenset[int]]
    phrases: list[dict[int, str]]  # concept -> the phrase of it found in the text
    word_idf: dict[str, float]
    concept_idf: dict[int, float]


def gather_evidence(cleaned: list[str], hits: list[dict[int, str]], segmenter: Segmenter) -> NameEvidence:
    words = [list(dict.fromkeys(segmenter.words(c))) for c in cleaned]
    concepts = [frozenset(h) for h in hits]
    n = max(len(cleaned), 1)
    wdf = Counter(w for ws in words for w in ws)
    cdf = Counter(c for cs in concepts for c in cs)
    return NameEvidence(
        cleaned=cleaned,
        words=words,
        content=[[w for w in ws if w not in GENERIC_WORDS] for ws in words],
        concepts=concepts,
        phrases=hits,
        word_idf={w: math.log((1 + n) / (1 + d)) + 1.0 for w, d in wdf.items()},
        concept_idf={c: math.log((1 + n) / (1 + d)) + 1.0 for c, d in cdf.items()},
    )


def _shares(rows: list[int], weights: list[float], sets) -> Counter:
    """Weighted share of the group's items holding each term; `sets` is indexed by row."""
    total = sum(weights) or 1.0
    share: Counter = Counter()
    for r, w in zip(rows, weights):
        for term in sets[r]:
            share[term] += w / total
    return share


def _core(rows: list[int], weights: list[float], ev: NameEvidence, lexicon: Lexicon, segmenter: Segmenter) -> str:
    concepts = lexicon.concepts.concepts
    cshare = _shares(rows, weights, ev.concepts)
    content = ev.content
    wshare = _shares(rows, weights, content)
    best_c = max(
        cshare,
        key=lambda c: (round(cshare[c], 6), -_first_position(c, rows, ev), ev.concept_idf.get(c, 0.0), -c),
        default=None,
    )
    best_w = max(
        wshare,
        key=lambda w: (round(wshare[w], 6), -_word_position(w, rows, ev), ev.word_idf.get(w, 0.0), w),
        default=None,
    )
    single = len(rows) == 1
    if best_c is not None and (single or cshare[best_c] >= MIN_SHARE):
        concept = concepts[best_c]
        return concept.official[0] if concept.official else concept.key
    if single:
        return _trimmed(ev.cleaned[rows[0]], segmenter.words)
    if best_w is not None and wshare[best_w] >= MIN_SHARE:
        return _compound(best_w, rows, content, wshare)
    if best_c is not None:
        concept = concepts[best_c]
        return concept.official[0] if concept.official else concept.key
    if best_w is not None:
        return _compound(best_w, rows, content, wshare)
    return ""


def _first_position(concept: int, rows: list[int], ev: NameEvidence) -> int:
    """Where the concept first shows in members' text: what a staff item names first is usually its subject."""
    found = [ev.cleaned[r].find(ev.phrases[r][concept]) for r in rows if concept in ev.phrases[r]]
    return min((f for f in found if f >= 0), default=1 << 20)


def _word_position(word: str, rows: list[int], ev: NameEvidence) -> int:
    found = [ev.cleaned[r].find(word) for r in rows]
    return min((f for f in found if f >= 0), default=1 << 20)


def _trimmed(text: str, segmenter_words: Callable[[str], list[str]]) -> str:
    """A single item's own wording without leading filler (组织、年度…) and trailing actions (登记、公示…)."""
    text = "".join(ch for ch in text if not ch.isspace())
    changed = True
    while changed and text:
        changed = False
        for w in _LONGEST_FIRST_FILLER:
            if text.startswith(w) and len(text) > len(w) + 1:
                text, changed = text[len(w) :], True
        for w in _LONGEST_FIRST_GENERIC:
            if text.endswith(w) and len(text) > len(w) + 1:
                text, changed = text[: -len(w)], True
    text = text.strip("，。、；：,.;:（）() ")
    first = re.split(r"[和及与、，,；;]", text)[0]
    if len(text) > SHORT_CORE_CHARS and first != text and len(first) >= 2:
        # A list of tasks: its first one names it well enough (…扑火队组建和扑火工具配备 -> 半专业扑火队).
        return _trimmed(first, segmenter_words)
    if len(text) > MAX_CORE_CHARS:
        # Too long to be a name: a Chinese work item ends on what is done (…群众提前转移安置 -> 转移安置).
        words = [w for w in segmenter_words(text) if w not in GENERIC_WORDS][-2:]
        text = "".join(words) or text[:MAX_CORE_CHARS]
    return text


def _compound(word: str, rows: list[int], content: list[list[str]], share: Counter) -> str:
    """Join the top word with the word that most often follows it in members, when that pair is common too."""
    follows: Counter = Counter()
    for r in rows:
        ws = content[r]
        for a, b in zip(ws, ws[1:]):
            if a == word:
                follows[b] += 1
    if follows:
        nxt, count = max(follows.items(), key=lambda kv: (kv[1], kv[0]))
        if count >= max(2, math.ceil(len(rows) / 2)) and len(word + nxt) <= MAX_CORE_CHARS:
            return word + nxt
    return word


def _suffix(core: str, rows: list[int], weights: list[float], ev: NameEvidence) -> str:
    if core.endswith(DUTY_ENDINGS):
        return ""
    total = sum(weights) or 1.0
    service = sum(w for r, w in zip(rows, weights) if SERVICE_ACTIONS & set(ev.words[r])) / total
    control = sum(w for r, w in zip(rows, weights) if CONTROL_ACTIONS & set(ev.words[r])) / total
    if core.endswith(SAFETY_ENDINGS):
        return "管理"
    if core.startswith(ACTIVITY_STARTS):
        return "工作"
    if service >= 0.5 and service > control:
        return "服务"
    if control >= 0.5:
        return "管理"
    return "工作"


def propose_name(
    rows: list[int], weights: list[float], ev: NameEvidence, lexicon: Lexicon, segmenter: Segmenter, fallback: str
) -> str:
    core = _core(rows, weights, ev, lexicon, segmenter)[:MAX_CORE_CHARS]
    if not core:
        return fallback
    return core + _suffix(core, rows, weights, ev)


def distinguishing_word(rows: list[int], weights: list[float], ev: NameEvidence, name: str) -> str:
    """The group's most shared content word not already in its name, to tell apart groups with the same name."""
    share = _shares(rows, weights, {r: [w for w in ev.content[r] if w not in name] for r in rows})
    best = max(share, key=lambda w: (round(share[w], 6), ev.word_idf.get(w, 0.0), w), default="")
    return best
