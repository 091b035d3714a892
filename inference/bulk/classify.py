"""Classifying the texts of one chunk, in full or fast mode. Both engines (local and Ray) use this."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from inference.fast import CascadePolicy, FastCascade
from inference.matcher import Match, Matcher
from models.static_embedder import StaticQueryEncoder

ALTERNATIVES = 3  # best + the two alternatives the output shows

# Gives --fast's static vectors for a matcher's model. The caller passes training.distill.ensure_static_encoder
# (which distils them at first use): inference uses the vectors, training makes them.
StaticSource = Callable[[Matcher], StaticQueryEncoder]


@dataclass
class ChunkClassifier:
    matcher: Matcher
    fast: bool = False
    policy: CascadePolicy = CascadePolicy()
    static: StaticQueryEncoder | None = None  # --fast's first stage; lexical-only without it

    @classmethod
    def for_matcher(
        cls, matcher: Matcher, fast: bool, policy: CascadePolicy, static_source: StaticSource | None = None
    ) -> ChunkClassifier:
        """The classifier a bulk job uses, with --fast's static vectors (from static_source) for the matcher's model."""
        static = None
        if fast and matcher.embedder is not None:
            if static_source is None:
                raise ValueError(
                    "快速模式需要静态词元向量：调用方须传入 static_source"
                    "（training.distill.ensure_static_encoder，首次使用时从当前模型蒸馏）"
                )
            static = static_source(matcher)
        return cls(matcher, fast, policy, static)

    def classify(self, texts: list[str]) -> tuple[list[Match], list[bool]]:
        """Matches in input order, and which rows went through the transformer."""
        if not texts:
            return [], []
        if self.fast:
            result = FastCascade(self.matcher, self.policy, self.static).match(texts, top_k=ALTERNATIVES)
            return result.matches, result.routed
        # Exports repeat themselves; encode each distinct text once, shortest first so batches pad little.
        unique = sorted(dict.fromkeys(texts), key=lambda t: (len(t), t))
        by_text = dict(zip(unique, self.matcher.match(unique, top_k=ALTERNATIVES)))
        dense = self.matcher.embedder is not None
        return [by_text[t] for t in texts], [dense] * len(texts)
