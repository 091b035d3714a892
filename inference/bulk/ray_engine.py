"""The Ray engine: the same chunk function on a pool of Ray actors, each holding one loaded matcher.

The driver keeps reading the export and writing checkpoints; only a bounded number of chunks are in flight, so the
driver's memory stays flat however large the export. Locally it starts its own Ray (2 CPUs, no dashboard); with an
address it joins a cluster whose nodes have lvzhi installed and the same model available.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from corpus.schema import Catalog
from inference.bulk.chunk import ChunkInput, ChunkOutput, ChunkSpec
from inference.bulk.classify import StaticSource
from inference.fast import CascadePolicy
from inference.fusion import FusionParams
from lvzhi.config import Settings

LOCAL_CPUS = 2


class RayEngineError(ValueError):
    """Ray could not be started or reached; the message says which and why."""


IN_FLIGHT_PER_ACTOR = 2


class ChunkWorker:
    """Runs inside a Ray actor: loads the matcher once (the driver's catalog, examples and fusion on the model the
    settings name, which must be ready on the node), then classifies whole chunks."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        examples: dict[str, list[str]],
        fusion: FusionParams,
        fast: bool,
        policy: CascadePolicy,
        spec: ChunkSpec,
        static_source: StaticSource | None,
    ) -> None:
        from inference.bulk.classify import ChunkClassifier
        from inference.loader import load_matcher

        matcher = load_matcher(settings, catalog, examples=examples, fusion=fusion)
        self.classifier = ChunkClassifier.for_matcher(matcher, fast, policy, static_source)
        self.spec = spec

    def run(self, chunk: ChunkInput) -> ChunkOutput:
        from inference.bulk.chunk import process_chunk

        return process_chunk(chunk, self.spec, self.classifier)


@dataclass
class RayEngine:
    settings: Settings
    catalog: Catalog
    examples: dict[str, list[str]]
    fusion: FusionParams
    fast: bool
    policy: CascadePolicy
    spec: ChunkSpec
    static_source: StaticSource | None = None
    address: str | None = None
    workers: int = 0  # 0 = one per CPU Ray reports
    _started_ray: bool = field(default=False, init=False)
    _actors: list = field(default_factory=list, init=False)

    def _start(self) -> None:
        import ray

        if not ray.is_initialized():
            try:
                if self.address:
                    ray.init(address=self.address, log_to_driver=False)
                else:
                    ray.init(num_cpus=LOCAL_CPUS, include_dashboard=False, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = f"Ray 集群 {self.address}" if self.address else "本机 Ray"
                raise RayEngineError(f"无法连接{where}：{exc}") from exc
            self._started_ray = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        count = self.workers or max(1, cpus)
        # Each actor takes one CPU, so torch inside it uses one thread and actors do not fight over cores.
        actor = ray.remote(num_cpus=1)(ChunkWorker)
        self._actors = [
            actor.remote(
                self.settings.with_overrides(threads=1),
                self.catalog,
                self.examples,
                self.fusion,
                self.fast,
                self.policy,
                self.spec,
                self.static_source,
            )
            for _ in range(count)
        ]

    def run(self, chunks: Iterable[ChunkInput]) -> Iterator[ChunkOutput]:
        import ray

        if not self._actors:
            self._start()
        # Two chunks queued per actor, so an actor never waits while the driver writes a checkpoint.
        idle = [a for a in self._actors for _ in range(IN_FLIGHT_PER_ACTOR)]
        pending: dict = {}  # object ref -> actor
        source = iter(chunks)
        exhausted = False
        while True:
            while idle and not exhausted:
                try:
                    chunk = next(source)
                except StopIteration:
                    exhausted = True
                    break
                actor = idle.pop()
                pending[actor.run.remote(chunk)] = actor
            if not pending:
                return
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                idle.append(pending.pop(ref))
                yield ray.get(ref)

    def close(self) -> None:
        import ray

        for a in self._actors:
            ray.kill(a)
        self._actors = []
        if self._started_ray and ray.is_initialized():
            ray.shutdown()
