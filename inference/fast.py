"""The `--fast` cascade: every text is matched with static query vectors; with a routing margin, the ones that
answer is unsure of pay for the transformer.

The first stage is the full matcher (char n-grams, BM25, concepts, the entry index, confirmed examples) with two
changes: a text's query vector is the average of distilled token vectors (models/static_embedder.py) instead of
a transformer pass, and the channels are weighed with weights fitted for such vectors. That runs well over a
thousand texts a second on two cores; the transformer runs tens. Most hotline tickets name their matter plainly,
so a first answer clear of its runner-up is kept, and with `--fast-margin` the rest are matched again with the
full model. Without static vectors (a lexical-only matcher) the first stage is the lexical channels alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from inference.matcher import Match, Matcher
from models.static_embedder import StaticQueryEncoder


@dataclass(frozen=True)
class CascadePolicy:
    """When the first answer is not trusted.

    The signal is the first stage's lead of the best entry over the runner-up (fused score units, with the first
    stage's own weights: fusion.json's `static` section). The calibrated confidence is off by default: it is fitted
    on full-mode evidence. bench/bulk_bench.py prints how routing share and accuracy move with the margin.
    By default nothing is routed. The default is chosen on the tuning split, the only data a default may be chosen
    on, and there the first stage with its own weights (0.727; full: 0.737) is not beaten by routing at any margin
    up to 0.3 (0.717–0.727). Routing pays on lists unlike the reference one: on the second township's list, which
    nothing was fitted on, margin 0.1 (15% routed) lifts top-1 from 0.658 to 0.684 and 0.3 (36%) to 0.704 (full:
    0.717), at a quarter and a sixth of the first stage's speed; `--fast-margin` turns it on.
    Sending texts the first stage calls "outside the list" bought nothing on the tuning split either.
    """

    margin_below: float = 0.0
    confidence_below: float = 0.0
    route_out_of_list: bool = False

    def unsure(self, m: Match) -> bool:
        if m.best is None or m.error:
            return False  # nothing the transformer could add
        return (
            m.margin < self.margin_below
            or m.confidence < self.confidence_below
            or (self.route_out_of_list and m.flags.out_of_list)
        )


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
        return self.matcher.match(
            texts,
            top_k=top_k,
            use_dense=True,
            query_encoder=self.static.encode,
            fusion=self.matcher.fusion.for_static_queries(),
        )

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
