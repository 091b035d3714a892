"""How the evidence channels are weighed and turned into a calibrated confidence.

The weights and the two logistic calibrators are fitted by `training/calibrate.py` on the tuning part of our own
labelled set only, and shipped as `fusion.json`; the defaults below hold when that file is missing.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

FUSION_PATH = Path(__file__).resolve().parent / "fusion.json"

FEATURES = ("top", "margin", "dense_raw", "char", "bm25", "concept", "out_of_scope", "concept_hits")


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

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    @classmethod
    def load(cls, path: Path = FUSION_PATH) -> "FusionParams":
        if not path.exists():
            return cls()
        d = json.loads(path.read_text(encoding="utf-8"))
        d["correct"] = Logistic(tuple(d["correct"]["weights"]), d["correct"]["bias"])
        d["out_of_list"] = Logistic(tuple(d["out_of_list"]["weights"]), d["out_of_list"]["bias"])
        return cls(**d)
