"""Which columns of a hotline export hold the ticket text, its title and its date.

Platforms name them differently (诉求内容, 工单内容, 来电内容, 问题描述, 留言详情…); header names decide first, and a
look at a sample of values settles what the names leave open.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from inference.bulk.dates import parse_date

# Best first: an exact header beats a header that merely contains the word.
TEXT_NAMES = (
    "诉求内容",
    "工单内容",
    "来电内容",
    "问题描述",
    "留言详情",
    "留言内容",
    "诉求描述",
    "反映内容",
    "投诉内容",
    "来电诉求",
    "详细内容",
    "事项内容",
    "具体内容",
    "主要内容",
    "内容",
    "描述",
    "诉求",
)
# The last ones are for another township's list or a raw inventory classified in bulk: the duty's name goes in
# front of its content.
TITLE_NAMES = (
    "诉求标题",
    "留言主题",
    "留言标题",
    "工单标题",
    "来电标题",
    "标题",
    "主题",
    "事由",
    "摘要",
    "事项名称",
    "履职事项",
    "工作事项",
)
DATE_NAMES = (
    "受理时间",
    "来电时间",
    "登记时间",
    "留言时间",
    "创建时间",
    "提交时间",
    "交办时间",
    "派单时间",
    "工单时间",
    "受理日期",
    "来电日期",
    "登记日期",
    "日期",
    "时间",
)
# Columns that look like text but never are the complaint itself.
NOT_TEXT_WORDS = (
    "编号",
    "单号",
    "电话",
    "号码",
    "姓名",
    "来电人",
    "时间",
    "日期",
    "意见",
    "结果",
    "回复",
    "答复",
    "反馈",
    "办理",
    "状态",
    "类型",
    "类别",
    "分类",
    "区域",
    "地址",
    "部门",
    "单位",
    "标题",
    "主题",
)


class ColumnError(ValueError):
    """The export has no column that could hold the ticket text (or a named column is missing)."""


@dataclass(frozen=True)
class ColumnChoice:
    text: str
    title: str = ""
    date: str = ""
    how: str = ""  # a Chinese sentence saying how each was picked

    def to_dict(self) -> dict:
        return asdict(self)


def _by_name(headers: list[str], names: tuple[str, ...], exclude: set[str], reject: tuple[str, ...] = ()) -> str:
    for name in names:
        if name in headers and name not in exclude:
            return name
    # A header that only contains a known name (e.g. 市民诉求内容) counts unless it also says it is something else
    # (回复内容, 办理结果内容).
    for name in names:
        if len(name) < 2:
            continue
        for h in headers:
            if h not in exclude and name in h and not any(w in h.replace(name, "") for w in reject):
                return h
    return ""


def _mean_length(sample: list[dict[str, str]], column: str) -> float:
    values = [str(r.get(column, "") or "") for r in sample]
    return sum(len(v) for v in values) / max(len(values), 1)


def _cjk_share(sample: list[dict[str, str]], column: str) -> float:
    text = "".join(str(r.get(column, "") or "") for r in sample)
    if not text:
        return 0.0
    return sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff") / len(text)


def _date_share(sample: list[dict[str, str]], column: str) -> float:
    values = [str(r.get(column, "") or "").strip() for r in sample]
    values = [v for v in values if v]
    if not values:
        return 0.0
    return sum(1 for v in values if parse_date(v) is not None) / len(values)


def _require(headers: list[str], name: str | None, what: str) -> str:
    if name is None or name == "":
        return ""
    if name not in headers:
        raise ColumnError(f"找不到{what}列「{name}」（现有列：{'、'.join(headers)}）")
    return name


def detect_columns(
    headers: list[str],
    sample: list[dict[str, str]],
    text: str | None = None,
    title: str | None = None,
    date: str | None = None,
) -> ColumnChoice:
    """Pick text/title/date columns. Given names are checked, not second-guessed."""
    how = []
    text_col = _require(headers, text, "文本")
    if text_col:
        how.append(f"文本列「{text_col}」（指定）")
    else:
        text_col = _by_name(headers, TEXT_NAMES, set(), NOT_TEXT_WORDS)
        if text_col:
            how.append(f"文本列「{text_col}」（按列名识别）")
        else:
            scored = [
                (_mean_length(sample, h), h)
                for h in headers
                if not any(w in h for w in NOT_TEXT_WORDS) and _cjk_share(sample, h) >= 0.3
            ]
            scored.sort(key=lambda t: -t[0])
            if not scored or scored[0][0] < 4:
                raise ColumnError("无法识别工单文本列，请用 --text-col 指定（现有列：{}）".format("、".join(headers)))
            text_col = scored[0][1]
            how.append(f"文本列「{text_col}」（按内容识别：平均 {scored[0][0]:.0f} 字的中文列）")

    title_col = _require(headers, title, "标题")
    if title_col:
        how.append(f"标题列「{title_col}」（指定）")
    elif title is None:
        title_col = _by_name(headers, TITLE_NAMES, {text_col})
        if title_col:
            how.append(f"标题列「{title_col}」（按列名识别，拼接在文本前）")
    if title_col == text_col:
        title_col = ""

    date_col = _require(headers, date, "日期")
    if date_col:
        how.append(f"日期列「{date_col}」（指定）")
    elif date is None:
        named = [h for h in headers if h not in (text_col, title_col) and any(n in h for n in DATE_NAMES)]
        # Prefer the acceptance time over e.g. a closing time: order of DATE_NAMES, then values that parse.
        named.sort(key=lambda h: min((i for i, n in enumerate(DATE_NAMES) if n in h), default=99))
        for h in named:
            if _date_share(sample, h) >= 0.5:
                date_col = h
                break
        if not date_col:
            for h in headers:
                if h not in (text_col, title_col) and _date_share(sample, h) >= 0.8 and _mean_length(sample, h) >= 6:
                    date_col = h
                    break
        if date_col:
            how.append(f"日期列「{date_col}」（自动识别）")
        else:
            how.append("未找到日期列（报告中不含月度趋势和僵尸事项时间判断）")
    return ColumnChoice(text_col, title_col, date_col, "；".join(how))
