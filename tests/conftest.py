"""Shared fixtures. The default model is rebuilt once per machine into a persistent test home."""

import os
from pathlib import Path

import pytest

from lvzhi.config import Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(home=Path(os.environ.get("LVZHI_TEST_HOME", "/tmp/lvzhi-test-home")))


@pytest.fixture(scope="session")
def embedder(settings):
    """The default model, adapted once per test home first (loading never trains: see training.adapt)."""
    from models.embedder import load_embedder
    from training.adapt import prepare_model

    prepare_model(settings)
    return load_embedder(settings)


@pytest.fixture(scope="session")
def reference_catalog():
    from corpus.catalogs import load_reference_catalog

    return load_reference_catalog()


@pytest.fixture(scope="session")
def matcher(settings, embedder, reference_catalog):
    from inference.matcher import Matcher

    return Matcher(catalog=reference_catalog, embedder=embedder, settings=settings)


@pytest.fixture(scope="session")
def static_encoder(matcher):
    """--fast's static query vectors, distilled from the default model (once per test home, a few minutes)."""
    from training.distill import ensure_static_encoder

    return ensure_static_encoder(matcher)
