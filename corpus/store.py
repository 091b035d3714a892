"""Imported catalog versions kept on disk, one JSON file per content version."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from corpus.schema import Catalog, ListType, content_hash

_VERSION_FILE = re.compile(r"^([0-9a-f]{8,64})\.json$")


class CatalogNotFoundError(LookupError):
    """No stored catalog matches, or a prefix matches several; the message says which and what exists."""


class CatalogStoreError(ValueError):
    """A stored catalog file cannot be read back as it was saved."""


@dataclass(frozen=True)
class CatalogSummary:
    version: str
    name: str
    imported_at: str
    source: str
    entries: int
    counts: dict[str, int]  # list type (its Chinese name) -> number of entries, every type present

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "name": self.name,
            "imported_at": self.imported_at,
            "source": self.source,
            "entries": self.entries,
            "counts": dict(self.counts),
        }


def _summarize(catalog: Catalog) -> CatalogSummary:
    counts = {t.value: 0 for t in ListType}
    for entry in catalog.entries:
        counts[entry.list_type.value] += 1
    return CatalogSummary(catalog.version, catalog.name, catalog.imported_at, catalog.source, len(catalog), counts)


class CatalogStore:
    """Catalogs under `root` (settings.catalogs_dir) as `<version>.json`; the version is the content hash."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, version: str) -> Path:
        return self.root / f"{version}.json"

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(m.group(1) for p in self.root.iterdir() if (m := _VERSION_FILE.match(p.name)))

    def save(self, catalog: Catalog) -> Catalog:
        """Store the catalog; the same content saved again keeps its first record (and import time)."""
        version = content_hash(list(catalog.entries))
        if catalog.version != version:
            raise ValueError(f"清单版本号「{catalog.version}」与内容不符（应为「{version}」）")
        path = self.path_for(version)
        if path.is_file():
            try:
                return self._read(path)
            except CatalogStoreError:
                pass  # a damaged earlier copy is replaced by this good one
        if not catalog.imported_at:
            catalog = Catalog(
                name=catalog.name,
                entries=catalog.entries,
                version=version,
                imported_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                source=catalog.source,
            )
        self._write_atomically(path, catalog.to_dict())
        return catalog

    def _write_atomically(self, path: Path, payload: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed, so a reader never sees half a file.
        handle = tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=self.root, prefix=f".{path.stem}.", suffix=".tmp", delete=False
        )
        try:
            with handle:
                json.dump(payload, handle, ensure_ascii=False, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(handle.name, path)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise

    def _read(self, path: Path) -> Catalog:
        try:
            catalog = Catalog.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CatalogStoreError(f"无法读取已保存的清单「{path.name}」：{error}") from error
        if content_hash(list(catalog.entries)) != path.stem:
            raise CatalogStoreError(f"已保存的清单「{path.name}」内容与版本号不符，可能被改动过")
        return catalog

    def list(self) -> list[CatalogSummary]:
        """Every stored catalog, oldest import first."""
        summaries = [_summarize(self._read(self.path_for(v))) for v in self.versions()]
        return sorted(summaries, key=lambda s: (s.imported_at, s.version))

    def load(self, version_or_prefix: str) -> Catalog:
        wanted = version_or_prefix.strip().lower()
        versions = self.versions()
        if not wanted or not re.fullmatch(r"[0-9a-f]+", wanted):
            raise CatalogNotFoundError(
                f"「{version_or_prefix}」不是清单版本号（版本号由数字和 a–f 组成）{_known(versions)}"
            )
        if wanted in versions:
            return self._read(self.path_for(wanted))
        matches = [v for v in versions if v.startswith(wanted)]
        if not matches:
            raise CatalogNotFoundError(f"找不到清单版本「{version_or_prefix}」{_known(versions)}")
        if len(matches) > 1:
            raise CatalogNotFoundError(
                f"清单版本前缀「{version_or_prefix}」不唯一，匹配到：{'、'.join(matches)}；请多写几位"
            )
        return self._read(self.path_for(matches[0]))

    def latest(self) -> Catalog | None:
        """The most recently imported catalog, or None when nothing is stored."""
        summaries = self.list()
        return self.load(summaries[-1].version) if summaries else None


def _known(versions: list[str]) -> str:
    return f"；已保存的版本：{'、'.join(versions)}" if versions else "；目前还没有保存任何清单"
