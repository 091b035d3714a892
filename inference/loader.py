"""Assembling a ready matcher from Settings: the catalog it names and the embedding model it names."""

from __future__ import annotations

from dataclasses import replace

from corpus.catalogs import resolve_catalog
from corpus.schema import Catalog
from corpus.store import CatalogStore
from inference.fusion import FusionParams
from inference.matcher import Matcher
from lvzhi.config import Settings


def load_catalog(settings: Settings, spec: str | None = None) -> Catalog:
    store = CatalogStore(settings.catalogs_dir)
    return resolve_catalog(settings.catalog if spec is None else spec, store)


def load_matcher(settings: Settings, catalog: Catalog | None = None, dense: bool = True,
                 examples: bool = True) -> Matcher:
    """dense=False gives the lexical-only matcher (no transformer), used as a fast first stage and a baseline.

    examples=True puts the texts reviewers confirmed and `lvzhi train` learned from into the index as extra views
    of their entries (none when no such texts are stored); pass False to score a labelled set that may overlap them.
    """
    from models.embedder import load_embedder
    from training.examples import stored_examples

    catalog = catalog or load_catalog(settings)
    embedder = load_embedder(settings) if dense else None
    confirmed = stored_examples(settings, catalog) if examples else {}
    fusion = fusion_with_examples(settings, catalog) if confirmed else FusionParams.load()
    return Matcher(catalog=catalog, embedder=embedder, settings=settings, fusion=fusion, examples=confirmed)


def fusion_with_examples(settings: Settings, catalog: Catalog) -> FusionParams:
    """The shipped fusion, with the category vote's weight `lvzhi train` fitted on the stored examples (0 if never)."""
    from training.examples import ExampleStore

    weight = ExampleStore.for_settings(settings).category_weight(catalog.version)
    return replace(FusionParams.load(), category_examples=weight)
