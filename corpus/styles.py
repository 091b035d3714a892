"""The kinds of text a township receives, as the training corpus and the labelled sets name them (风格).

A labelled set written before the 风格 column existed gets its style from its 来源 column and the text's length,
so that every set can be reported by style.
"""

from __future__ import annotations

import re

COLLOQUIAL = "口语"  # 12345 tickets as callers say them; variants 口语-方言 / -情绪 / -语音 / -乱标点
LONG = "长工单"  # long tickets with side details or a second, minor concern
WORK_LOG = "工作记录"  # staff write-ups and work-log lines
LIST_LINE = "清单条目"  # item lines from other townships' inventories and lists
FRAGMENT = "短片段"  # 4–12 characters: a ticket title, a note

STYLES = (COLLOQUIAL, LONG, WORK_LOG, LIST_LINE, FRAGMENT)
COLLOQUIAL_VARIANTS = ("方言", "情绪", "语音", "乱标点")
# The mix a township really receives: the least share of each style in the training corpus.
STYLE_FLOORS = {COLLOQUIAL: 0.45, LONG: 0.20, WORK_LOG: 0.15, LIST_LINE: 0.10, FRAGMENT: 0.05}
LONG_CHARS = 80
FRAGMENT_CHARS = (4, 12)


def main_style(style: str) -> str:
    """口语-方言 → 口语."""
    return style.split("-", 1)[0]


def text_length(text: str) -> int:
    return len(re.sub(r"\s+", "", text))


def style_of(text: str, source: str) -> str:
    """A style for a labelled item that has no 风格: by its 来源 (工单 / 工作记录 / 他乡清单) and length."""
    length = text_length(text)
    if source == "他乡清单":
        return LIST_LINE
    if length <= FRAGMENT_CHARS[1]:
        return FRAGMENT
    if source == "工作记录":
        return WORK_LOG
    return LONG if length >= LONG_CHARS else COLLOQUIAL
