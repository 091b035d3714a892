"""Assembling a matcher from Settings: the catalog it names, the embedding model it names, the texts it is given.

The model must be ready before it is loaded: training.adapt.prepare_model builds the adapted default model at
first use (the `lvzhi` commands and the web service call it). The confirmed texts (reviews, `lvzhi train`
examples) are gathered above this layer (api.confirmed) and passed in, so the same matcher can be rebuilt from
them in another process (the Ray workers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from corpus.catalogs import resolve_catalog
from corpus.schema import Catalog
from corpus.store import CatalogStore
from inference.examples import ExampleStore
from inference.fusion import FusionParams
from inference.matcher import Matcher
from lvzhi.config import Settings


def load_catalog(settings: Settings, spec: str | None = None) -> Catalog:
    store = CatalogStore(settings.catalogs_dir)
    return resolve_catalog(settings.catalog if spec is None else spec, store)


def load_matcher(
    settings: Settings,
    catalog: Catalog | None = None,
    dense: bool = True,
    examples: Mapping[str, list[str]] | None = None,
    fusion: FusionParams | None = None,
) -> Matcher:
    """dense=False gives the lexical-only matcher (no transformer), used as a fast first stage and a baseline.

    examples: confirmed texts per entry id, put into the index as extra views of their entries (none by default;
    api.confirmed.confirmed_examples gathers the ones reviewers confirmed and `lvzhi train` learned from).
    fusion: the fusion weights (default: the shipped ones, with the category vote `lvzhi train` fitted when there
    are examples).
    """
    from models.embedder import load_embedder

    catalog = catalog or load_catalog(settings)
    embedder = load_embedder(settings) if dense else None
    confirmed = {k: list(v) for k, v in (examples or {}).items()}
    if fusion is None:
        fusion = fusion_for(settings, catalog, confirmed)
    return Matcher(catalog=catalog, embedder=embedder, settings=settings, fusion=fusion, examples=confirmed)


def fusion_for(settings: Settings, catalog: Catalog, examples: Mapping[str, list[str]]) -> FusionParams:
    """The fusion a matcher with these examples answers with: the category vote only counts when there are any."""
    return fusion_with_examples(settings, catalog) if examples else FusionParams.load()


def fusion_with_examples(settings: Settings, catalog: Catalog) -> FusionParams:
    """The shipped fusion, with the category vote's weight `lvzhi train` fitted on the stored examples (0 if never)."""
    weight = ExampleStore.for_settings(settings).category_weight(catalog.version)
    return replace(FusionParams.load(), category_examples=weight)
