"""The report's charts draw Chinese with a CJK font, even when matplotlib's font cache predates the font."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inference.bulk.charts import CJK_FONTS, cjk_font_files

ROOT = Path(__file__).resolve().parent.parent

# Writes a matplotlib font cache that knows no CJK font: the state of a machine where matplotlib ran before
# `scripts/setup.sh` installed fonts-noto-cjk.
STALE_CACHE = """
import json, sys
from pathlib import Path
import matplotlib
from matplotlib import font_manager as fm
cjk = set(json.loads(sys.argv[1]))
fm.fontManager.ttflist = [f for f in fm.fontManager.ttflist if f.fname not in cjk and "CJK" not in f.name]
fm.json_dump(fm.fontManager, Path(matplotlib.get_cachedir(), f"fontlist-v{fm.FontManager.__version__}.json"))
"""

# A fresh process on that cache: is the cache really stale, which font do the charts pick, which file do their
# labels resolve to, and does drawing them warn of missing glyphs?
DRAW = """
import json, sys, warnings
from pathlib import Path
from matplotlib import font_manager as fm
stale = True
try:
    fm.findfont("Noto Sans CJK SC", fallback_to_default=False)
    stale = False
except ValueError:
    pass
from inference.bulk.charts import _style, cjk_font, office_chart, share_chart
out = Path(sys.argv[1])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    office_chart([("社会事务办公室", 12), ("综合行政执法队", 7), ("", 2)], out / "机构.png")
    share_chart(0.42, 0.31, 0.35, out / "比例.png")
with _style():
    import matplotlib
    label_font = fm.findfont(fm.FontProperties(family=matplotlib.rcParams["font.family"]))
print(json.dumps({"stale": stale, "font": cjk_font(), "label_font": label_font,
                  "missing": [str(w.message) for w in caught if "missing from" in str(w.message)]}))
"""


def test_charts_find_a_cjk_font_installed_after_matplotlibs_cache(tmp_path):
    files = cjk_font_files()
    if not files:
        pytest.skip("no CJK font on this machine (scripts/setup.sh installs fonts-noto-cjk)")
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "mpl"), "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-c", STALE_CACHE, json.dumps([str(f) for f in files])],
        env=env,
        check=True,
        cwd=ROOT,
        timeout=300,
    )
    out = tmp_path / "charts"
    out.mkdir()
    drawn = subprocess.run(
        [sys.executable, "-c", DRAW, str(out)], env=env, capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert drawn.returncode == 0, drawn.stderr
    result = json.loads(drawn.stdout.strip().splitlines()[-1])
    assert result["stale"], "the font cache should not have known the CJK font before the chart code ran"
    assert result["font"] in CJK_FONTS
    assert Path(result["label_font"]) in set(files), result["label_font"]  # the labels use a CJK font file
    assert result["missing"] == []  # no "Glyph … missing from font(s) DejaVu Sans": no empty boxes
    assert (out / "机构.png").stat().st_size > 5000 and (out / "比例.png").stat().st_size > 5000
