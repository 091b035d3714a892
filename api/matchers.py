"""The matchers the service answers with: loaded once, shared by every request, and taught by reviewers.

The embedding model loads in the background when the server starts (it takes a while), so the pages and the
review queue answer at once; classification waits until the model is ready. One matcher is kept per catalog
version asked for. Accepted and corrected reviews become confirmed examples of their entries: each batch of
decisions builds a new matcher beside the live one and swaps it in, so requests never see a half-updated index.
"""

from __future__ import annotations

import copy
import logging
import queue
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from corpus.catalogs import resolve_catalog
from corpus.schema import Catalog
from corpus.store import CatalogNotFoundError, CatalogStore
from inference.loader import fusion_with_examples
from inference.matcher import Matcher
from lvzhi.config import Settings

log = logging.getLogger("lvzhi.api")

MAX_EXTRA_CATALOGS = 4
LEARN_SETTLE_S = 0.5  # decisions arriving together are learned in one rebuild


class PassageMemo:
    """The model's passage encoder behind a bounded memo shared by requests: comparing list versions again, or a
    revision with the version before it, encodes only the entry texts not seen before."""

    def __init__(self, embedder: Any, limit: int = 50_000) -> None:
        self.embedder = embedder
        self.limit = limit
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode_passages(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            fresh = self.embedder.encode_passages(missing, batch_size=batch_size)
            with self._lock:
                self._vectors.update(zip(missing, fresh))
        with self._lock:
            found = [self._vectors[t] for t in texts]
            for t in texts:
                self._vectors.move_to_end(t)
            while len(self._vectors) > self.limit:
                self._vectors.popitem(last=False)
        if not found:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack(found).astype(np.float32)


class ModelNotReady(RuntimeError):
    """The model is still loading (or failed to load); the message is for the user."""


@dataclass
class PoolState:
    ready: bool
    error: str
    default_version: str
    catalog_name: str
    entries: int
    model_version: str
    learning_pending: int
    learned: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class MatcherPool:
    """Matchers by catalog version on one shared embedding model."""

    def __init__(self, settings: Settings, examples_for=None, embedder: Any = None) -> None:
        """`examples_for(catalog) -> {entry_id: [texts]}` supplies the confirmed texts (reviews, training pairs);
        `embedder` may be given ready-made (tests share one), otherwise it is loaded from settings.model."""
        self.settings = settings
        self._examples_for = examples_for or (lambda catalog: {})
        self._given_embedder = embedder
        self.embedder: Any = None  # models.embedder.Embedder, once loaded
        self.passages: PassageMemo | None = None  # the same model's passage encoder, memoised
        self.default_version = ""
        self._matchers: dict[str, Matcher] = {}
        self._extra_order: OrderedDict[str, None] = OrderedDict()
        self._build_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._error = ""
        self._learn_queue: queue.Queue = queue.Queue()
        self._learning_pending = 0
        self._learned = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.catalog_store = CatalogStore(settings.catalogs_dir)

    # -- lifecycle --------------------------------------------------------------------------------------------------

    def start(self) -> None:
        for target, name in ((self._load, "lvzhi-model-load"), (self._learn_loop, "lvzhi-learn")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        self._stop.set()
        self._learn_queue.put(None)
        for thread in self._threads:
            if thread.name == "lvzhi-learn":
                thread.join(timeout=30)

    def _load(self) -> None:
        try:
            if self._given_embedder is not None:
                inner = self._given_embedder
            else:
                from models.embedder import load_embedder
                from training.adapt import prepare_model

                prepare_model(self.settings)  # the adapted default model is built here at first use (minutes)
                inner = load_embedder(self.settings)
            self.embedder = inner
            self.passages = PassageMemo(inner)
            catalog = resolve_catalog(self.settings.catalog, self.catalog_store)
            # Reviews name the catalog version they were made on; keep that version retrievable for training.
            catalog = self._remember_catalog(catalog)
            self.default_version = catalog.version
            self._matchers[catalog.version] = self._build(catalog)
            self._ready.set()
        except Exception as exc:  # shown on the page and in /api/health instead of killing the server
            self._error = f"模型或清单加载失败：{exc}"
            self._ready.set()

    def _remember_catalog(self, catalog: Catalog) -> Catalog:
        try:
            return self.catalog_store.save(catalog)
        except (OSError, ValueError):
            return catalog

    def _build(self, catalog: Catalog) -> Matcher:
        base = Matcher(
            catalog=catalog,
            embedder=self.embedder,
            settings=self.settings,
            fusion=fusion_with_examples(self.settings, catalog),
        )
        examples = self._examples_for(catalog)
        return self._with_examples(base, examples) if examples else base

    def _with_examples(self, matcher: Matcher, examples: dict[str, list[str]]) -> Matcher:
        """A copy that shares the entry index and knows more confirmed examples (only those are encoded)."""
        clone = copy.copy(matcher)
        clone.examples = {k: list(v) for k, v in matcher.examples.items()}
        clone.add_examples(examples)
        return clone

    # -- answering --------------------------------------------------------------------------------------------------

    def wait_ready(self, timeout: float) -> None:
        if not self._ready.wait(timeout):
            raise ModelNotReady("模型正在加载，请稍候再试")
        if self._error:
            raise ModelNotReady(self._error)

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and not self._error

    def state(self) -> PoolState:
        live = self._matchers.get(self.default_version)
        return PoolState(
            ready=self.ready,
            error=self._error,
            default_version=self.default_version,
            catalog_name=live.catalog.name if live else "",
            entries=len(live.catalog) if live else 0,
            model_version=self.embedder.identity if self.embedder else "",
            learning_pending=self._learning_pending,
            learned=self._learned,
        )

    def resolve_version(self, version: str | None) -> str:
        """The full catalog version a request means ("" or None = the default); raises CatalogNotFoundError."""
        wanted = (version or "").strip().lower()
        if not wanted or wanted == self.default_version:
            return self.default_version
        try:
            return self.catalog_store.load(wanted).version
        except CatalogNotFoundError:
            if self.default_version and self.default_version.startswith(wanted):
                return self.default_version
            raise

    def get(self, version: str | None = None, timeout: float = 60.0) -> Matcher:
        """The live matcher for a catalog version (built on first use); blocks while the model loads."""
        self.wait_ready(timeout)
        full = self.resolve_version(version)
        found = self._matchers.get(full)
        if found is not None:
            with self._lock:
                if full in self._extra_order:
                    self._extra_order.move_to_end(full)
            return found
        with self._lock:
            build_lock = self._build_locks.setdefault(full, threading.Lock())
        with build_lock:
            found = self._matchers.get(full)
            if found is None:
                found = self._build(self.catalog_store.load(full))
                with self._lock:
                    self._matchers[full] = found
                    self._extra_order[full] = None
                    while len(self._extra_order) > MAX_EXTRA_CATALOGS:
                        old, _ = self._extra_order.popitem(last=False)
                        self._matchers.pop(old, None)
        return found

    def catalog(self, version: str | None = None) -> Catalog:
        """A catalog by version without building a matcher for it."""
        full = self.resolve_version(version)
        live = self._matchers.get(full)
        if live is not None:
            return live.catalog
        if not full:
            raise CatalogNotFoundError("清单尚未加载完成，请稍候")
        return self.catalog_store.load(full)

    # -- learning from reviews ----------------------------------------------------------------------------------------

    def learn(self, catalog_version: str, entry_id: str, text: str) -> None:
        with self._lock:
            self._learning_pending += 1
        self._learn_queue.put((catalog_version, entry_id, text))

    def _learn_loop(self) -> None:
        while not self._stop.is_set():
            item = self._learn_queue.get()
            if item is None:
                return
            batch = [item]
            self._stop.wait(LEARN_SETTLE_S)
            while True:
                try:
                    more = self._learn_queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._stop.set()
                    break
                batch.append(more)
            self._apply(batch)

    def _apply(self, batch: list[tuple[str, str, str]]) -> None:
        by_version: dict[str, dict[str, list[str]]] = {}
        for version, entry_id, text in batch:
            by_version.setdefault(version, {}).setdefault(entry_id, []).append(text)
        try:
            for version, examples in by_version.items():
                live = self._matchers.get(version)
                if live is None:
                    continue  # not loaded: its examples are read from the database when it is built
                self._matchers[version] = self._with_examples(live, examples)
        except Exception:
            # Learning is a bonus: the decision is stored already and is learned again on the next start.
            log.exception("从审核结果更新匹配索引失败")
        finally:
            with self._lock:
                self._learning_pending -= len(batch)
                self._learned += len(batch)
