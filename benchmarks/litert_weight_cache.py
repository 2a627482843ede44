"""What XNNPACK's weight cache saves: each .tflite opened alone, in a process of its own, through LiteRT's
Interpreter (edgevit's default) and through the CompiledModel with the weight cache (`--setting
litert:weight_cache=true`), with its peak RSS split into anonymous and file-backed memory (issue 19).

Alone, because `edgevit bench` keeps every row's worker alive through its interleaved rounds: there the default
row's worker maps the same model file, and the kernel keeps those shared pages in the cache row's RSS too, so
the bench cannot show the saving (2026-12-01: 628 MiB file-backed in the cache row, the model file plus the cache
file). The rows here alternate, ROUNDS times, each in a fresh spawned process.

    .venv/bin/python benchmarks/litert_weight_cache.py /tmp/edgevit-vit-l32-cpu/artifacts/tflite-dynamic ... [--threads 2]
Writes <results>/litert-weight-cache_<machine id>_<YYYY-MM-DD>.md and .json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"


def measure_once(folder: str, weight_cache: bool, threads: int, runs: int, queue) -> None:
    """In a fresh process: open, first call, `runs` timed batch-1 calls; peak and split RSS in MiB, p50 in ms."""
    import numpy as np

    from edgevit.manifest import read_manifest
    from edgevit.portable.machine import proc_status_bytes
    from edgevit.portable.timing import percentile, time_calls
    from edgevit.runners import open_runner

    height, width = (int(v) for v in read_manifest(Path(folder))["input"]["shape"][1:3])
    runner = open_runner("litert", folder, threads=threads, weight_cache=weight_cache)
    try:
        image = np.random.default_rng(0).uniform(-1, 1, (1, height, width, 3)).astype(np.float32)
        runner.predict(image)
        p50 = percentile(time_calls(lambda: runner.predict(image), warmup=2, runs=runs), 50)
        queue.put({"peak_rss_mib": proc_status_bytes("VmHWM") / 2**20, "anon_mib": proc_status_bytes("RssAnon") / 2**20,
                   "file_mib": proc_status_bytes("RssFile") / 2**20, "p50_ms": p50})
    finally:
        runner.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("artifacts", nargs="+", help="tflite artifact folders (float32 input and output)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=10, help="timed calls per process (default %(default)s)")
    p.add_argument("--rounds", type=int, default=3, help="fresh processes per row (default %(default)s)")
    p.add_argument("--results", type=Path, default=RESULTS)
    args = p.parse_args(argv)

    from edgevit.fsutil import atomic_write_text
    from edgevit.portable.machine import fingerprint

    context = multiprocessing.get_context("spawn")
    load_before = os.getloadavg()
    rows = []
    for folder in args.artifacts:
        name = Path(folder).name
        runs = {False: [], True: []}
        for _ in range(args.rounds):
            for cached in (False, True):
                queue = context.Queue()
                process = context.Process(target=measure_once, args=(folder, cached, args.threads, args.runs, queue))
                process.start()
                runs[cached].append(queue.get(timeout=1800))
                process.join()
        for cached, results in runs.items():
            rows.append({"artifact": name, "file_mib": Path(folder, "model.tflite").stat().st_size / 2**20,
                         "path": "CompiledModel + XNNPACK weight cache" if cached else "Interpreter (edgevit's default)",
                         "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in results),
                         "anon_mib": statistics.median(r["anon_mib"] for r in results),
                         "file_backed_mib": statistics.median(r["file_mib"] for r in results),
                         "p50_ms": statistics.median(r["p50_ms"] for r in results), "processes": results})
    machine = fingerprint()["id"]
    today = dt.date.today().isoformat()
    command = " ".join(["python", "benchmarks/litert_weight_cache.py", *(argv if argv is not None else sys.argv[1:])])
    lines = [f"# XNNPACK's weight cache against LiteRT's Interpreter, each alone in its own process, {today}", "",
             f"`{command}` on {machine}. Each row: the median over {args.rounds} fresh processes (the rows alternate) of the "
             f"peak RSS (VmHWM) and of the anonymous and file-backed RSS after the calls, and of each process's p50 over "
             f"{args.runs} batch-1 calls at {args.threads} threads. Load average (1, 5, 15 min) before: "
             f"{[round(v, 2) for v in load_before]}, after: {[round(v, 2) for v in os.getloadavg()]}.", "",
             "| artifact | file MiB | path | peak RSS MiB | anonymous MiB | file-backed MiB | p50 ms |", "|---|---:|---|---:|---:|---:|---:|"]
    lines += [f"| {r['artifact']} | {r['file_mib']:.0f} | {r['path']} | {r['peak_rss_mib']:.0f} | {r['anon_mib']:.0f} | "
              f"{r['file_backed_mib']:.0f} | {r['p50_ms']:.1f} |" for r in rows]
    args.results.mkdir(parents=True, exist_ok=True)
    stem = args.results / f"litert-weight-cache_{machine}_{today}"
    atomic_write_text(stem.with_suffix(".json"), json.dumps({"command": command, "rows": rows}, indent=1) + "\n")
    atomic_write_text(stem.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))  # a benchmark script: its table is its output
    return 0


if __name__ == "__main__":
    sys.exit(main())
