"""What one running app holds: the store, the shared matchers, the classify worker and the job queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from api.auth import LoginGuard
from api.batcher import ClassifyBatcher
from api.confirmed import confirmed_examples
from api.jobs import JobRunner
from api.matchers import MatcherPool
from api.store import Store
from corpus.schema import Catalog
from lvzhi.config import Settings


@dataclass
class Services:
    settings: Settings
    store: Store
    pool: MatcherPool
    batcher: ClassifyBatcher
    jobs: JobRunner
    login_guard: LoginGuard = field(default_factory=LoginGuard)

    @classmethod
    def create(cls, settings: Settings, embedder: Any = None) -> Services:
        store = Store.open(settings)

        def examples_for(catalog: Catalog) -> dict[str, list[str]]:
            # The same confirmed texts `lvzhi classify` and `lvzhi bulk` put in their index (reviews from this
            # database, `lvzhi train` examples, carried across list versions), so the web and the CLI agree.
            return confirmed_examples(settings, catalog)

        pool = MatcherPool(settings, examples_for=examples_for, embedder=embedder)
        return cls(settings, store, pool, ClassifyBatcher(), JobRunner(settings, store, pool))

    def start(self) -> None:
        self.pool.start()
        self.batcher.start()
        self.jobs.start()

    def close(self) -> None:
        self.jobs.close()
        self.batcher.close()
        self.pool.close()
        self.store.close()
