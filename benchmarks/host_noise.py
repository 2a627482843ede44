"""Does this machine's CPU run as fast now as a second ago, with nothing else running? The evidence behind the
"disturbed" flags that `edgevit bench` raised on quiet runs (issue 19).

For --seconds, every --interval seconds, this reads:
  probe   the bench's own GEMM probe (edgevit.bench.stability.gemm_probe: the float32 GEMM the bench times before
          every round, at --threads BLAS threads), in GFLOP/s;
  scalar  a pure-Python counting loop pinned to each core in turn, in million iterations per second: the scalar
          pipeline's speed, apart from the vector units the probe uses;
  steal   the CPU time the hypervisor reports as taken by other guests (/proc/stat), per interval;
  load    the 1-minute load average: runnable processes of this machine.
and prints and writes a summary: how often the probe read below the bench's rule (80% of the run's 90th-percentile
probe), how long those slow bursts lasted, and whether steal time or the load average saw them.

    .venv/bin/python benchmarks/host_noise.py --seconds 120
Writes benchmarks/results/host-noise_<machine id>_<YYYY-MM-DD>.json and .md (every reading kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgevit.bench.stability import PROBE_DROP, PROBE_N, PROBE_QUIET_QUANTILE, gemm_probe  # noqa: E402
from edgevit.portable.timing import percentile  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SCALAR_ITERATIONS = 20_000  # about half a millisecond a core at full speed


def scalar_speeds(iterations: int = SCALAR_ITERATIONS) -> list[float]:
    """Million counting-loop iterations per second on each core this process may use (this thread pinned to it)."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [None]
    speeds = []
    try:
        for core in cores:
            if core is not None:
                os.sched_setaffinity(0, {core})
            start = time.perf_counter()
            total = 0
            for i in range(iterations):
                total += i
            speeds.append(iterations / (time.perf_counter() - start) / 1e6)
    finally:
        if cores != [None]:
            os.sched_setaffinity(0, set(cores))
    return speeds


def steal_ticks() -> int | None:
    """Cumulative steal time of all CPUs in clock ticks (/proc/stat's 8th field); None where there is no /proc/stat."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
        return int(fields[8])
    except (OSError, IndexError, ValueError):
        return None


def bursts(low: list[bool], interval: float) -> list[float]:
    """The lengths in seconds of each run of consecutive low readings."""
    lengths, run = [], 0
    for flag in low + [False]:
        if flag:
            run += 1
        elif run:
            lengths.append(run * interval)
            run = 0
    return lengths


def summarize(rows: list[dict], interval: float) -> dict:
    probes = [r["probe_gflops"] for r in rows]
    quiet = percentile(probes, PROBE_QUIET_QUANTILE)
    low = [p < PROBE_DROP * quiet for p in probes]
    scalar = [min(r["scalar_mips"]) for r in rows]
    scalar_top = percentile(scalar, PROBE_QUIET_QUANTILE)
    scalar_low = [s < PROBE_DROP * scalar_top for s in scalar]
    lengths = bursts(low, interval)
    steal = [r["steal_ticks"] for r in rows if r["steal_ticks"] is not None]
    return {
        "readings": len(rows),
        "probe_quiet_gflops": quiet,
        "probe_median_gflops": statistics.median(probes),
        "probe_low_share": sum(low) / len(low),
        "probe_low_rule": f"below {PROBE_DROP:.0%} of the {PROBE_QUIET_QUANTILE}th percentile probe, the bench's rule",
        "low_bursts": len(lengths),
        "low_burst_median_s": statistics.median(lengths) if lengths else None,
        "low_burst_longest_s": max(lengths) if lengths else None,
        "scalar_top_mips": scalar_top,
        "scalar_low_share": sum(scalar_low) / len(scalar_low),
        "scalar_low_while_probe_low": sum(a and b for a, b in zip(scalar_low, low)) / max(1, sum(low)),
        "steal_ticks_total": (steal[-1] - steal[0]) if len(steal) > 1 else None,
        "steal_ticks_per_second": os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else None,
        "load_average_1m": [min(r["load_1m"] for r in rows), max(r["load_1m"] for r in rows)],
    }


def markdown(summary: dict, args, machine: str) -> list[str]:
    s = summary
    burst = (f"{s['low_bursts']} bursts, median {s['low_burst_median_s']:.1f} s, longest {s['low_burst_longest_s']:.1f} s"
             if s["low_bursts"] else "none")
    return [
        f"# Host noise on {machine}, {dt.date.today().isoformat()}",
        "",
        f"`python benchmarks/host_noise.py --seconds {args.seconds} --interval {args.interval} --threads {args.threads}`: "
        f"{s['readings']} readings at {args.interval} s intervals.",
        "",
        "| what | figure |",
        "|---|---|",
        f"| bench GEMM probe ({PROBE_N}³ float32, {args.threads} threads): 90th percentile / median | "
        f"{s['probe_quiet_gflops']:.1f} / {s['probe_median_gflops']:.1f} GFLOP/s |",
        f"| readings the bench would call a low probe ({s['probe_low_rule']}) | {s['probe_low_share']:.0%} |",
        f"| low-probe bursts | {burst} |",
        f"| scalar loop, slowest core, below {PROBE_DROP:.0%} of its 90th percentile ({s['scalar_top_mips']:.1f} M it/s) | "
        f"{s['scalar_low_share']:.0%} of readings; {s['scalar_low_while_probe_low']:.0%} of the low-probe readings |",
        f"| steal time over the run | {s['steal_ticks_total']} ticks ({s['steal_ticks_per_second']} a second) |",
        f"| load average (1 min), lowest / highest | {s['load_average_1m'][0]:.2f} / {s['load_average_1m'][1]:.2f} |",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--interval", type=float, default=0.2, help="seconds between readings (default %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="the probe's BLAS threads, as the bench's (default %(default)s)")
    p.add_argument("--results", type=Path, default=RESULTS)
    args = p.parse_args(argv)

    from edgevit.fsutil import atomic_write_text
    from edgevit.portable.machine import fingerprint

    probe = gemm_probe(args.threads, PROBE_N, settle_s=0.0)
    rows, start = [], time.monotonic()
    while time.monotonic() - start < args.seconds:
        began = time.monotonic()
        rows.append({"t_s": round(began - start, 3), "probe_gflops": probe(), "scalar_mips": scalar_speeds(),
                     "steal_ticks": steal_ticks(), "load_1m": os.getloadavg()[0]})
        time.sleep(max(0.0, args.interval - (time.monotonic() - began)))
    summary = summarize(rows, args.interval)
    machine = fingerprint()["id"]
    lines = markdown(summary, args, machine)
    print("\n".join(lines))
    args.results.mkdir(parents=True, exist_ok=True)
    stem = args.results / f"host-noise_{machine}_{dt.date.today().isoformat()}"
    atomic_write_text(stem.with_suffix(".json"), json.dumps({"command": " ".join(["python", *sys.argv]), "summary": summary,
                                                            "readings": rows}, indent=1) + "\n")
    atomic_write_text(stem.with_suffix(".md"), "\n".join(lines))
    print(f"results: {stem}.json, .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
