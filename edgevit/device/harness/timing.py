"""Warm-up + timed calls and their summary, exactly as record-v1.schema.json describes (nothing dropped).

Percentiles: linear interpolation between order statistics (numpy's default, Hyndman-Fan type 7).
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Callable, Sequence

CLOCK_NAME = "time.perf_counter_ns"


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    position = q / 100 * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def time_once(call: Callable[[], object]) -> tuple[object, float]:
    """(result, wall ms) of one call."""
    start = time.perf_counter_ns()
    result = call()
    return result, (time.perf_counter_ns() - start) / 1e6


def time_calls(call: Callable[[], object], *, warmup: int, runs: int) -> list[float]:
    """`warmup` untimed calls, then the wall time in ms of each of `runs` timed calls, in order."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples


def latency_block(samples: Sequence[float], *, batch: int, warmup: int) -> dict:
    samples = [float(s) for s in samples]
    return {
        "batch": batch,
        "warmup": warmup,
        "runs": len(samples),
        "p50_ms": percentile(samples, 50),
        "p90_ms": percentile(samples, 90),
        "p99_ms": percentile(samples, 99),
        "min_ms": min(samples),
        "mean_ms": statistics.fmean(samples),
        "max_ms": max(samples),
        "stdev_ms": statistics.stdev(samples) if len(samples) > 1 else None,
        "percentile_method": "linear",
        "clock": CLOCK_NAME,
        "samples_ms": samples,
    }


def throughput_entry(samples: Sequence[float], *, batch: int, warmup: int) -> dict:
    """Images per second over every timed call at this batch: batch x runs / total wall time."""
    total_s = sum(samples) / 1e3
    return {
        "batch": batch,
        "warmup": warmup,
        "runs": len(samples),
        "images_per_second": batch * len(samples) / total_s if total_s > 0 else 0.0,
        "batch_p50_ms": percentile(samples, 50),
    }
