"""Fit the fusion weights and the confidence / out-of-list calibrators on the TUNING part of our labelled set,
once for the transformer's query vectors and once for --fast's static ones (the `static` section).

The held-out part (划分=留出) and the second township's list are never read here, so the figures reported on
them stay honest. Writes inference/fusion.json.

    .venv/bin/python -m training.calibrate [--home DIR] [--dry-run] [--static-only]
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from corpus.catalogs import load_reference_catalog
from inference.evaluate import LabelledItem, load_labelled
from inference.fusion import FEATURES, FUSION_PATH, FusionParams, Logistic
from inference.loader import load_matcher
from inference.matcher import Evidence, Matcher, judge_features
from lvzhi.config import load_settings
from training.adapt import prepare_model
from training.distill import ensure_static_encoder

DATA = Path(__file__).resolve().parent.parent / "corpus" / "data" / "labelled"

GRID = {
    "dense": (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5),
    "char": (0.25, 0.5, 1.0),
    "bm25": (0.4, 0.8, 1.2, 1.6, 2.0, 2.5),
    "concept": (0.0, 0.2, 0.4, 0.7),
}


def tuning_items() -> list[LabelledItem]:
    items = load_labelled(DATA / "reference_items.csv", DATA / "reference_gold.csv")
    return [it for it in items if it.extra.get("划分") != "留出"]


def ranking_quality(matcher: Matcher, ev: Evidence, items: list[LabelledItem], params: FusionParams) -> float:
    hits = rr = 0.0
    n = 0
    for i, it in enumerate(items):
        if not it.gold:
            continue
        n += 1
        ids = [c.entry.id for c in matcher.rank(ev, i, params, 5)]
        if ids and ids[0] == it.gold:
            hits += 1
        if it.gold in ids:
            rr += 1 / (ids.index(it.gold) + 1)
    return (hits + 0.5 * rr) / max(n, 1)


def fit_logistic(x: np.ndarray, y: np.ndarray) -> Logistic:
    if len(set(y.tolist())) < 2:
        return Logistic(tuple(0.0 for _ in FEATURES), 0.0)
    model = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced")
    model.fit(x, y)
    return Logistic(tuple(float(w) for w in model.coef_[0]), float(model.intercept_[0]))


def calibrate(
    matcher: Matcher, items: list[LabelledItem], query_encoder: Callable[..., np.ndarray] | None = None
) -> FusionParams:
    """Weights and calibrators for the matcher's evidence; with query_encoder, for evidence whose query vectors
    that encoder makes (--fast's static first stage)."""
    n_views = len(matcher.views.texts)
    ev = matcher.gather_evidence(
        [it.text for it in items],
        use_dense=matcher.embedder is not None,
        dense_pool=n_views,
        lexical_pool=len(matcher.catalog.entries),
        query_encoder=query_encoder,
    )
    best, best_q = matcher.fusion, -1.0
    for dense, char, bm25, concept in itertools.product(*GRID.values()):
        params = replace(matcher.fusion, dense=dense, char=char, bm25=bm25, concept=concept)
        q = ranking_quality(matcher, ev, items, params)
        if q > best_q + 1e-9:
            best, best_q = params, q
    rows, correct, outside = [], [], []
    for i, it in enumerate(items):
        cands = matcher.rank(ev, i, best, 2)
        margin = cands[0].score - cands[1].score if len(cands) > 1 else cands[0].score
        f = judge_features(cands[0], margin, ev.hits[i], ev.oos[i])
        rows.append([f[k] for k in FEATURES])
        correct.append(int(bool(it.gold) and cands[0].entry.id == it.gold))
        outside.append(int(not it.gold))
    x = np.asarray(rows, dtype=np.float64)
    p_out = fit_logistic(x, np.asarray(outside))
    return replace(
        best,
        correct=fit_logistic(x, np.asarray(correct)),
        out_of_list=p_out,
        out_of_list_above=best_threshold([p_out(dict(zip(FEATURES, r))) for r in rows], outside),
    )


def best_threshold(probabilities: list[float], labels: list[int]) -> float:
    """The out-of-list cut with the best F1; ties go to the higher cut, since a false 清单之外 costs more."""
    best_t, best_f1 = 0.5, -1.0
    for t in np.arange(0.3, 0.96, 0.025):
        tp = sum(p >= t and y for p, y in zip(probabilities, labels))
        fp = sum(p >= t and not y for p, y in zip(probabilities, labels))
        fn = sum(p < t and y for p, y in zip(probabilities, labels))
        f1 = 2 * tp / max(2 * tp + fp + fn, 1)
        if f1 >= best_f1:
            best_t, best_f1 = float(round(t, 3)), f1
    return best_t


def main() -> None:
    ap = argparse.ArgumentParser(description="在调参集上拟合融合权重与置信度校准")
    ap.add_argument("--home")
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument(
        "--static-only", action="store_true", help="只拟合快速模式（静态向量）的一节，保留现有的完整模式权重"
    )
    args = ap.parse_args()
    settings = load_settings(home=args.home)
    prepare_model(settings)  # the adapted default model, built here if this is its first use
    matcher = load_matcher(settings, load_reference_catalog())
    shipped = FusionParams.load()
    matcher.fusion = FusionParams()  # fit from the defaults, not from a previous fit
    items = tuning_items()
    static = calibrate(matcher, items, ensure_static_encoder(matcher).encode)
    main_fit = shipped if args.static_only else calibrate(matcher, items)
    params = replace(main_fit, static=static)
    print(params.to_json())
    if not args.dry_run:
        FUSION_PATH.write_text(params.to_json() + "\n", encoding="utf-8")
        print(f"已写入 {FUSION_PATH}")


if __name__ == "__main__":
    main()
