"""Load test of POST /api/classify on loopback: p50/p99 latency and requests/s at 1, 8 and 32 concurrent clients.

Starts `lvzhi serve` on 127.0.0.1 (a free port, the usual LVZHI_HOME unless --home is given) unless --url points at
a server already running on this machine; remote hosts are refused. Every level is bounded by a request count and
a time limit, then the server is stopped. Prints one line per level and, as its last line, one JSON object.

    .venv/bin/python bench/api_load.py [--levels 1,8,32] [--requests 300] [--max-seconds 120] [--url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TEXTS_FILE = ROOT / "corpus" / "data" / "labelled" / "reference_items.csv"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def load_texts() -> list[str]:
    with open(TEXTS_FILE, encoding="utf-8-sig", newline="") as fh:
        return [row["内容"] for row in csv.DictReader(fh) if row["内容"].strip()]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


async def run_level(url: str, texts: list[str], clients: int, requests: int, max_seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    issued = 0
    start = time.perf_counter()
    deadline = start + max_seconds
    health_before = httpx.get(url + "/api/health", timeout=30).json()

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal issued, errors
        while issued < requests and time.perf_counter() < deadline:
            text = texts[issued % len(texts)]
            issued += 1
            t0 = time.perf_counter()
            try:
                reply = await client.post("/api/classify", json={"text": text})
                ok = reply.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - t0)
            else:
                errors += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(clients)))
    wall = time.perf_counter() - start
    health_after = httpx.get(url + "/api/health", timeout=30).json()
    calls = health_after["classify_calls"] - health_before["classify_calls"]
    served = health_after["classify_texts"] - health_before["classify_texts"]
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
        "requests_per_s": round(len(latencies) / wall, 2),
        "wall_s": round(wall, 2),
        "texts_per_model_call": round(served / calls, 2) if calls else None,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: str | None) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if home:
        env["LVZHI_HOME"] = home
    log = Path(tempfile.mkstemp(prefix="lvzhi-api-load-", suffix=".log")[1])
    proc = subprocess.Popen(
        [sys.executable, "-m", "lvzhi.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"服务启动失败，日志：{log}\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/api/health", timeout=5).json().get("ready"):
                return proc, url, log
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(1)
    proc.kill()
    raise SystemExit(f"服务在 15 分钟内没有就绪，日志：{log}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="已在本机运行的服务地址（只允许 127.0.0.1/localhost）；不填则自行启动")
    parser.add_argument("--home", help="自行启动服务时使用的 LVZHI_HOME")
    parser.add_argument("--levels", default="1,8,32", help="并发客户端数，逗号分隔")
    parser.add_argument("--requests", type=int, default=300, help="每个并发级别的请求总数上限")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="每个并发级别的时间上限（秒）")
    parser.add_argument("--warmup", type=int, default=10, help="正式计时前的预热请求数")
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",") if x.strip()]

    proc = log = None
    if args.url:
        host = urllib.parse.urlsplit(args.url).hostname or ""
        if host not in LOOPBACK:
            raise SystemExit(f"只对本机回环地址做压测，拒绝：{host}")
        url = args.url.rstrip("/")
    else:
        proc, url, log = start_server(args.home)
    try:
        texts = load_texts()
        asyncio.run(run_level(url, texts, 1, args.warmup, 60))
        health = httpx.get(url + "/api/health", timeout=30).json()
        results = []
        for clients in levels:
            level = asyncio.run(run_level(url, texts, clients, args.requests, args.max_seconds))
            results.append(level)
            print(
                f"{clients:>3} 个并发：p50 {level['p50_ms']} ms，p99 {level['p99_ms']} ms，"
                f"{level['requests_per_s']} 请求/秒（{level['requests']} 次，错误 {level['errors']}，"
                f"每次模型调用 {level['texts_per_model_call']} 条）",
                flush=True,
            )
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    summary = {
        "bench": "api_classify_load",
        "url": url,
        "cpu_count": os.cpu_count(),
        "model": health.get("model_version"),
        "catalog": health.get("default_version"),
        "entries": health.get("entries"),
        "levels": results,
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0 if all(r["errors"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
