"""Where the full mode's time goes, and how far batching can take it on this CPU.

`lvzhi bulk` in full mode spends most of its time encoding tickets with the transformer, so the ratio between
full mode and matching one ticket at a time (bench/bulk_bench.py) is, in the end, the ratio between encoding in
batches and encoding one text per call. This bench measures that ratio on the matcher's own query texts
(generated hotline tickets, cleaned exactly as the matcher does before encoding, each distinct text once), then
profiles the batched encoding by kind of work:
  linear     the matrix multiplications of the 12 layers (aten::addmm/mm), with their achieved GFLOP/s;
  attention  the fused attention kernel;
  casts      bfloat16 conversions autocast makes on every call;
  other      GELU, layer norm, residual adds, embedding lookup, pooling.
The ceiling line answers: if batching made everything except the linear layers free, how many times faster than
one-at-a-time encoding would it be? Prints a table to stderr and one JSON line to stdout.

    LVZHI_THREADS=2 .venv/bin/python bench/encode_profile.py [--tickets 1200] [--single 150]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.confirmed import ready_matcher  # noqa: E402
from bench.hotline_tickets import generate  # noqa: E402
from lvzhi.config import load_settings  # noqa: E402

KINDS = {
    "linear": ("aten::addmm", "aten::mm", "aten::bmm"),
    "attention": ("scaled_dot_product",),
    "casts": ("aten::copy_", "aten::_to_copy"),
}


def kind_of(op_name: str) -> str:
    for kind, prefixes in KINDS.items():
        if any(op_name.startswith(p) or p in op_name for p in prefixes):
            return kind
    return "other"


def query_texts(matcher, tickets: int) -> list[str]:
    """Distinct query texts of generated tickets (title + content), in the form the matcher encodes them."""
    rows = generate(tickets, seed=12345)
    texts = [f"{r[6]}。{r[7]}" for r in rows if r[7].strip()]
    return list(dict.fromkeys(matcher.query_forms(texts)))


def texts_per_second(encode, texts: list[str], batch_size: int) -> float:
    t0 = time.perf_counter()
    encode(texts, batch_size=batch_size)
    return len(texts) / (time.perf_counter() - t0)


def single_per_second(encode, texts: list[str]) -> tuple[float, int]:
    """The better of torch's configured threads and one thread, as bulk_bench's row-by-row baseline does."""
    best, best_threads = 0.0, torch.get_num_threads()
    for threads in dict.fromkeys((torch.get_num_threads(), 1)):
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        for text in texts:
            encode([text])
        rate = len(texts) / (time.perf_counter() - t0)
        torch.set_num_threads(previous)
        if rate > best:
            best, best_threads = rate, threads
    return best, best_threads


def profile_by_kind(encode, texts: list[str], batch_size: int) -> dict[str, dict[str, float]]:
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        encode(texts, batch_size=batch_size)
    seconds: dict[str, float] = {}
    flops: dict[str, float] = {}
    for event in prof.key_averages():
        kind = kind_of(event.key)
        seconds[kind] = seconds.get(kind, 0.0) + event.self_cpu_time_total / 1e6
        flops[kind] = flops.get(kind, 0.0) + float(event.flops or 0)
    total = sum(seconds.values())
    return {
        kind: {
            "share": round(s / total, 3),
            "seconds": round(s, 2),
            "gflop_per_s": round(flops[kind] / s / 1e9, 1) if flops[kind] and s else None,
        }
        for kind, s in sorted(seconds.items(), key=lambda kv: -kv[1])
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tickets", type=int, default=1200, help="generated tickets (distinct query texts are encoded)")
    p.add_argument("--single", type=int, default=150, help="texts encoded one per call")
    args = p.parse_args()

    settings = load_settings()
    matcher = ready_matcher(settings)
    embedder = matcher.embedder
    encode = embedder.encode_queries
    texts = query_texts(matcher, args.tickets)
    limit = embedder.model.max_seq_length  # longer pastes are cut there, so they cost no more than that
    tokens = [
        min(len(ids), limit)
        for ids in embedder.model.tokenizer([embedder.query_prefix + t for t in texts])["input_ids"]
    ]
    encode(texts[:64], batch_size=settings.batch_size)  # warm-up: oneDNN builds its kernels on first use
    # Shortest first, as `lvzhi bulk` orders a chunk, so batches pad little.
    ordered = sorted(texts, key=len)
    batched = texts_per_second(encode, ordered, settings.batch_size)
    single, single_threads = single_per_second(encode, texts[: args.single])
    kinds = profile_by_kind(encode, ordered, settings.batch_size)
    linear_share = kinds.get("linear", {}).get("share", 1.0)
    summary = {
        "bench": "encode_profile",
        "model": embedder.identity,
        "bfloat16": embedder.bfloat16,
        "torch_threads": torch.get_num_threads(),
        "texts": len(texts),
        "mean_tokens": round(sum(tokens) / len(tokens), 1),
        "batch_size": settings.batch_size,
        "batched_texts_per_s": round(batched, 1),
        "single_texts_per_s": round(single, 1),
        "single_best_threads": single_threads,
        "batched_vs_single": round(batched / single, 2),
        "by_kind": kinds,
        # Batched time shrunk to its linear layers alone, against one-at-a-time encoding as measured.
        "ceiling_linear_only_vs_single": round(batched / single / linear_share, 2),
    }
    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    log(f"{len(texts)} distinct query texts, {summary['mean_tokens']} tokens on average, batch {settings.batch_size}")
    log(
        f"batched {batched:.1f} texts/s, one per call {single:.1f} texts/s ({single_threads} thread(s)): "
        f"{summary['batched_vs_single']}×"
    )
    for kind, row in kinds.items():
        rate = f", {row['gflop_per_s']} GFLOP/s" if row["gflop_per_s"] else ""
        log(f"  {kind:<10} {row['share']:>6.1%}  {row['seconds']:.2f} s{rate}")
    log(f"if only the linear layers cost time: {summary['ceiling_linear_only_vs_single']}× one per call")
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
