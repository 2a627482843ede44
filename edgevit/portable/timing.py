"""Warm-up + timed calls and their summary, exactly as record-v1.schema.json describes (nothing dropped).

The one timing implementation: the device harness runs it on the device, and `edgevit bench` and
`edgevit.bench.peak` import it on the host, so both sides of a comparison are measured the same way. It
lives in the harness package because the harness may import nothing from the rest of edgevit.

Percentiles: linear interpolation between order statistics (numpy's default, Hyndman-Fan type 7),
written out so that the iOS app can reproduce them from the schema's description. The clock is a
parameter so tests can drive it with known timings.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Callable, Sequence

Clock = Callable[[], int]  # nanoseconds, monotonic
DEFAULT_CLOCK: Clock = time.perf_counter_ns
CLOCK_NAME = "time.perf_counter_ns"


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of `samples` by linear interpolation; ValueError on no samples."""
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(samples)
    position = q / 100 * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def time_once(call: Callable[[], object], *, clock: Clock = DEFAULT_CLOCK) -> tuple[object, float]:
    """(result, wall ms) of one call: for load and first-inference times."""
    start = clock()
    result = call()
    return result, (clock() - start) / 1e6


def time_calls(call: Callable[[], object], *, warmup: int, runs: int, clock: Clock = DEFAULT_CLOCK) -> list[float]:
    """`warmup` untimed calls, then `runs` timed calls; the wall time of each timed call in ms, in order."""
    if runs < 1 or warmup < 0:
        raise ValueError(f"need runs >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        start = clock()
        call()
        samples.append((clock() - start) / 1e6)
    return samples


def latency_block(samples: Sequence[float], *, batch: int, warmup: int) -> dict:
    """The `latency` block of a record: p50/p90/p99/min/mean/max/stdev over every sample, samples kept."""
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
    """One `throughput` entry: images per second over every timed call at this batch (batch x runs / total wall time)."""
    total_s = sum(samples) / 1e3
    return {
        "batch": batch,
        "warmup": warmup,
        "runs": len(samples),
        "images_per_second": batch * len(samples) / total_s if total_s > 0 else 0.0,
        "batch_p50_ms": percentile(samples, 50),
    }
