"""The out-of-list probe: how unlike township business a ticket reads, from its query vector alone.

Whether a ticket falls outside a list is judged per list (inference/fusion.py's out-of-list calibrator reads how
well the best entry fits). But most tickets no township list covers are alike whatever the list: another
province's matter, a hospital's or a platform's dispute, a private quarrel. A linear probe on the default model's
query vector, fitted on the training corpus's in-list and out-of-list tickets (training/out_of_list_probe.py),
says that; its logit is one more feature of the out-of-list judge. It costs one dot product per ticket.

It reads only the default model's vectors (and those of models `lvzhi train` retrains from it, which move little,
and --fast's static ones, distilled to imitate them). For any other model it gives every ticket its `neutral`
value, the mean logit of in-list tickets, so the judge falls back on the list's own evidence and leans towards
"in the list", the cheaper mistake.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROBE_PATH = Path(__file__).resolve().parent / "out_of_list_probe.json"


@dataclass(frozen=True)
class OutOfListProbe:
    weights: tuple[float, ...]
    bias: float
    neutral: float  # the mean logit of in-list training tickets; what a ticket gets where the probe cannot read it
    model: str  # the model whose query vectors it was fitted on
    encoder: str  # the shipped ticket adapter's checksum (first 16), naming the exact vectors it read
    data_hash: str  # the training tickets it was fitted on

    def reads(self, model: str, dim: int) -> bool:
        return model == self.model and dim == len(self.weights)

    def logits(self, vectors: np.ndarray) -> np.ndarray:
        return vectors.astype(np.float32) @ np.asarray(self.weights, dtype=np.float32) + np.float32(self.bias)

    def save(self, path: Path = PROBE_PATH) -> None:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "weights"}
        d["weights"] = [round(float(w), 6) for w in self.weights]
        Path(path).write_text(json.dumps(d, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = PROBE_PATH) -> OutOfListProbe | None:
        if not Path(path).exists():
            return None
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        d["weights"] = tuple(d["weights"])
        return cls(**d)
