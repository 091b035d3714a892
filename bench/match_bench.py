"""Accuracy and speed of lvzhi's matcher against two baselines, on the same data, in one run.

Baselines: (1) char 1–3-gram TF-IDF nearest entry, (2) dense-only multilingual-e5-small + FAISS, both the
published model and our ticket-trained default (so the share of the gain due to the encoder is visible).
Data: the reference catalog's held-out labelled items (划分=留出, reported only), its tuning items, 柳河街道's
list and items (an unseen list, reported only), the dev list (an unseen list that models and weights may be chosen
on), and the ticket training corpus. The default model is trained on that corpus, so its row measures fit, not
generalisation. `--by 风格` adds a table per style; sets without a 风格 column get one from their 来源 and length.
Prints tables and, as its last line, one JSON object.

    .venv/bin/python bench/match_bench.py [--home DIR] [--by 风格] [--skip-speed] [--skip-corpus]
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
from corpus.datasets import (  # noqa: E402
    DEV_TOWNSHIP,
    HELD_OUT_SPLIT,
    OTHER_TOWNSHIP,
    REFERENCE_GOLD,
    REFERENCE_ITEMS,
    LabelledSet,
)
from corpus.schema import Catalog, DutyEntry  # noqa: E402
from corpus.styles import STYLES, main_style, style_of  # noqa: E402
from corpus.training_corpus import load_training_corpus  # noqa: E402
from inference.evaluate import EvalReport, LabelledItem, evaluate, load_labelled  # noqa: E402
from inference.index import build_faiss  # noqa: E402
from inference.loader import load_matcher  # noqa: E402
from lvzhi.config import BASE_MODEL, load_settings  # noqa: E402
from models.embedder import load_embedder  # noqa: E402

STYLE = "风格"


def top1_of(ranked_ids: list[list[str]], items: list[LabelledItem]) -> float:
    scored = [(ids[0] == it.gold) for ids, it in zip(ranked_ids, items) if it.gold]
    return sum(scored) / len(scored) if scored else 0.0


def top1_by(ranked_ids: list[list[str]], items: list[LabelledItem], by: str) -> dict[str, float]:
    groups: dict[str, tuple[list, list]] = {}
    for ids, it in zip(ranked_ids, items):
        g = groups.setdefault(it.extra.get(by, ""), ([], []))
        g[0].append(ids)
        g[1].append(it)
    return {k: top1_of(r, i) for k, (r, i) in groups.items()}


def with_style(items: list[LabelledItem]) -> list[LabelledItem]:
    """Each item's main style in extra[风格]: its own column where it has one, else from 来源 and length."""
    return [
        LabelledItem(
            it.id,
            it.text,
            it.gold,
            {**it.extra, STYLE: main_style(it.extra.get(STYLE) or style_of(it.text, it.extra.get("来源", "")))},
        )
        for it in items
    ]


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
            entries.append(
                DutyEntry(
                    id=f"{t}-{e.id}",
                    name=f"{t}{e.name}",
                    list_type=e.list_type,
                    description=e.description,
                    office=e.office,
                )
            )
    return Catalog(name="合成县级清单", entries=tuple(entries))


def unseen_list(labelled_set: LabelledSet) -> tuple[str, Catalog, list[LabelledItem]]:
    catalog = labelled_set.load_catalog()
    return labelled_set.label, catalog, with_style(load_labelled(labelled_set.items, labelled_set.gold, catalog))


def data_sets() -> list[tuple[str, Catalog, list[LabelledItem]]]:
    ref = load_reference_catalog()
    labelled = with_style(load_labelled(REFERENCE_ITEMS, REFERENCE_GOLD))
    held = [it for it in labelled if it.extra.get("划分") == HELD_OUT_SPLIT]
    tune = [it for it in labelled if it.extra.get("划分") != HELD_OUT_SPLIT]
    return [
        ("参考清单·留出集（只报告）", ref, held),
        unseen_list(OTHER_TOWNSHIP),
        unseen_list(DEV_TOWNSHIP),
        ("参考清单·调参集（可调参）", ref, tune),
    ]


def corpus_items() -> list[LabelledItem]:
    return [LabelledItem(it.id, it.text, it.gold, {STYLE: it.main_style}) for it in load_training_corpus()]


