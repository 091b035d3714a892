"""Merge suggestions: quality against a baseline on labelled sets, and speed at county scale, in one run.

Quality: pairwise precision/recall/F1 and ARI of `merge_items` on DEFAULT settings, beside a baseline
(agglomerative average-link clustering on char 1–3-gram TF-IDF, cosine distance threshold 0.9 fixed a priori),
on the labelled set corpus/data/labelled/merge_* and the development set bench/data/merge_dev_* (the only set
the defaults were chosen on). A sweep of both knobs is printed too, marked as such: it shows the best each
method could reach with hindsight, not what a user gets.

Scale: a generated county (20 townships × 1,400 items, realistic staff wording built from the reference
catalog's duty descriptions and the labelled items, varied per township) merged in one run, with the time of
each stage (the encode is reported on its own), CPU seconds, and peak memory: by default (items embedded with the
static token vectors distilled from the model), with --fast (no model), and with --transformer-scale also with
the transformer encoding every item. Quality is reported for all three.

    .venv/bin/python bench/merge_bench.py [--home DIR] [--threads 2] [--townships 20] [--per-township 1400]
        [--skip-scale] [--skip-quality] [--transformer-scale] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import sys
import time
from pathlib import Path

from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.confirmed import ready_matcher  # noqa: E402
from corpus.catalogs import load_reference_catalog  # noqa: E402
from inference.merge import RawItem, merge_items, read_items  # noqa: E402
from inference.merge.evaluate import gold_labels, read_gold, score_grouping  # noqa: E402
from lvzhi.config import load_settings  # noqa: E402
from models.lexical import char_text  # noqa: E402
from training.distill import ensure_static_encoder  # noqa: E402

LABELLED = ROOT / "corpus" / "data" / "labelled"
DEV = ROOT / "bench" / "data"
SETS = {
    "labelled": (LABELLED / "merge_items.csv", LABELLED / "merge_gold.csv"),
    "dev": (DEV / "merge_dev_items.csv", DEV / "merge_dev_gold.csv"),
}
BASELINE_DISTANCE = 0.9
SWEEP_GRANULARITY = (0.0, 0.25, 0.5, 0.75, 1.0)
SWEEP_BASELINE = (0.7, 0.8, 0.9, 0.95, 0.98)

TOWNSHIPS = [
    "青石镇",
    "南湖乡",
    "东坪镇",
    "石桥镇",
    "白沙乡",
    "枫林街道",
    "青溪镇",
    "龙潭镇",
    "柳塘乡",
    "金竹镇",
    "马坪乡",
    "桃源街道",
    "双河镇",
    "高桥镇",
    "黄土乡",
    "梅岭镇",
    "新安街道",
    "松柏乡",
    "清水镇",
    "凤凰镇",
    "长岭乡",
    "杨柳镇",
    "白云街道",
    "莲花乡",
]
VILLAGES = ["新华", "红星", "光明", "和平", "团结", "永丰", "长兴", "胜利", "东风", "向阳", "幸福", "民主"]
PREFIXES = ["", "", "", "", "做好", "开展", "组织", "负责", "协助", "落实", "督促", "全镇", "各村", "辖区内"]
SUFFIXES = ["", "", "", "", "工作", "台账", "情况上报", "专项行动", "宣传", "检查", "（常态化）", "（每月）"]


def baseline_labels(texts: list[str], distance: float) -> list[int]:
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    x = vec.fit_transform([char_text(t) or t for t in texts]).toarray()
    model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average", distance_threshold=distance)
    return model.fit_predict(x).tolist()


def quality(matcher, lexical_matcher, static) -> dict:
    out = {}
    for name, (items_path, gold_path) in SETS.items():
        items = read_items(items_path)
        gold = gold_labels(items, read_gold(gold_path))
        texts = [it.text for it in items]
        started = time.perf_counter()
        result = merge_items(items, matcher, static=static)
        seconds = time.perf_counter() - started
        labels = result.labels()
        ours = score_grouping([labels[it.id] for it in items], gold).to_dict()
        base = score_grouping(baseline_labels(texts, BASELINE_DISTANCE), gold).to_dict()
        fast_labels = merge_items(items, lexical_matcher).labels()
        fast = score_grouping([fast_labels[it.id] for it in items], gold).to_dict()
        tf_labels = merge_items(items, matcher, item_vectors="transformer").labels()
        transformer = score_grouping([tf_labels[it.id] for it in items], gold).to_dict()
        sweep_ours = {}
        for g in SWEEP_GRANULARITY:
            lab = merge_items(items, matcher, granularity=g, static=static).labels()
            sweep_ours[g] = score_grouping([lab[it.id] for it in items], gold).to_dict()
        sweep_base = {d: score_grouping(baseline_labels(texts, d), gold).to_dict() for d in SWEEP_BASELINE}
        out[name] = {
            "ours_default": ours,
            "ours_transformer": transformer,
            "ours_fast": fast,
            "baseline_default": base,
            "ours_seconds": round(seconds, 2),
            "sweep_ours_granularity": sweep_ours,
            "sweep_baseline_distance": sweep_base,
        }
    return out


# -- county generator -------------------------------------------------------------------------------------------


def _task_phrases() -> list[str]:
    """Work-item phrases: clauses of the reference catalog's duty descriptions, plus the labelled items."""
    phrases: list[str] = []
    for e in load_reference_catalog().entries:
        phrases.append(e.name)
        for clause in re.split(r"[，；。]", e.description):
            clause = clause.strip()
            if 4 <= len(clause) <= 30:
                phrases.append(clause)
    for items_path, _ in SETS.values():
        phrases.extend(it.text for it in read_items(items_path))
    return list(dict.fromkeys(phrases))


