"""Labelled texts for training, from review decisions and pairs files, moved onto the catalog being trained for.

A label names an entry of the list version it was made against (the 清单版本 column); labels made against an
older version are carried onto the current one through the catalog diff, and those whose entry was removed are
reported rather than silently kept under a number that now means something else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from corpus.catalogs import load_reference_catalog, resolve_catalog
from corpus.diff import CatalogDiff, diff_catalogs
from corpus.schema import Catalog
from corpus.store import CatalogNotFoundError, CatalogStore, CatalogStoreError
from corpus.tables import TableError, open_table
from inference.evaluate import GOLD_COLUMNS, OUT_OF_LIST, TEXT_COLUMNS
from training.reviews import ReviewDecision

VERSION_COLUMNS = ("清单版本", "catalog_version")
SOURCE_REVIEW = "审核"
SOURCE_PAIRS = "标注文件"


@dataclass(frozen=True)
class LabelledText:
    text: str
    entry_id: str
    source: str  # SOURCE_REVIEW | SOURCE_PAIRS | a file name
    catalog_version: str = ""  # the list version entry_id refers to; "" = the catalog being trained for


@dataclass(frozen=True)
class RejectedText:
    """A text that was wrongly mapped to entry_id: that entry is a hard negative for it."""

    text: str
    entry_id: str
    catalog_version: str = ""


def labels_from_reviews(decisions: list[ReviewDecision]) -> tuple[list[LabelledText], list[RejectedText]]:
    """Accepted/corrected -> the text belongs to the final entry; rejected/corrected -> not to the suggested one."""
    labelled, rejected = [], []
    for d in decisions:
        if d.positive_id:
            labelled.append(LabelledText(d.text, d.positive_id, SOURCE_REVIEW, d.catalog_version))
        if d.negative_id:
            rejected.append(RejectedText(d.text, d.negative_id, d.catalog_version))
    return labelled, rejected


def read_pairs_file(path: Path) -> list[LabelledText]:
    """`内容,标准事项序号` (optionally 清单版本); rows marked 无/清单之外 have no entry to learn and are skipped."""
    path = Path(path)
    table = open_table(path)
    text_col = next((c for c in TEXT_COLUMNS if c in table.headers), None)
    gold_col = next((c for c in GOLD_COLUMNS if c in table.headers), None)
    if text_col is None or gold_col is None:
        raise TableError(f"{path.name}：需要「内容」和「标准事项序号」两列（现有列：{'、'.join(table.headers)}）")
    version_col = next((c for c in VERSION_COLUMNS if c in table.headers), None)
    out = []
    for row in table:
        if row.problem:
            raise TableError(f"{path.name} 第 {row.number} 行：{row.problem}")
        text = row.values.get(text_col, "").strip()
        gold = row.values.get(gold_col, "").strip()
        if not text or gold in OUT_OF_LIST:
            continue
        version = row.values.get(version_col, "").strip() if version_col else ""
        out.append(LabelledText(text, gold, path.name, version))
    return out


@dataclass
class AlignedLabels:
    labelled: list[LabelledText]
    rejected: list[RejectedText]
    carried: int = 0  # labels moved from an older list version
    problems: list[str] = field(default_factory=list)  # Chinese, one line per kind of dropped label


@dataclass
class _VersionResolver:
    """Old catalogs by version, and their diffs onto the target, computed once each."""

    target: Catalog
    store: CatalogStore
    _diffs: dict[str, CatalogDiff | None] = field(default_factory=dict)

    def diff_from(self, version: str) -> CatalogDiff | None:
        if version not in self._diffs:
            self._diffs[version] = self._load(version)
        return self._diffs[version]

    def _load(self, version: str) -> CatalogDiff | None:
        old = None
        try:
            reference = load_reference_catalog()
            if reference.version == version:
                old = reference
        except (FileNotFoundError, ValueError):
            pass
        if old is None:
            try:
                old = resolve_catalog(version, self.store)
            except (CatalogNotFoundError, CatalogStoreError, ValueError):
                return None
        return diff_catalogs(old, self.target)


def align_to_catalog(
    labelled: list[LabelledText], rejected: list[RejectedText], catalog: Catalog, store: CatalogStore
) -> AlignedLabels:
    resolver = _VersionResolver(catalog, store)
    unknown_version: dict[str, int] = {}
    unknown_id: dict[str, int] = {}
    removed = 0
    carried = 0

    def place(entry_id: str, text: str, version: str) -> str | None:
        nonlocal removed, carried
        if not version or version == catalog.version:
            entry = catalog.find(entry_id)
            if entry is None:
                unknown_id[entry_id] = unknown_id.get(entry_id, 0) + 1
                return None
            return entry.id
        diff = resolver.diff_from(version)
        if diff is None:
            unknown_version[version] = unknown_version.get(version, 0) + 1
            return None
        target = diff.route(entry_id, text)
        if target is None:
            if diff.old.get(entry_id) is None:
                unknown_id[entry_id] = unknown_id.get(entry_id, 0) + 1
            else:
                removed += 1
            return None
        carried += 1
        return target

    out_labelled = [
        LabelledText(x.text, t, x.source)
        for x in labelled
        if (t := place(x.entry_id, x.text, x.catalog_version)) is not None
    ]
    out_rejected = [
        RejectedText(x.text, t) for x in rejected if (t := place(x.entry_id, x.text, x.catalog_version)) is not None
    ]
    problems = []
    if unknown_id:
        ids = "、".join(sorted(unknown_id)[:10]) + ("等" if len(unknown_id) > 10 else "")
        problems.append(f"{sum(unknown_id.values())} 条标注的事项序号在清单中不存在（{ids}），已跳过")
    if unknown_version:
        versions = "、".join(sorted(unknown_version))
        problems.append(
            f"{sum(unknown_version.values())} 条标注所依据的清单版本未导入（{versions}），无法换算到当前清单，已跳过"
        )
    if removed:
        problems.append(f"{removed} 条标注对应的事项在新清单中已删除，已跳过")
    return AlignedLabels(_dedupe(out_labelled), out_rejected, carried, problems)


def _dedupe(labelled: list[LabelledText]) -> list[LabelledText]:
    """One label per text: the latest decision wins (reviews come oldest first, pairs files after them)."""
    latest: dict[str, LabelledText] = {}
    for item in labelled:
        latest.pop(item.text, None)
        latest[item.text] = item
    return list(latest.values())


def text_key(text: str, seed: int) -> int:
    digest = hashlib.sha256(f"{seed}\x1f{''.join(text.split())}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def split_validation(
    labelled: list[LabelledText], fraction: float, seed: int
) -> tuple[list[LabelledText], list[LabelledText]]:
    """(train, validation). Membership depends only on the text and the seed, so an item held out once stays held
    out in every later run as data grows; a model trained earlier has then never seen today's validation items."""
    if not labelled or fraction <= 0:
        return list(labelled), []
    bound = int(fraction * 2**64)
    validation = [x for x in labelled if text_key(x.text, seed) < bound]
    if not validation and len(labelled) >= 2:
        validation = [min(labelled, key=lambda x: text_key(x.text, seed))]
    held = {x.text for x in validation}
    return [x for x in labelled if x.text not in held], validation
