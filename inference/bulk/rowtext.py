"""Turning one export row into the text to classify, or into the reason it cannot be classified."""

from __future__ import annotations

from dataclasses import dataclass

from inference.bulk.columns import ColumnChoice

DEFAULT_MAX_CHARS = 3000
_MEANINGFUL_SHARE = 0.35  # below this share of CJK/letters/digits a cell is treated as junk


@dataclass(frozen=True)
class RowText:
    text: str
    error: str = ""  # non-empty: do not classify, say why


def _meaningful(ch: str) -> bool:
    return ch.isalnum() or "\u4e00" <= ch <= "\u9fff"


def junk_reason(text: str) -> str:
    """Why a text looks like binary or mis-decoded data rather than words; "" when it looks fine."""
    if "\x00" in text:
        return "内容含二进制数据，无法识别"
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n")
    replacement = text.count("\ufffd")
    if controls + replacement > max(2, len(text) // 20):
        return "内容含乱码或控制字符，无法识别"
    visible = [ch for ch in text if not ch.isspace()]
    if visible and sum(1 for ch in visible if _meaningful(ch)) / len(visible) < _MEANINGFUL_SHARE:
        return "内容几乎全是符号，无法识别"
    if visible and not any("\u4e00" <= ch <= "\u9fff" or ch.isalpha() for ch in visible):
        return "内容没有文字（仅数字或符号），无法识别"
    return ""


def row_text(
    values: dict[str, str], columns: ColumnChoice, problem: str = "", max_chars: int = DEFAULT_MAX_CHARS
) -> RowText:
    if problem:
        return RowText("", problem)
    body = " ".join(str(values.get(columns.text, "") or "").split())
    title = " ".join(str(values.get(columns.title, "") or "").split()) if columns.title else ""
    # The title is usually a summary of the body; only add it when it says something the body does not.
    text = f"{title}：{body}" if title and body and title not in body else (body or title)
    if not text:
        return RowText("", f"「{columns.text}」为空，无可分类内容")
    if len(text) > max_chars:
        return RowText("", f"内容过长（{len(text)} 字，上限 {max_chars} 字），未分类")
    reason = junk_reason(text)
    if reason:
        return RowText("", reason)
    return RowText(text)
