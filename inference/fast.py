"""The `--fast` cascade: every text goes through the lexical matcher; only the ones it is unsure of pay for the
transformer.

The lexical channels (char n-grams, BM25, concepts) run thousands of texts a second; the transformer runs tens.
Most hotline tickets name their matter plainly, so the lexical answer is kept when it is confident and clear of
its runner-up, and the rest are matched again with the full model.
"""

from __future__ import annotations

from dataclasses import dataclass

from inference.matcher import Match, Matcher


@dataclass(frozen=True)
class CascadePolicy:
    """When the lexical answer is not trusted.

    The signal is the lexical lead of the best entry over the runner-up (fused score units). The calibrated
    confidence is off by default: it is fitted on full-mode evidence, and without the dense channel it reads
    low for almost every text. bench/bulk_bench.py prints how routing share and accuracy move with the margin;
    on the reference labelled set the default sends 60% of texts to the transformer and loses 0.9 points of
    top-1 (0.2 would send 50% and lose 1.5; lexical alone loses 10.6).
    """

    margin_below: float = 0.3
    confidence_below: float = 0.0
    route_out_of_list: bool = True  # the lexical channels alone judge "outside the list" poorly

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

    def match(self, texts: list[str], top_k: int | None = None) -> CascadeResult:
        first = self.matcher.match(texts, top_k=top_k, use_dense=False)
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
