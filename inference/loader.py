"""Assembling a ready matcher from Settings: the catalog it names and the embedding model it names."""

from __future__ import annotations

from corpus.catalogs import resolve_catalog
from corpus.schema import Catalog
from corpus.store import CatalogStore
from inference.matcher import Matcher
from lvzhi.config import Settings


def load_catalog(settings: Settings, spec: str | None = None) -> Catalog:
    store = CatalogStore(settings.catalogs_dir)
    return resolve_catalog(settings.catalog if spec is None else spec, store)


def load_matcher(settings: Settings, catalog: Catalog | None = None, dense: bool = True) -> Matcher:
    """dense=False gives the lexical-only matcher (no transformer), used as a fast first stage and a baseline."""
    from models.embedder import load_embedder

    catalog = catalog or load_catalog(settings)
    embedder = load_embedder(settings) if dense else None
    return Matcher(catalog=catalog, embedder=embedder, settings=settings)
