"""Reading the dates hotline platforms write: ISO, slashes, 年月日, compact digits, or Excel serial numbers."""

from __future__ import annotations

import re
from datetime import date, timedelta

_YMD = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_COMPACT = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?:\d{4,6})?(?!\d)")
_SERIAL = re.compile(r"\d{5}(?:\.\d+)?")
_EXCEL_EPOCH = date(1899, 12, 30)
EARLIEST = date(1990, 1, 1)
LATEST = date(2100, 1, 1)


def _checked(y: int, m: int, d: int) -> date | None:
    try:
        value = date(y, m, d)
    except ValueError:
        return None
    return value if EARLIEST <= value < LATEST else None


def parse_date(raw: str) -> date | None:
    """The calendar day a cell names, or None. Times of day are ignored."""
    text = str(raw).strip()
    if not text:
        return None
    m = _YMD.search(text)
    if m:
        return _checked(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = _COMPACT.fullmatch(text) or (_COMPACT.match(text) if len(text) <= 14 else None)
    if m:
        return _checked(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if _SERIAL.fullmatch(text):
        # Excel stores days since 1899-12-30; a CSV saved from Excel sometimes keeps the bare number.
        value = _EXCEL_EPOCH + timedelta(days=int(float(text)))
        return value if EARLIEST <= value < LATEST else None
    return None


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_between(earlier: date, later: date) -> int:
    """Whole calendar months from earlier to later (a day short of a month counts as none)."""
    months = (later.year - earlier.year) * 12 + (later.month - earlier.month)
    if later.day < earlier.day:
        months -= 1
    return max(months, 0)


def minus_months(day: date, months: int) -> date:
    total = day.year * 12 + (day.month - 1) - months
    y, m = divmod(total, 12)
    m += 1
    # Clamp the day so 31 March minus one month is the last day of February.
    for d in (day.day, 30, 29, 28):
        try:
            return date(y, m, d)
        except ValueError:
            continue
    return date(y, m, 28)
