"""Fit the fusion weights and the confidence / out-of-list calibrators on the sets that may be chosen on: the
TUNING part of the reference labelled set and the dev list (红柳湾镇), once for the transformer's query vectors and
once for --fast's static ones (the `static` section).

The held-out part (划分=留出) and 柳河街道 are never read here, so the figures reported on them stay honest.
Fitting on two lists rather than one keeps the weights from learning one list's wording. Writes
inference/fusion.json.

    .venv/bin/python -m training.calibrate [--home DIR] [--dry-run] [--static-only]
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from corpus.catalogs import load_reference_catalog
from corpus.datasets import DEV_TOWNSHIP
from inference.evaluate import LabelledItem, load_labelled
from inference.fusion import FEATURES, FUSION_PATH, FusionParams, Logistic
from inference.loader import load_matcher
from inference.matcher import Evidence, Matcher, judge_features
from lvzhi.config import load_settings
from training.adapt import prepare_model
from training.distill import ensure_static_encoder

DATA = Path(__file__).resolve().parent.parent / "corpus" / "data" / "labelled"

GRID = {
    # The ticket-trained encoder carries most of the evidence; the grid lets it carry all of it.
    "dense": (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7, 1.0),
    "char": (0.0, 0.25, 0.5, 1.0),
    "bm25": (0.2, 0.4, 0.8, 1.2, 1.6, 2.0, 2.5),
    "concept": (0.0, 0.2, 0.4, 0.7),
}


def tuning_items() -> list[LabelledItem]:
    items = load_labelled(DATA / "reference_items.csv", DATA / "reference_gold.csv")
    return [it for it in items if it.extra.get("划分") != "留出"]


def dev_items(catalog) -> list[LabelledItem]:
    return load_labelled(DEV_TOWNSHIP.items, DEV_TOWNSHIP.gold, catalog)


@dataclass(frozen=True)
class FitSet:
    """One list and its labelled items, with the matcher's evidence for them gathered once."""

    matcher: Matcher
    items: list[LabelledItem]
    evidence: Evidence


def ranking_quality(sets: list[FitSet], params: FusionParams) -> float:
    """Top-1 plus half the reciprocal rank in the top 5, over the in-list items of every set together."""
    hits = rr = 0.0
    n = 0
    for fit_set in sets:
        for i, it in enumerate(fit_set.items):
            if not it.gold:
                continue
            n += 1
            ids = [c.entry.id for c in fit_set.matcher.rank(fit_set.evidence, i, params, 5)]
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


def fit_set(
    matcher: Matcher, items: list[LabelledItem], query_encoder: Callable[..., np.ndarray] | None = None
) -> FitSet:
    """The matcher's evidence for the items; with query_encoder, evidence whose query vectors that encoder makes
    (--fast's static first stage)."""
    ev = matcher.gather_evidence(
        [it.text for it in items],
        use_dense=matcher.embedder is not None,
        dense_pool=len(matcher.views.texts),
        lexical_pool=len(matcher.catalog.entries),
        query_encoder=query_encoder,
    )
    return FitSet(matcher, items, ev)


def calibrate(sets: list[FitSet], start: FusionParams) -> FusionParams:
    """Weights and calibrators fitted on every set together, starting from `start`'s other settings."""
    best, best_q = start, -1.0
    for dense, char, bm25, concept in itertools.product(*GRID.values()):
        params = replace(start, dense=dense, char=char, bm25=bm25, concept=concept)
        q = ranking_quality(sets, params)
        if q > best_q + 1e-9:
            best, best_q = params, q
    rows, correct, outside = [], [], []
    for s in sets:
        ev = s.evidence
        for i, it in enumerate(s.items):
            cands = s.matcher.rank(ev, i, best, 2)
            margin = cands[0].score - cands[1].score if len(cands) > 1 else cands[0].score
            f = judge_features(cands[0], margin, ev.hits[i], ev.oos[i], float(ev.outside[i]))
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
    shipped = FusionParams.load()
    matchers = []
    for catalog, items_of in (
        (load_reference_catalog(), lambda _: tuning_items()),
        (DEV_TOWNSHIP.load_catalog(), dev_items),
    ):
        matcher = load_matcher(settings, catalog, examples=False)
        matcher.fusion = FusionParams()  # fit from the defaults, not from a previous fit
        matchers.append((matcher, items_of(catalog)))
    static_encode = ensure_static_encoder(matchers[0][0]).encode
    static = calibrate([fit_set(m, items, static_encode) for m, items in matchers], FusionParams())
    main_fit = shipped if args.static_only else calibrate([fit_set(m, items) for m, items in matchers], FusionParams())
    params = replace(main_fit, static=static)
    print(params.to_json())
    if not args.dry_run:
        FUSION_PATH.write_text(params.to_json() + "\n", encoding="utf-8")
        print(f"已写入 {FUSION_PATH}")


if __name__ == "__main__":
    main()
