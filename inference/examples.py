"""Confirmed texts kept per catalog version, so the matcher finds an entry by the tickets people confirmed for it.

`lvzhi train` writes here what it learned from (reviews and pairs files) and the category vote's weight it fitted;
the matcher reads both (inference.loader). Carrying texts confirmed on an older list version onto the current one,
and adding the web service's review decisions, is done above this layer (training.examples, api.confirmed).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from corpus.schema import Catalog
from corpus.tables import atomic_write
from lvzhi.config import Settings
from models.registry import now_iso

log = logging.getLogger("lvzhi.inference")

EXAMPLES_DIRNAME = "examples"
_FILE = re.compile(r"^([0-9a-f]{8,64})\.json$")


class ConfirmedText(Protocol):
    """A text known to belong to an entry (training.data.LabelledText is one)."""

    @property
    def text(self) -> str: ...

    @property
    def entry_id(self) -> str: ...


@dataclass(frozen=True)
class ExampleStore:
    root: Path

    @classmethod
    def for_settings(cls, settings: Settings) -> ExampleStore:
        return cls(settings.home / EXAMPLES_DIRNAME)

    def path_for(self, catalog_version: str) -> Path:
        return self.root / f"{catalog_version}.json"

    def _payload(self, catalog_version: str) -> dict:
        try:
            raw = json.loads(self.path_for(catalog_version).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            log.warning("已保存的示例 %s 无法读取：%s", self.path_for(catalog_version), error)
            return {}
        return raw if isinstance(raw, dict) else {}

    @staticmethod
    def _examples(payload: dict) -> dict[str, list[str]]:
        return {str(k): [str(t) for t in v] for k, v in payload.get("examples", {}).items()}

    @staticmethod
    def _weight(payload: dict) -> float:
        try:
            return float(payload.get("category_vote", {}).get("weight", 0.0))
        except (AttributeError, TypeError, ValueError):
            return 0.0

    def load(self, catalog_version: str) -> dict[str, list[str]]:
        return self._examples(self._payload(catalog_version))

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(m.group(1) for p in self.root.iterdir() if (m := _FILE.match(p.name)))

    def category_weight(self, catalog_version: str) -> float:
        """The category vote's weight `lvzhi train` fitted on these examples (0 when never fitted)."""
        return self._weight(self._payload(catalog_version))

    def add(self, catalog: Catalog, labelled: Iterable[ConfirmedText], category_vote: dict | None = None) -> int:
        """Merge texts into the catalog version's file; returns how many were new. category_vote (a `WeightFit`
        as a dict) replaces the stored fit when given."""
        stored = self._payload(catalog.version)
        examples = self._examples(stored)
        added = 0
        for item in labelled:
            texts = examples.setdefault(item.entry_id, [])
            if item.text not in texts:
                texts.append(item.text)
                added += 1
        if category_vote is None:
            category_vote = {"weight": self._weight(stored)}
        payload = {
            "catalog_version": catalog.version,
            "catalog_name": catalog.name,
            "updated_at": now_iso(),
            "examples": examples,
            "category_vote": category_vote,
        }
        text = json.dumps(payload, ensure_ascii=False, indent=1)
        atomic_write(self.path_for(catalog.version), lambda p: p.write_text(text, encoding="utf-8"))
        return added
