"""The local engine: chunks are classified one after another in this process, with batched encoding inside."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from inference.bulk.chunk import ChunkInput, ChunkOutput, ChunkSpec, process_chunk
from inference.bulk.classify import ChunkClassifier


@dataclass
class LocalEngine:
    classifier: ChunkClassifier
    spec: ChunkSpec

    def run(self, chunks: Iterable[ChunkInput]) -> Iterator[ChunkOutput]:
        for chunk in chunks:
            yield process_chunk(chunk, self.spec, self.classifier)

    def close(self) -> None:
        pass
