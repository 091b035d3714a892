"""How the evidence channels are weighed and turned into a calibrated confidence.

The weights and the two logistic calibrators are fitted by `training/calibrate.py` on the tuning part of our own
labelled set only, and shipped as `fusion.json`; the defaults below hold when that file is missing.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

FUSION_PATH = Path(__file__).resolve().parent / "fusion.json"

# "outside" is the out-of-list probe's logit (inference/out_of_list.py); calibrators fitted before it existed
# have one weight fewer and ignore it.
FEATURES = ("top", "margin", "dense_raw", "char", "bm25", "concept", "out_of_scope", "concept_hits", "outside")


@dataclass(frozen=True)
class Logistic:
    weights: tuple[float, ...]
    bias: float

    def __call__(self, features: dict[str, float]) -> float:
        z = self.bias + sum(w * features[name] for w, name in zip(self.weights, FEATURES))
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


@dataclass(frozen=True)
class FusionParams:
    dense: float = 0.10  # per standard deviation of the query's dense scores
    char: float = 1.0
    bm25: float = 0.5
    concept: float = 0.6
    # p(best entry is right): rises with the fused score and the margin.
    correct: Logistic = field(default_factory=lambda: Logistic((6.0, 8.0, 0, 0, 0, 0, -1.0, 0), -4.0))
    # p(nothing in the list fits).
    out_of_list: Logistic = field(default_factory=lambda: Logistic((-6.0, 0, 0, 0, 0, 0, 2.5, -0.5), 1.5))
    # A confirmed example counts as a view of its entry only when a ticket is nearly the same (cosine above this).
    example_floor: float = 0.96  # near-duplicates only: same-style unrelated tickets reach 0.93 with e5
    # Weight of the categories' support from confirmed examples (per z across categories); fitted by `lvzhi train`
    # on the examples by leave-one-out and kept with them, 0 until then.
    category_examples: float = 0.0
    review_below: float = 0.5
    out_of_list_above: float = 0.5
    # Channel weights and calibrators fitted with --fast's static query vectors in place of the transformer's:
    # a bag-of-tokens vector is a noisier witness, so it is weighed less against the lexical channels.
    static: FusionParams | None = None

    def for_static_queries(self) -> FusionParams:
        """These params as --fast's first stage should use them (the same when no static fit is shipped); what
        belongs to the confirmed examples and the review threshold is kept."""
        s = self.static
        if s is None:
            return self
        return replace(
            self,
            dense=s.dense,
            char=s.char,
            bm25=s.bm25,
            concept=s.concept,
            correct=s.correct,
            out_of_list=s.out_of_list,
            out_of_list_above=s.out_of_list_above,
            static=None,
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    @classmethod
    def from_dict(cls, d: dict) -> FusionParams:
        d = dict(d)
        d["correct"] = Logistic(tuple(d["correct"]["weights"]), d["correct"]["bias"])
        d["out_of_list"] = Logistic(tuple(d["out_of_list"]["weights"]), d["out_of_list"]["bias"])
        if d.get("static") is not None:
            d["static"] = cls.from_dict(d["static"])
        return cls(**d)

    @classmethod
    def load(cls, path: Path = FUSION_PATH) -> FusionParams:
        if not path.exists():
            return cls()
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
