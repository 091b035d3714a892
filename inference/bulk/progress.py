"""Showing a bulk job's progress: a tqdm bar on a terminal, a plain log line every so often otherwise."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from inference.bulk.options import BulkProgress

LOG_EVERY_S = 10.0


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "未知"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}小时{m:02d}分"
    if m:
        return f"{m}分{s:02d}秒"
    return f"{s}秒"


def progress_line(p: BulkProgress) -> str:
    total = f"/{p.total}" if p.total is not None else ""
    pct = f"（{p.done / p.total:.0%}）" if p.total else ""
    return f"已处理 {p.done}{total} 行{pct}，{p.rate:.1f} 行/秒，预计剩余 {format_duration(p.eta_s)}"


@dataclass
class ProgressPrinter:
    """Callable for run_bulk(progress=...). Chooses the bar or log lines by whether `stream` is a terminal."""

    stream: TextIO = field(default_factory=lambda: sys.stderr)
    every_s: float = LOG_EVERY_S
    _bar: object = None
    _last_log: float = 0.0
    _last_done: int = -1

    def __post_init__(self) -> None:
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, p: BulkProgress) -> None:
        if self.tty:
            self._draw(p)
            return
        now = time.monotonic()
        finished = p.total is not None and p.done >= p.total
        if p.done != self._last_done and (now - self._last_log >= self.every_s or finished or self._last_done < 0):
            print(progress_line(p), file=self.stream, flush=True)
            self._last_log, self._last_done = now, p.done

    def _draw(self, p: BulkProgress) -> None:
        import shutil

        from tqdm import tqdm

        if self._bar is None:
            # shutil falls back to 80 columns where a terminal reports no size (tqdm would then draw nothing).
            width = shutil.get_terminal_size().columns
            self._bar = tqdm(
                total=p.total,
                initial=p.done,
                unit="行",
                file=self.stream,
                ncols=min(width, 120),
                desc="分类",
                smoothing=0.1,
                mininterval=0.5,
            )
        bar = self._bar
        if p.total is not None and bar.total != p.total:
            bar.total = p.total
        bar.update(p.done - bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
