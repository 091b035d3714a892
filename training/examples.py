"""Every confirmed text known for a catalog: the stored examples of all list versions (inference.examples) and the
given review decisions, carried onto the catalog being loaded through the catalog diff.

The web service's decisions are read by the caller (api.confirmed.confirmed_examples), which sits above both this
layer and the service's database.
"""

from __future__ import annotations

from collections.abc import Iterable

from corpus.schema import Catalog
from corpus.store import CatalogStore
from inference.examples import ExampleStore
from lvzhi.config import Settings
from training.data import LabelledText, align_to_catalog, labels_from_reviews
from training.reviews import ReviewDecision


def stored_examples(
    settings: Settings, catalog: Catalog, reviews: Iterable[ReviewDecision] = ()
) -> dict[str, list[str]]:
    """Every confirmed text known for this catalog (carried from older versions where needed); {} when none."""
    store = ExampleStore.for_settings(settings)
    labelled: list[LabelledText] = []
    for version in store.versions():
        for entry_id, texts in store.load(version).items():
            labelled.extend(LabelledText(t, entry_id, "示例", version) for t in texts)
    reviewed, _ = labels_from_reviews(list(reviews))
    labelled.extend(reviewed)
    if not labelled:
        return {}
    aligned = align_to_catalog(labelled, [], catalog, CatalogStore(settings.catalogs_dir))
    out: dict[str, list[str]] = {}
    for item in aligned.labelled:
        texts = out.setdefault(item.entry_id, [])
        if item.text not in texts:
            texts.append(item.text)
    return out
