"""Malformed requests answered in Chinese: which field is wrong and how, instead of FastAPI's English dump.

Every endpoint goes through this (it is the app's handler for RequestValidationError, which FastAPI also raises for
a body that is not valid JSON). The answer is 422 with `detail`, one sentence the pages show as is, and `errors`,
one entry per problem for programs: field, problem, and pydantic's own type and location.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# pydantic's error types -> what is wrong, in words; {name} is filled from the error's context.
PROBLEMS = {
    "missing": "缺少此字段（必填）",
    "string_type": "应为文本（字符串）",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数（不能有小数）",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "list_type": "应为列表（JSON 数组）",
    "dict_type": "应为 JSON 对象",
    "model_type": "应为 JSON 对象",
    "model_attributes_type": "应为 JSON 对象",
    "extra_forbidden": "不是可用的字段",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应不小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应不大于 {le}",
    "literal_error": "只能是 {expected}",
    "enum": "只能是 {expected}",
    "string_pattern_mismatch": "格式不符合要求",
    "json_type": "应为 JSON",
}
# Python's JSON parser's messages, for the ones people actually cause.
JSON_PROBLEMS = {
    "Expecting value": "缺少值",
    "Expecting property name enclosed in double quotes": "字段名须用英文双引号括起",
    "Expecting ',' delimiter": "缺少逗号",
    "Expecting ':' delimiter": "缺少冒号",
    "Unterminated string starting at": "字符串缺少结束引号",
    "Invalid control character at": "字符串里有未转义的换行或控制字符",
    "Extra data": "JSON 之后还有多余的内容",
}
_PLACES = {"query": "查询参数", "path": "路径参数", "header": "请求头", "cookie": "Cookie", "form": "表单字段"}


def field_name(loc: Sequence[Any]) -> str:
    """("body", "texts", 2) -> "字段 texts[2]"; ("query", "limit") -> "查询参数 limit"; ("body",) -> "请求体"."""
    if not loc:
        return "请求"
    place, rest = str(loc[0]), list(loc[1:])
    path = ""
    for part in rest:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if place == "body":
        return f"字段 {path}" if path else "请求体"
    return f"{_PLACES.get(place, place)} {path}".strip()


def _expected(value: object) -> str:
    # pydantic writes "'accept', 'correct' or 'reject'".
    return str(value).replace("' or '", "'、'").replace("', '", "'、'")


def problem_text(error: dict) -> str:
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind == "json_invalid":
        error_text = str(ctx.get("error", ""))
        reason = next(
            (words for english, words in JSON_PROBLEMS.items() if error_text.startswith(english)),
            error_text or "无法解析",
        )
        return f"不是合法的 JSON（{reason}）"
    if kind in ("value_error", "assertion_error"):
        message = str(error.get("msg", ""))
        return message.removeprefix("Value error, ").removeprefix("Assertion failed, ") or "取值无效"
    template = PROBLEMS.get(kind)
    if template is None:
        return f"取值无效（{error.get('msg', kind)}）"
    values = {k: _expected(v) if k == "expected" else v for k, v in ctx.items()}
    try:
        return template.format(**values)
    except (KeyError, IndexError):
        return template


def describe(errors: Sequence[dict]) -> dict:
    """The 422 body: a Chinese sentence naming every wrong field, and the problems one by one."""
    items = []
    for error in errors:
        loc = tuple(error.get("loc") or ())
        if error.get("type") == "json_invalid":
            where = next((p for p in loc[1:] if isinstance(p, int)), None)
            field = "请求体" + (f"第 {where + 1} 个字符附近" if where is not None else "")
        elif loc == ("body",) and error.get("type") == "missing":
            field = "请求体"
        else:
            field = field_name(loc)
        problem = problem_text(error)
        if loc == ("body",) and error.get("type") == "missing":
            problem = "为空（应为 JSON 对象）"
        items.append({"field": field, "problem": problem, "type": error.get("type", ""), "loc": list(loc)})
    sentence = "；".join(f"{item['field']}：{item['problem']}" for item in items) or "请求格式不正确"
    return {"detail": f"请求有误：{sentence}", "errors": items}