def accuracy_row(report: EvalReport, tfidf, dense, dense_adapted, items, by: str | None) -> dict:
    row = {
        "n": report.n,
        "lvzhi_top1": round(report.top1, 4),
        "lvzhi_top3": round(report.top3, 4),
        "lvzhi_mrr": round(report.mrr, 4),
        "tfidf_top1": round(top1_of(tfidf, items), 4),
        "dense_top1": round(top1_of(dense, items), 4),
        "dense_adapted_top1": round(top1_of(dense_adapted, items), 4),
        "out_of_list_precision": round(report.out_of_list_precision, 4),
        "out_of_list_recall": round(report.out_of_list_recall, 4),
        "reclaimed_precision": round(report.reclaimed_precision, 4),
        "reclaimed_recall": round(report.reclaimed_recall, 4),
    }
    row["ratio_vs_tfidf"] = round(row["lvzhi_top1"] / max(row["tfidf_top1"], 1e-9), 3)
    row["ratio_vs_dense"] = round(row["lvzhi_top1"] / max(row["dense_top1"], 1e-9), 3)
    row["ratio_vs_dense_adapted"] = round(row["lvzhi_top1"] / max(row["dense_adapted_top1"], 1e-9), 3)
    if by:
        base = {
            name: top1_by(ranked, items, by)
            for name, ranked in (("tfidf", tfidf), ("dense", dense), ("dense_adapted", dense_adapted))
        }
        row["by"] = {
            k: {**v, **{f"{name}_top1": round(t.get(k, 0.0), 4) for name, t in base.items()}}
            for k, v in report.by.items()
        }
    return row


def print_row(label: str, row: dict) -> None:
    print(
        f"{label}: n={row['n']} lvzhi top1={row['lvzhi_top1']:.3f} top3={row['lvzhi_top3']:.3f} | "
        f"TF-IDF {row['tfidf_top1']:.3f} | dense-only e5 {row['dense_top1']:.3f} | "
        f"dense-only adapted e5 {row['dense_adapted_top1']:.3f} | 清单之外 P/R "
        f"{row['out_of_list_precision']:.2f}/{row['out_of_list_recall']:.2f}",
        flush=True,
    )
    order = {s: i for i, s in enumerate(STYLES)}
    for style, r in sorted(row.get("by", {}).items(), key=lambda kv: order.get(kv[0], 99)):
        print(
            f"    {style}: n={r['n']} lvzhi {r['top1']:.3f} | TF-IDF {r['tfidf_top1']:.3f} | "
            f"e5 {r['dense_top1']:.3f} | adapted {r['dense_adapted_top1']:.3f}",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", default=None)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-corpus", action="store_true", help="不评测训练语料（省去约 5 分钟）")
    ap.add_argument("--by", default=None, help="另按此列分组报告，例如 风格")
    args = ap.parse_args()
    settings = load_settings(home=args.home)
    results: dict = {"accuracy": {}}
    embedder = None
    # The published e5, unadapted: the dense baseline a user would otherwise start from.
    plain = load_embedder(settings.with_overrides(model=BASE_MODEL))
    for label, catalog, items in data_sets():
        matcher = load_matcher(settings, catalog, examples=False)
        embedder = matcher.embedder
        report = evaluate(matcher, items, by=args.by)
        row = accuracy_row(
            report,
            tfidf_baseline(catalog, items),
            dense_baseline(plain, catalog, items),
            dense_baseline(embedder, catalog, items),
            items,
            args.by,
        )
        results["accuracy"][label] = row
        print_row(label, row)

    if not args.skip_corpus:
        # The default model was trained on this corpus (training/ship.py): a fit, not a generalisation figure.
        label = "训练语料（默认模型训练用，只看拟合）"
        catalog, items = load_reference_catalog(), corpus_items()
        matcher = load_matcher(settings, catalog, examples=False)
        report = evaluate(matcher, items, by=STYLE)
        row = accuracy_row(
            report,
            tfidf_baseline(catalog, items),
            dense_baseline(plain, catalog, items),
            dense_baseline(matcher.embedder, catalog, items),
            items,
            STYLE,
        )
        results["accuracy"][label] = row
        print_row(label, row)

    if not args.skip_speed:
        _, catalog, items = data_sets()[0]
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
