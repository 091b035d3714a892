"""What the command line and the web service answer with: every confirmed text, and a matcher that knows them.

Confirmed texts come from two places: the examples `lvzhi train` stored (training.examples, carried across list
versions) and the reviewers' decisions in this service's database. This module sits in api/ because it is the
lowest layer that may read both; `lvzhi classify`, `lvzhi bulk`, `lvzhi merge`, `lvzhi eval`, the web service
and the bench scripts all take their confirmed texts from here, so the web and the command line agree.
"""

from __future__ import annotations

from api.db import SQLITE_FILENAME
from api.store import export_reviews
from corpus.schema import Catalog
from inference.loader import load_catalog, load_matcher
from inference.matcher import Matcher
from lvzhi.config import Settings
from training.examples import stored_examples
from training.reviews import ReviewDecision, decisions_from_rows


def service_reviews(settings: Settings) -> list[ReviewDecision]:
    """Decisions stored by the web service; [] when it has no database yet.

    A missing SQLite file is not created here: classifying from the command line must not leave a database behind.
    """
    if not settings.database_url and not (settings.home / SQLITE_FILENAME).is_file():
        return []
    return decisions_from_rows(export_reviews(settings), "审核数据库")


def confirmed_examples(settings: Settings, catalog: Catalog) -> dict[str, list[str]]:
    """Every confirmed text for this catalog: stored `lvzhi train` examples and the service's review decisions."""
    return stored_examples(settings, catalog, service_reviews(settings))


def ready_matcher(
    settings: Settings, catalog: Catalog | None = None, *, dense: bool = True, examples: bool = True
) -> Matcher:
    """The matcher the `lvzhi` commands answer with: the model prepared first (the adapted default model is built
    at first use), then loaded, with the confirmed texts in its index.

    dense=False: lexical only, no model. examples=False: no confirmed texts (to score a labelled set that may
    overlap them).
    """
    if dense:
        from training.adapt import prepare_model  # imported here: it loads sentence-transformers

        prepare_model(settings)
    catalog = catalog or load_catalog(settings)
    confirmed = confirmed_examples(settings, catalog) if examples else {}
    return load_matcher(settings, catalog, dense=dense, examples=confirmed)
