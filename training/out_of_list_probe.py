"""Fits the out-of-list probe (inference/out_of_list.py) on the training corpus and writes it beside the matcher.

Every corpus ticket, in the form the matcher encodes it, is encoded by the default model; a balanced logistic
regression separates the in-list tickets from the out-of-list ones. The evaluation sets are never read. Run it
whenever the corpus or the shipped ticket adapter changes (a test checks both), then `python -m training.calibrate`,
whose out-of-list judge reads the probe. About a minute on two cores.

    .venv/bin/python -m training.out_of_list_probe [--home DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json

import numpy as np
from sklearn.linear_model import LogisticRegression

from corpus.catalogs import load_reference_catalog
from corpus.training_corpus import CorpusItem, load_training_corpus
from inference.loader import load_matcher
from inference.matcher import Matcher
from inference.out_of_list import PROBE_PATH, OutOfListProbe
from lvzhi.config import DEFAULT_MODEL, load_settings
from models.adapted import read_shipped_adapter
from training.adapt import prepare_model

REGULARISATION = 1.0  # sklearn's C; 0.1–10 score within 0.02 AUC of each other in 5-fold CV on the corpus


def probe_data_hash(items: list[CorpusItem]) -> str:
    blob = json.dumps(sorted([it.text, bool(it.gold)] for it in items), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def shipped_encoder() -> str:
    adapter = read_shipped_adapter()
    return adapter.adapter_sha256[:16] if adapter else ""


def fit_probe(matcher: Matcher, items: list[CorpusItem]) -> OutOfListProbe:
    outside = np.asarray([not it.gold for it in items], dtype=np.int64)
    if outside.min() == outside.max():
        raise ValueError("训练语料须同时含清单内和清单之外的条目")
    vectors = matcher.embedder.encode_queries(
        matcher.query_forms([it.text for it in items]), batch_size=matcher.settings.batch_size
    )
    model = LogisticRegression(C=REGULARISATION, max_iter=3000, class_weight="balanced").fit(vectors, outside)
    weights = model.coef_[0]
    bias = float(model.intercept_[0])
    inside_logits = vectors[outside == 0] @ weights + bias
    return OutOfListProbe(
        weights=tuple(float(w) for w in weights),
        bias=bias,
        neutral=round(float(inside_logits.mean()), 6),
        model=DEFAULT_MODEL,
        encoder=shipped_encoder(),
        data_hash=probe_data_hash(items),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description="在训练语料上拟合“清单之外”探针")
    ap.add_argument("--home")
    args = ap.parse_args()
    settings = load_settings(home=args.home, model=DEFAULT_MODEL)
    prepare_model(settings)
    matcher = load_matcher(settings, load_reference_catalog(), examples=False)
    probe = fit_probe(matcher, load_training_corpus())
    probe.save(PROBE_PATH)
    print(f"已写入 {PROBE_PATH}（数据指纹 {probe.data_hash}，中性值 {probe.neutral:.3f}）")


if __name__ == "__main__":
    main()
