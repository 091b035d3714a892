"""How much the categories' support from confirmed examples may count, fitted on those examples by leave-one-out.

Whether examples help depends on how many there are and how the list is cut: on a list where a category holds
dozens of confirmed tickets they decide between look-alike entries of different categories; where they are
sparse they mostly add noise. So the weight is not a constant: each confirmed text is matched as if it were
not confirmed, and the weight that gets most of them right wins (ties go to the smaller weight, so zero wins
whenever the examples would not have helped).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from inference.matcher import Candidate, Matcher

# Multiples of the dense channel's weight, so the grid means the same whatever scale the fusion uses.
WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
MIN_TEXTS = 20  # below this, leave-one-out cannot tell a real gain from luck
MIN_CATEGORIES = 2
MAX_FIT_TEXTS = 2000
FIT_BATCH = 256

Predict = Callable[[Sequence[Candidate]], str]


def predict_entry(candidates: Sequence[Candidate]) -> str:
    return candidates[0].entry.id


@dataclass(frozen=True)
class WeightFit:
    weight: float  # absolute, ready for FusionParams.category_examples
    accuracy: dict[float, float]  # multiple of the dense weight -> leave-one-out accuracy
    texts: int
    reason: str  # in words, for the training report

    def to_dict(self) -> dict:
        return {
            "weight": self.weight,
            "texts": self.texts,
            "reason": self.reason,
            "accuracy": {str(k): round(v, 4) for k, v in self.accuracy.items()},
        }


def fit_category_weight(
    matcher: Matcher, texts: list[str], labels: list[str], predict: Predict = predict_entry, top_k: int = 1
) -> WeightFit:
    """texts must be the matcher's own confirmed examples; labels what `predict` should answer for each (entry ids
    for the default predictor)."""
    categories = {matcher.catalog.entries[p].category for p in matcher.example_views.owner.tolist()}
    if matcher.embedder is None or len(texts) < MIN_TEXTS or len(categories) < MIN_CATEGORIES:
        return WeightFit(
            0.0, {}, len(texts), f"确认样本不足（{len(texts)} 条，{len(categories)} 个类别），类别投票不启用"
        )
    if len(texts) > MAX_FIT_TEXTS:  # a fixed sample: enough to choose among a few weights, and time stays bounded
        keep = sorted(random.Random(0).sample(range(len(texts)), MAX_FIT_TEXTS))
        texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
    right = dict.fromkeys(WEIGHT_GRID, 0)
    for start in range(0, len(texts), FIT_BATCH):  # batches, so the text × example similarities stay small
        ev = matcher.gather_evidence(texts[start : start + FIT_BATCH], use_dense=True, leave_out=True)
        for multiple in WEIGHT_GRID:
            params = replace(matcher.fusion, category_examples=multiple * matcher.fusion.dense)
            right[multiple] += sum(
                predict(matcher.rank(ev, i, params, top_k)) == labels[start + i] for i in range(len(ev.texts))
            )
    accuracy = {m: right[m] / len(texts) for m in WEIGHT_GRID}
    best = max(WEIGHT_GRID, key=lambda m: (accuracy[m], -m))
    reason = (
        f"留一法：类别投票权重取稠密通道的 {best:g} 倍，确认样本准确率 {accuracy[0.0]:.3f} → {accuracy[best]:.3f}"
        if best
        else f"留一法：类别投票无益（{accuracy[0.0]:.3f}），不启用"
    )
    return WeightFit(best * matcher.fusion.dense, accuracy, len(texts), reason)