def _vary(phrase: str, rng: random.Random, street: bool) -> str:
    text = phrase
    if street and rng.random() < 0.5:
        text = text.replace("村（社区）", "社区").replace("村级", "社区").replace("乡镇", "街道")
    if rng.random() < 0.12:
        text = f"{rng.choice(VILLAGES)}村{text}"
    return f"{rng.choice(PREFIXES)}{text}{rng.choice(SUFFIXES)}"


def generate_county(n_townships: int, per_township: int, seed: int = 7) -> list[RawItem]:
    """Each township draws most of its items from a county-wide pool of common tasks and some of its own."""
    rng = random.Random(seed)
    phrases = _task_phrases()
    rng.shuffle(phrases)
    common = phrases[: int(len(phrases) * 0.7)]
    items: list[RawItem] = []
    for t in range(n_townships):
        town = TOWNSHIPS[t % len(TOWNSHIPS)] + ("" if t < len(TOWNSHIPS) else str(t // len(TOWNSHIPS) + 1))
        local_rng = random.Random(seed * 1000 + t)
        own = local_rng.sample(phrases, k=min(len(phrases), max(1, per_township // 4)))
        street = town.endswith("街道")
        for k in range(per_township):
            base = local_rng.choice(common) if local_rng.random() < 0.75 else local_rng.choice(own)
            items.append(RawItem(f"T{t + 1:02d}-{k + 1:04d}", _vary(base, local_rng, street), town))
    return items


def scale(matcher, n_townships: int, per_township: int, item_vectors: str = "static", static=None) -> dict:
    items = generate_county(n_townships, per_township)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = merge_items(items, matcher, item_vectors=item_vectors, static=static)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    t = result.timings
    encode = t.get("encode", 0.0)
    cross = sum(1 for g in result.groups if sum(1 for k in g.townships if k) > 1)
    return {
        "items": len(items),
        "townships": n_townships,
        "distinct_texts": result.n_distinct,
        "groups": len(result.groups),
        "singletons": result.singletons,
        "cross_township_groups": cross,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "encode_seconds": round(encode, 1),
        "encode_share": round(encode / wall, 3) if wall else 0.0,
        "encode_texts_per_second": round(result.n_distinct / encode, 1) if encode else None,
        "wall_seconds_without_encode": round(wall - encode, 1),
        "stages": {k: round(v, 2) for k, v in t.items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "largest_group": max(g.size for g in result.groups),
        "load_average": [round(x, 1) for x in os.getloadavg()],  # other processes sharing the cores inflate wall time
    }


def _print_quality(report: dict) -> None:
    keys = ("groups", "gold_groups", "pairwise_precision", "pairwise_recall", "pairwise_f1", "ari")
    for name, r in report.items():
        print(f"\n[{name}]  n={r['ours_default']['n']}")
        print(f"  {'方法':<28}" + "".join(f"{k:>20}" for k in keys))
        print(f"  {'lvzhi merge（默认 0.5）':<26}" + "".join(f"{r['ours_default'][k]:>20}" for k in keys))
        print(f"  {'lvzhi merge --transformer':<28}" + "".join(f"{r['ours_transformer'][k]:>20}" for k in keys))
        print(f"  {'lvzhi merge --fast':<28}" + "".join(f"{r['ours_fast'][k]:>20}" for k in keys))
        print(f"  {'TF-IDF 层次聚类（0.9）':<25}" + "".join(f"{r['baseline_default'][k]:>20}" for k in keys))
        print("  事后扫描（仅供参考，默认值并非据此选定）：")
        for g, s in r["sweep_ours_granularity"].items():
            print(f"    lvzhi granularity={g:<5} groups={s['groups']:<4} F1={s['pairwise_f1']:.3f} ARI={s['ari']:.3f}")
        for d, s in r["sweep_baseline_distance"].items():
            print(f"    baseline distance={d:<5} groups={s['groups']:<4} F1={s['pairwise_f1']:.3f} ARI={s['ari']:.3f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--townships", type=int, default=20)
    ap.add_argument("--per-township", type=int, default=1400)
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--json-out", type=Path)
    ap.add_argument(
        "--transformer-scale",
        action="store_true",
        help="also time the county with the transformer encoding every item (about four minutes)",
    )
    args = ap.parse_args(argv)
    settings = load_settings(home=args.home, threads=args.threads)
    matcher = ready_matcher(settings, examples=False)
    lexical_matcher = ready_matcher(settings, dense=False, examples=False)
    static = ensure_static_encoder(matcher)  # distilled once per model (minutes); never part of a timed run
    report: dict = {
        "model": matcher.embedder.identity if matcher.embedder else "lexical",
        "catalog_version": matcher.catalog.version,
        "threads": args.threads,
    }
    if not args.skip_quality:
        report["quality"] = quality(matcher, lexical_matcher, static)
        _print_quality(report["quality"])
    if not args.skip_scale:
        runs = [("scale", "默认", matcher, "static"), ("scale_fast", "--fast", lexical_matcher, "static")]
        if args.transformer_scale:
            runs.append(("scale_transformer", "--transformer", matcher, "transformer"))
        for key, label, m, vectors in runs:
            report[key] = s = scale(m, args.townships, args.per_township, vectors, static)
            print(
                f"\n[county {label}] {s['items']} 条（{s['townships']} 个乡镇，不同表述 {s['distinct_texts']} 条）→ "
                f"{s['groups']} 组（单独成组 {s['singletons']}，最大组 {s['largest_group']} 条），跨乡镇 {s['cross_township_groups']} 组"
            )
            print(
                f"  总耗时 {s['wall_seconds']}s（CPU {s['cpu_seconds']}s），其中向量编码 {s['encode_seconds']}s"
                f"（{s['encode_texts_per_second']} 条/秒，占 {s['encode_share']:.0%}），编码以外 {s['wall_seconds_without_encode']}s"
            )
            print(f"  各阶段：{s['stages']}    峰值内存 {s['peak_rss_mb']} MB    负载 {s['load_average']}")
    if args.json_out:
        args.json_out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
