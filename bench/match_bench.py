"""Accuracy and speed of lvzhi's matcher against two baselines, on the same data, in one run.

Baselines: (1) char 1–3-gram TF-IDF nearest entry, (2) dense-only multilingual-e5-small + FAISS, both the
published model and our adapted default (so the share of the gain due to the adaptation is visible).
Data: the reference catalog's held-out labelled items (划分=留出), its tuning items, and the second township's
catalog and items (never used for tuning). Prints a table and, as its last line, one JSON object.

    .venv/bin/python bench/match_bench.py [--home DIR] [--skip-speed]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import faiss
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corpus.catalogs import load_reference_catalog  # noqa: E402
from corpus.importer import import_catalog  # noqa: E402
from corpus.schema import Catalog, DutyEntry  # noqa: E402
from inference.evaluate import LabelledItem, evaluate, load_labelled  # noqa: E402
from inference.index import build_faiss  # noqa: E402
from inference.loader import load_matcher  # noqa: E402
from lvzhi.config import BASE_MODEL, load_settings  # noqa: E402
from models.embedder import load_embedder  # noqa: E402

DATA = ROOT / "corpus" / "data"


def top1_of(ranked_ids: list[list[str]], items: list[LabelledItem]) -> float:
    scored = [(ids[0] == it.gold) for ids, it in zip(ranked_ids, items) if it.gold]
    return sum(scored) / len(scored) if scored else 0.0


def tfidf_baseline(catalog: Catalog, items: list[LabelledItem]) -> list[list[str]]:
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    entries = vec.fit_transform([e.text for e in catalog.entries])
    sims = (vec.transform([it.text for it in items]) @ entries.T).toarray()
    return [[catalog.entries[j].id for j in np.argsort(-row)[:5]] for row in sims]


def dense_baseline(embedder, catalog: Catalog, items: list[LabelledItem]) -> list[list[str]]:
    index = build_faiss(embedder.encode_passages([e.text for e in catalog.entries]), "flat")
    _, ids = index.search(embedder.encode_queries([it.text for it in items]), 5)
    return [[catalog.entries[j].id for j in row] for row in ids]


def synthetic_catalog(base: Catalog, size: int) -> Catalog:
    """A county-sized catalog: the reference entries repeated with township prefixes."""
    towns = [f"第{i}镇" for i in range(size // len(base) + 1)]
    entries = []
    for t in towns:
        for e in base.entries:
            if len(entries) == size:
                break
            entries.append(DutyEntry(id=f"{t}-{e.id}", name=f"{t}{e.name}", list_type=e.list_type,
                                     description=e.description, office=e.office))
    return Catalog(name="合成县级清单", entries=tuple(entries))


def data_sets() -> list[tuple[str, Catalog, list[LabelledItem]]]:
    ref = load_reference_catalog()
    labelled = load_labelled(DATA / "labelled" / "reference_items.csv", DATA / "labelled" / "reference_gold.csv")
    held = [it for it in labelled if it.extra.get("划分") == "留出"]
    tune = [it for it in labelled if it.extra.get("划分") != "留出"]
    other = import_catalog([DATA / "other_township" / "catalog.csv"])
    other_items = load_labelled(DATA / "other_township" / "items.csv", DATA / "other_township" / "gold.csv")
    return [("参考清单·留出集", ref, held), ("参考清单·调参集", ref, tune), ("柳河街道（未见清单）", other, other_items)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", default=None)
    ap.add_argument("--skip-speed", action="store_true")
    args = ap.parse_args()
    settings = load_settings(home=args.home)
    results: dict = {"accuracy": {}}
    embedder = None
    # The published e5, unadapted: the dense baseline a user would otherwise start from.
    plain = load_embedder(settings.with_overrides(model=BASE_MODEL))
    for label, catalog, items in data_sets():
        matcher = load_matcher(settings, catalog, examples=False)
        embedder = matcher.embedder
        report = evaluate(matcher, items)
        row = {
            "n": report.n,
            "lvzhi_top1": round(report.top1, 4),
            "lvzhi_top3": round(report.top3, 4),
            "lvzhi_mrr": round(report.mrr, 4),
            "tfidf_top1": round(top1_of(tfidf_baseline(catalog, items), items), 4),
            "dense_top1": round(top1_of(dense_baseline(plain, catalog, items), items), 4),
            "dense_adapted_top1": round(top1_of(dense_baseline(embedder, catalog, items), items), 4),
            "out_of_list_precision": round(report.out_of_list_precision, 4),
            "out_of_list_recall": round(report.out_of_list_recall, 4),
            "reclaimed_precision": round(report.reclaimed_precision, 4),
            "reclaimed_recall": round(report.reclaimed_recall, 4),
        }
        row["ratio_vs_tfidf"] = round(row["lvzhi_top1"] / max(row["tfidf_top1"], 1e-9), 3)
        row["ratio_vs_dense"] = round(row["lvzhi_top1"] / max(row["dense_top1"], 1e-9), 3)
        row["ratio_vs_dense_adapted"] = round(row["lvzhi_top1"] / max(row["dense_adapted_top1"], 1e-9), 3)
        results["accuracy"][label] = row
        print(f"{label}: n={row['n']} lvzhi top1={row['lvzhi_top1']:.3f} top3={row['lvzhi_top3']:.3f} | "
              f"TF-IDF {row['tfidf_top1']:.3f} | dense-only e5 {row['dense_top1']:.3f} | "
              f"dense-only adapted e5 {row['dense_adapted_top1']:.3f}", flush=True)

    if not args.skip_speed:
        catalog, items = data_sets()[0][1:]
        matcher = load_matcher(settings, catalog, examples=False)
        texts = [it.text for it in items] * 4
        matcher.match(texts[:32])  # warm
        t = time.perf_counter()
        matcher.match(texts)
        batch_rate = len(texts) / (time.perf_counter() - t)
        lat = []
        for text in texts[:60]:
            t = time.perf_counter()
            matcher.match([text])
            lat.append((time.perf_counter() - t) * 1000)
        big = synthetic_catalog(catalog, 10_000)
        t = time.perf_counter()
        vectors = embedder.encode_passages([e.text for e in big.entries], batch_size=128)
        build_faiss(vectors, "flat")
        build_s = time.perf_counter() - t
        results["speed"] = {
            "items_per_s_batch_warm": round(batch_rate, 1),
            "p50_single_query_ms": round(statistics.median(lat), 1),
            "p99_single_query_ms": round(float(np.percentile(lat, 99)), 1),
            "index_build_10k_entries_s": round(build_s, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "faiss_threads": faiss.omp_get_max_threads(),
        }
        print("速度：", json.dumps(results["speed"], ensure_ascii=False), flush=True)
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
