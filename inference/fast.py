"""The `--fast` cascade: every text is matched with static query vectors; only the ones that answer is unsure of
pay for the transformer.

The first stage is the full matcher (char n-grams, BM25, concepts, the entry index, confirmed examples) with one
change: a text's query vector is the average of distilled token vectors (models/static_embedder.py) instead of
a transformer pass. That runs about a thousand texts a second on two cores; the transformer runs tens. Most
hotline tickets name their matter plainly, so the first answer is kept when it is clear of its runner-up, and the
rest are matched again with the full model. Without static vectors (a lexical-only matcher) the first stage is
the lexical channels alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from inference.matcher import Match, Matcher
from models.static_embedder import StaticQueryEncoder


@dataclass(frozen=True)
class CascadePolicy:
    """When the first answer is not trusted.

    The signal is the first stage's lead of the best entry over the runner-up (fused score units). The
    calibrated confidence is off by default: it is fitted on full-mode evidence. bench/bulk_bench.py prints how
    routing share and accuracy move with the margin. On the tuning split of the reference labelled set, top-1
    rises from the static stage's 0.707 to 0.722 at margin 0.1 and stays there up to 0.3 (full: 0.742); the
    default is the middle of that plateau, since a margin at its edge is the first to fail on another list.
    Also sending texts the first stage calls "outside the list" bought nothing there, so it is off.
    """

    margin_below: float = 0.2
    confidence_below: float = 0.0
    route_out_of_list: bool = False

    def unsure(self, m: Match) -> bool:
        if m.best is None or m.error:
            return False  # nothing the transformer could add
        return (m.margin < self.margin_below or m.confidence < self.confidence_below
                or (self.route_out_of_list and m.flags.out_of_list))


@dataclass
class CascadeResult:
    matches: list[Match]
    routed: list[bool]  # True where the transformer gave the answer

    @property
    def routed_count(self) -> int:
        return sum(self.routed)


@dataclass
class FastCascade:
    matcher: Matcher
    policy: CascadePolicy = CascadePolicy()
    static: StaticQueryEncoder | None = None

    def first_stage(self, texts: list[str], top_k: int | None = None) -> list[Match]:
        if self.static is None:
            return self.matcher.match(texts, top_k=top_k, use_dense=False)
        return self.matcher.match(texts, top_k=top_k, use_dense=True, query_encoder=self.static.encode)

    def match(self, texts: list[str], top_k: int | None = None) -> CascadeResult:
        first = self.first_stage(texts, top_k)
        if self.matcher.embedder is None:
            return CascadeResult(first, [False] * len(first))
        unsure = [i for i, m in enumerate(first) if self.policy.unsure(m)]
        if not unsure:
            return CascadeResult(first, [False] * len(first))
        # Identical texts are encoded once; the batch is deterministic for a given input, so reruns agree.
        unique = list(dict.fromkeys(texts[i] for i in unsure))
        second = dict(zip(unique, self.matcher.match(unique, top_k=top_k, use_dense=True)))
        matches = list(first)
        routed = [False] * len(first)
        for i in unsure:
            matches[i] = second[texts[i]]
            routed[i] = True
        return CascadeResult(matches, routed)
