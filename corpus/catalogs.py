"""Which catalog a command works on: the bundled reference list, a file, or a stored version."""

from __future__ import annotations

import re
from pathlib import Path

from corpus.importer import import_catalog
from corpus.schema import Catalog
from corpus.store import CatalogNotFoundError, CatalogStore

REFERENCE_CATALOG_PATH = Path(__file__).parent / "data" / "reference_catalog.csv"
REFERENCE_CATALOG_NAME = "青石镇履行职责事项清单（参考）"


def load_reference_catalog() -> Catalog:
    if not REFERENCE_CATALOG_PATH.is_file():
        raise FileNotFoundError(f"找不到内置的参考清单：{REFERENCE_CATALOG_PATH}")
    return import_catalog([REFERENCE_CATALOG_PATH], name=REFERENCE_CATALOG_NAME)


def resolve_catalog(spec: str, store: CatalogStore) -> Catalog:
    """ "" → the reference catalog; an existing file → imported on the fly; else a stored version or its prefix."""
    spec = spec.strip()
    if not spec:
        return load_reference_catalog()
    path = Path(spec).expanduser()
    if path.is_file():
        return import_catalog([path])
    if path.suffix or "/" in spec or "\\" in spec:
        raise CatalogNotFoundError(f"找不到清单文件「{spec}」")
    if not re.fullmatch(r"[0-9a-fA-F]+", spec):
        versions = store.versions()
        known = f"已保存的版本：{'、'.join(versions)}" if versions else "目前还没有保存任何清单"
        raise CatalogNotFoundError(f"「{spec}」既不是存在的清单文件，也不是清单版本号（{known}）")
    return store.load(spec)
