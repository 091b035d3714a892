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
    from models.embedder import load_embedder

    return load_embedder(settings)
