"""PNG charts for the county report, drawn with matplotlib's Agg canvas (no display, no global backend switch)."""

from __future__ import annotations

import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

from corpus.tables import atomic_write

# Debian's fonts-noto-cjk provides the first; the rest are what other systems usually have.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
# Where fonts are installed when fontconfig's fc-list is not there to ask, and the file names of CJK fonts.
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
_CJK_FILE_HINTS = ("cjk", "sourcehan", "wqy", "wenquanyi", "simhei", "msyh", "pingfang", "droidsansfallback")
LIST_COLOURS = {
    "基本履职事项": "#4C78A8",
    "配合履职事项": "#F58518",
    "上级部门收回事项": "#E45756",
    "清单之外": "#9D9D9D",
}


def cjk_font() -> str | None:
    """The first installed font that has Chinese glyphs, or None (labels may then show as boxes).

    matplotlib looks fonts up in a list it builds once and caches on disk, so a CJK font installed afterwards
    (e.g. by `scripts/setup.sh` on a machine where matplotlib had already run) is not in it. When the list knows no
    CJK font, the machine's CJK font files are registered with it for this process, then asked again.
    """
    from matplotlib import font_manager

    found = _known_cjk_font(font_manager)
    if found is None and _register_cjk_files(font_manager):
        found = _known_cjk_font(font_manager)
    return found


def _known_cjk_font(font_manager) -> str | None:
    for name in CJK_FONTS:
        try:
            font_manager.findfont(name, fallback_to_default=False)
            return name
        except ValueError:
            continue
    return None


def cjk_font_files() -> list[Path]:
    """Font files on this machine with Chinese glyphs: fontconfig's answer, else files named like CJK fonts."""
    fc_list = shutil.which("fc-list")
    if fc_list:
        try:
            listed = subprocess.run([fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            listed = ""
        files = {Path(line.split(":", 1)[0].strip()) for line in listed.splitlines() if line.strip()}
        if files:
            return sorted(f for f in files if f.is_file())
    found = set()
    for folder in FONT_DIRS:
        root = Path(folder).expanduser()
        if root.is_dir():
            found.update(
                f
                for f in root.rglob("*")
                if f.suffix.lower() in (".ttf", ".otf", ".ttc")
                and any(hint in f.name.lower() for hint in _CJK_FILE_HINTS)
            )
    return sorted(found)


def _register_cjk_files(font_manager) -> bool:
    """Add the CJK font files matplotlib's list does not know yet; True when any was added."""
    known = {Path(f.fname) for f in font_manager.fontManager.ttflist}
    added = False
    for path in cjk_font_files():
        if path not in known:
            try:
                font_manager.fontManager.addfont(str(path))
                added = True
            except (OSError, RuntimeError, ValueError):
                continue  # unreadable or not a font FreeType can open
    return added


@contextmanager
def _style():
    import matplotlib

    font = cjk_font()
    rc = {"axes.unicode_minus": False, "font.family": "sans-serif", "svg.hashsalt": "lvzhi"}
    if font:
        rc["font.sans-serif"] = [font, "DejaVu Sans"]
    with matplotlib.rc_context(rc):
        yield


def _save(fig, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    atomic_write(
        path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    )
    return path


def office_chart(load: list[tuple[str, int]], path: Path, top: int = 15) -> Path:
    from matplotlib.figure import Figure

    rows = load[:top][::-1]
    with _style():
        fig = Figure(figsize=(8, 0.4 * max(len(rows), 3) + 1.2))
        ax = fig.add_subplot()
        ax.barh([name or "（未填承办机构）" for name, _ in rows], [n for _, n in rows], color="#4C78A8")
        for y, (_, n) in enumerate(rows):
            ax.text(n, y, f" {n}", va="center", fontsize=8)
        ax.set_xlabel("工单数")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title("各承办机构工单量" + (f"（前 {top} 个）" if len(load) > top else ""))
        ax.spines[["top", "right"]].set_visible(False)
        return _save(fig, path)


def monthly_chart(monthly: dict[str, dict[str, int]], path: Path) -> Path:
    from matplotlib.figure import Figure

    months = sorted(monthly)
    with _style():
        fig = Figure(figsize=(max(6.0, 0.45 * len(months) + 2), 4))
        ax = fig.add_subplot()
        bottom = [0] * len(months)
        for label, colour in LIST_COLOURS.items():
            values = [monthly[m].get(label, 0) for m in months]
            if any(values):
                ax.bar(months, values, bottom=bottom, color=colour, label=label)
                bottom = [b + v for b, v in zip(bottom, values)]
        ax.set_ylabel("工单数")
        ax.set_title("每月工单量（按清单类型）")
        ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.tick_params(axis="x", labelrotation=60, labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        return _save(fig, path)


def share_chart(ticket_share: float, entry_share: float, national: float, path: Path) -> Path:
    from matplotlib.figure import Figure

    labels = ["本镇工单", "本镇清单事项", "全国清单事项"]
    values = [ticket_share * 100, entry_share * 100, national * 100]
    with _style():
        fig = Figure(figsize=(6, 3.2))
        ax = fig.add_subplot()
        bars = ax.bar(labels, values, color=["#E45756", "#F58518", "#9D9D9D"])
        for bar, v in zip(bars, values):
            ax.text(bar.get_x() + bar.get_width() / 2, v, f"{v:.1f}%", ha="center", va="bottom", fontsize=9)
        ax.set_ylim(0, 100)
        ax.set_ylabel("%")
        ax.set_title("配合履职 + 上级部门收回 所占比例")
        ax.spines[["top", "right"]].set_visible(False)
        return _save(fig, path)
