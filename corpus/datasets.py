"""Where the bundled labelled data lives, and which of it is for training and which only for evaluation.

Evaluation sets are never trained on, and models and weights are chosen only on the reference tuning split and
the dev list; 柳河街道 and the reference held-out split are reported, never chosen on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from corpus.importer import import_catalog
from corpus.tables import read_rows

DATA_DIR = Path(__file__).parent / "data"
TRAINING_CORPUS_PATH = DATA_DIR / "training" / "items.csv"


@dataclass(frozen=True)
class LabelledSet:
    """A labelled set on disk. catalog None = the bundled reference catalog."""

    key: str
    label: str
    items: Path
    gold: Path
    catalog: Path | None = None
    catalog_name: str = ""
    chosen_on: bool = False  # may models, weights and thresholds be chosen on it?

    def load_catalog(self):
        return import_catalog([self.catalog], name=self.catalog_name)


REFERENCE_ITEMS = DATA_DIR / "labelled" / "reference_items.csv"
REFERENCE_GOLD = DATA_DIR / "labelled" / "reference_gold.csv"
OTHER_TOWNSHIP = LabelledSet(
    "liuhe",
    "柳河街道（未见清单，只报告）",
    DATA_DIR / "other_township" / "items.csv",
    DATA_DIR / "other_township" / "gold.csv",
    DATA_DIR / "other_township" / "catalog.csv",
    "柳河街道履行职责事项清单",
)
DEV_TOWNSHIP = LabelledSet(
    "dev",
    "红柳湾镇（开发清单，未见清单，可调参）",
    DATA_DIR / "dev_township" / "items.csv",
    DATA_DIR / "dev_township" / "gold.csv",
    DATA_DIR / "dev_township" / "catalog.csv",
    "红柳湾镇履行职责事项清单（开发）",
    chosen_on=True,
)
# The reference labelled items are one file split by its 划分 column: 留出 is reported only, the rest is tuning.
HELD_OUT_SPLIT = "留出"


def evaluation_texts() -> list[tuple[str, str]]:
    """(where, text) of every evaluation-only text: the labelled items of every set, and the entries of the unseen
    lists. The training corpus must hold no near-copy of any of it."""
    out = []
    item_files = sorted((DATA_DIR / "labelled").glob("*items.csv")) + [OTHER_TOWNSHIP.items, DEV_TOWNSHIP.items]
    for path in item_files:
        where = f"{path.parent.name}/{path.name}"
        out += [(where, row.values["内容"]) for row in read_rows(path) if row.values.get("内容", "").strip()]
    for labelled_set in (OTHER_TOWNSHIP, DEV_TOWNSHIP):
        where = f"{labelled_set.catalog.parent.name}/{labelled_set.catalog.name}"
        for entry in labelled_set.load_catalog().entries:
            out += [(where, t) for t in (entry.name, entry.description, entry.department_duty) if t]
    return out
