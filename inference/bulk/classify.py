"""Classifying the texts of one chunk, in full or fast mode. Both engines (local and Ray) use this."""

from __future__ import annotations

from dataclasses import dataclass

from inference.fast import CascadePolicy, FastCascade
from inference.matcher import Match, Matcher
from models.static_embedder import StaticQueryEncoder

ALTERNATIVES = 3  # best + the two alternatives the output shows


@dataclass
class ChunkClassifier:
    matcher: Matcher
    fast: bool = False
    policy: CascadePolicy = CascadePolicy()
    static: StaticQueryEncoder | None = None  # --fast's first stage; lexical-only without it

    @classmethod
    def for_matcher(cls, matcher: Matcher, fast: bool, policy: CascadePolicy) -> "ChunkClassifier":
        """The classifier a bulk job uses, with --fast's static vectors distilled from the matcher's model."""
        static = None
        if fast and matcher.embedder is not None:
            from training.distill import ensure_static_encoder

            static = ensure_static_encoder(matcher)
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
