"""Speed and memory of `lvzhi bulk` on a generated 100k-ticket export, and what --fast costs in accuracy.

Measured, each in its own child process so peak memory (max RSS) belongs to one mode:
  lexical  the lexical channels alone (no vectors at all) over the whole file and over its first tenth: peak
           memory at 10k vs 100k rows (streaming keeps it flat);
  static   --fast's first stage alone (distilled static query vectors, nothing sent on to the transformer) over the
           whole file: the ceiling of --fast;
  fast     --fast with its default routing policy (which routes nothing today: then it times the same as static);
  full     the default full model (precision auto: bfloat16 matmuls where the CPU has them natively);
  full_float32  the same in float32 (LVZHI_PRECISION=float32), to show what bfloat16 buys;
  rowwise  the baseline: the same matcher called one ticket at a time (what a loop over `lvzhi classify` does),
           with torch on the default threads and on one thread (the better of the two is the baseline),
           against the same texts batched, in one process.
fast/full/rowwise run on the first N rows of the same file when N is given (the transformer runs tens of rows per
second on 2 cores, so the full 100k in full mode would take hours); rows/s is per mode, all end to end through
run_bulk (reading, checkpointing, report, output), except rowwise which times matching alone.
Accuracy: top-1 of full, fast, static-only and lexical-only on corpus/data/labelled/reference_items.csv + reference_gold.csv
(else the second township's items.csv + gold.csv), the share of texts fast mode sends to the transformer, and the
trade-off across routing margins. Prints a table to stderr and one JSON line to stdout.

    LVZHI_THREADS=2 .venv/bin/python bench/bulk_bench.py --rows 100000 --fast-rows 0 --full-rows 1000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hotline_tickets import generate, write_csv  # noqa: E402

DATA = ROOT / "corpus" / "data"
MARGINS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7)


def labelled_paths() -> tuple[Path, Path, str]:
    ref = DATA / "labelled" / "reference_items.csv", DATA / "labelled" / "reference_gold.csv"
    if ref[0].exists() and ref[1].exists():
        return ref[0], ref[1], ""
    return (
        DATA / "other_township" / "items.csv",
        DATA / "other_township" / "gold.csv",
        str(DATA / "other_township" / "catalog.csv"),
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def prefix_file(src: Path, rows: int, dest: Path) -> Path:
    """The first `rows` data rows of src, byte for byte (GBK stays GBK)."""
    with open(src, "rb") as fh, open(dest, "wb") as out:
        for n, line in enumerate(fh):
            if n > rows:
                break
            out.write(line)
    return dest


# -- child modes ---------------------------------------------------------------------------------------------------


def child_run(args: argparse.Namespace) -> dict:
    from api.confirmed import ready_matcher
    from inference.bulk import BulkOptions, run_bulk
    from inference.fast import CascadePolicy
    from lvzhi.config import load_settings
    from training.distill import ensure_static_encoder

    settings = load_settings()
    t0 = time.perf_counter()
    matcher = ready_matcher(settings, dense=args.mode != "lexical")
    if args.mode in ("fast", "static") and matcher.embedder is not None:
        ensure_static_encoder(matcher)  # distilled once per model; not part of the timed run
    load_s = time.perf_counter() - t0
    options = BulkOptions(chunk_rows=args.chunk_rows, fast=args.mode != "full")
    if args.mode == "static":
        options.fast_policy = CascadePolicy(margin_below=-1.0, route_out_of_list=False)
    out = Path(args.out)
    t0 = time.perf_counter()
    result = run_bulk(Path(args.input), out, options, settings, matcher=matcher, static_source=ensure_static_encoder)
    elapsed = time.perf_counter() - t0
    report = json.loads(result.report_json.read_text(encoding="utf-8"))
    return {
        "mode": args.mode,
        "rows": result.rows,
        "errors": result.errors,
        "seconds": round(elapsed, 2),
        "rows_per_s": round(result.rows / elapsed, 1),
        "transformer_rows": report["transformer_rows"],
        "load_s": round(load_s, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "output": str(out),
    }


def child_rowwise(args: argparse.Namespace) -> dict:
    from api.confirmed import ready_matcher
    from corpus.tables import open_table
    from inference.bulk.columns import detect_columns
    from inference.bulk.rowtext import row_text
    from lvzhi.config import load_settings

    settings = load_settings()
    matcher = ready_matcher(settings)
    table = open_table(Path(args.input))
    cols = detect_columns(table.headers, [])
    texts = []
    for row in table:
        rt = row_text(row.values, cols, row.problem)
        if not rt.error:
            texts.append(rt.text)
        if len(texts) >= args.limit:
            break
    import torch

    matcher.match(texts[:8])  # warm-up, so neither side pays for first-call setup
    t0 = time.perf_counter()
    batched = matcher.match(texts, top_k=3)
    batched_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    one_by_one = [matcher.match([t], top_k=3)[0] for t in texts]
    rowwise_s = time.perf_counter() - t0
    # One text at a time cannot use a second core well (and on a busy machine each op waits for the other thread),
    # so the baseline also gets its best setting: one thread.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    for t in texts:
        matcher.match([t], top_k=3)
    rowwise_1t_s = time.perf_counter() - t0
    torch.set_num_threads(threads)
    same = sum(a.best.entry.id == b.best.entry.id for a, b in zip(one_by_one, batched))
    return {
        "mode": "rowwise",
        "rows": len(texts),
        "torch_threads": threads,
        "rowwise_rows_per_s": round(len(texts) / rowwise_s, 2),
        "rowwise_1thread_rows_per_s": round(len(texts) / rowwise_1t_s, 2),
        "batched_rows_per_s": round(len(texts) / batched_s, 2),
        "same_answer": same,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def child_accuracy(args: argparse.Namespace) -> dict:
    from api.confirmed import ready_matcher
    from corpus.importer import import_catalog
    from inference.evaluate import load_labelled, score
    from inference.fast import CascadePolicy, FastCascade
    from lvzhi.config import load_settings
    from training.distill import ensure_static_encoder

    items_path, gold_path, catalog_path = labelled_paths()
    settings = load_settings()
    catalog = import_catalog([Path(catalog_path)]) if catalog_path else None
    matcher = ready_matcher(settings, catalog)
    items = load_labelled(items_path, gold_path)
    texts = [i.text for i in items]
    full = matcher.match(texts, top_k=5)
    bfloat16 = matcher.embedder.bfloat16
    matcher.embedder.bfloat16 = False
    full_float32 = matcher.match(texts, top_k=5)
    matcher.embedder.bfloat16 = bfloat16
    lexical = matcher.match(texts, top_k=5, use_dense=False)
    default = CascadePolicy()
    cascade = FastCascade(matcher, default, ensure_static_encoder(matcher))
    first = cascade.first_stage(texts, top_k=5)

    def top1(matches) -> float:
        return round(score(items, matches, matcher.catalog.get).top1, 4)

    curve = []
    for margin in sorted(set(MARGINS) | {default.margin_below}):
        policy = CascadePolicy(margin_below=margin, route_out_of_list=default.route_out_of_list)
        routed = [policy.unsure(m) for m in first]
        mixed = [f if r else s for f, s, r in zip(full, first, routed)]
        curve.append({"margin_below": margin, "routed_share": round(sum(routed) / len(routed), 4), "top1": top1(mixed)})
    fast = cascade.match(texts, top_k=5)
    return {
        "mode": "accuracy",
        "labelled_set": str(items_path.relative_to(ROOT)),
        "n": len(items),
        "bfloat16": bfloat16,
        "top1_full": top1(full),
        "top1_full_float32": top1(full_float32),
        "top1_fast": top1(fast.matches),
        "top1_static": top1(first),
        "top1_lexical": top1(lexical),
        "fast_routed_share": round(fast.routed_count / len(texts), 4),
        "policy": repr(default),
        "curve": curve,
    }


# -- driver --------------------------------------------------------------------------------------------------------


def run_child(child: str, env: dict[str, str] | None = None, **kw) -> dict:
    cmd = [sys.executable, __file__, "--child", child] + [f"--{k.replace('_', '-')}={v}" for k, v in kw.items()]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    )
    if proc.returncode != 0:
        raise SystemExit(f"{child} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=100_000, help="tickets in the generated export")
    p.add_argument("--fast-rows", type=int, default=0, help="rows for --fast (0 = the whole file)")
    p.add_argument("--full-rows", type=int, default=1000, help="rows for the full model (0 = the whole file)")
    p.add_argument("--rowwise-rows", type=int, default=150, help="tickets for the one-at-a-time baseline")
    p.add_argument("--chunk-rows", type=int, default=2000)
    p.add_argument("--workdir", type=Path, help="where the export and outputs go (default: a temp folder)")
    p.add_argument(
        "--skip",
        default="",
        help="comma-separated modes to skip: lexical,static,fast,full,full_float32,rowwise,accuracy",
    )
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--input", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--mode", help=argparse.SUPPRESS)
    p.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.child:
        fn = {"run": child_run, "rowwise": child_rowwise, "accuracy": child_accuracy}[args.child]
        print(json.dumps(fn(args), ensure_ascii=False))
        return

    skip = set(filter(None, args.skip.split(",")))
    work = args.workdir or Path(tempfile.mkdtemp(prefix="lvzhi-bulk-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    src = work / "tickets.csv"
    t0 = time.perf_counter()
    write_csv(src, generate(args.rows, seed=12345), encoding="gbk")
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    log(f"generated {args.rows} tickets ({src.stat().st_size / 1e6:.1f} MB, GBK) in {time.perf_counter() - t0:.1f}s")

    def part(rows: int, name: str) -> Path:
        return src if rows in (0, args.rows) else prefix_file(src, rows, work / f"{name}.csv")

    results: dict[str, dict] = {}
    runs = (
        ("lexical_tenth", "lexical", args.rows // 10),
        ("lexical", "lexical", 0),
        ("static", "static", 0),
        ("fast", "fast", args.fast_rows),
        ("full", "full", args.full_rows),
        ("full_float32", "full", args.full_rows),
    )
    for name, mode, rows in runs:
        if mode in skip or name in skip:
            continue
        log(f"running {name} …")
        env = {"LVZHI_PRECISION": "float32"} if name.endswith("float32") else None
        results[name] = run_child(
            "run",
            env=env,
            mode=mode,
            input=part(rows, f"first-{rows}"),
            out=work / f"out-{name}.csv",
            chunk_rows=args.chunk_rows,
        )
        log(f"  {results[name]}")
    if "rowwise" not in skip:
        log("running rowwise baseline …")
        results["rowwise"] = run_child("rowwise", input=src, limit=args.rowwise_rows)
        log(f"  {results['rowwise']}")
    if "accuracy" not in skip:
        log("running accuracy …")
        results["accuracy"] = run_child("accuracy")
        log(f"  {json.dumps(results['accuracy'], ensure_ascii=False)}")

    summary: dict = {
        "bench": "bulk",
        "rows_generated": args.rows,
        "threads": os.environ.get("LVZHI_THREADS", "0"),
        "cpus": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }
    for name in ("lexical_tenth", "lexical", "static", "fast", "full", "full_float32"):
        if name in results:
            r = results[name]
            summary[name] = {k: r[k] for k in ("rows", "rows_per_s", "peak_rss_mb", "transformer_rows", "seconds")}
    if "rowwise" in results:
        rw = results["rowwise"]
        summary["rowwise"] = {
            k: rw[k]
            for k in (
                "rows",
                "torch_threads",
                "rowwise_rows_per_s",
                "rowwise_1thread_rows_per_s",
                "batched_rows_per_s",
                "same_answer",
            )
        }
        best_rowwise = max(rw["rowwise_rows_per_s"], rw["rowwise_1thread_rows_per_s"])
        if "full" in results:
            summary["full_vs_rowwise"] = round(results["full"]["rows_per_s"] / best_rowwise, 2)
        summary["batched_vs_rowwise"] = round(rw["batched_rows_per_s"] / best_rowwise, 2)
    if "full" in results and "full_float32" in results:
        summary["full_vs_float32"] = round(results["full"]["rows_per_s"] / results["full_float32"]["rows_per_s"], 2)
    if "fast" in results and "full" in results:
        summary["fast_vs_full"] = round(results["fast"]["rows_per_s"] / results["full"]["rows_per_s"], 2)
    if "accuracy" in results:
        a = results["accuracy"]
        summary["accuracy"] = a
        summary["top1_fast_minus_full_points"] = round((a["top1_fast"] - a["top1_full"]) * 100, 2)
        summary["top1_static_minus_full_points"] = round((a["top1_static"] - a["top1_full"]) * 100, 2)
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
