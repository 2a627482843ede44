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


def latency_block(samples: Sequence[float], *, batch: int, warmup: int, p99_min_samples: int = 0) -> dict:
    """The `latency` block of a record: p50/p90/p99/min/mean/max/stdev over every sample, samples kept.

    p99 is None with fewer than `p99_min_samples` samples: from 50 samples it is the largest one or two,
    a statement about outliers rather than a percentile (the bench asks for 100; the harness keeps 0).
    """
    samples = [float(s) for s in samples]
    return {
        "batch": batch,
        "warmup": warmup,
        "runs": len(samples),
        "p50_ms": percentile(samples, 50),
        "p90_ms": percentile(samples, 90),
        "p99_ms": percentile(samples, 99) if len(samples) >= p99_min_samples else None,
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


# ---------------------------------------------------------------------------------------------
# Warm-up until settled, and the uncertainty of a median. Written out (no scipy) so the device harness
# and the iOS app can do the same with the standard library.

SETTLE_WINDOW = 5  # calls per median compared while warming up
SETTLE_TOLERANCE = 0.05  # two successive window medians within 5% of each other: settled


def settle(call: Callable[[], object], *, min_calls: int, min_ms: float, max_ms: float, window: int = SETTLE_WINDOW,
           tolerance: float = SETTLE_TOLERANCE, clock: Clock = DEFAULT_CLOCK) -> dict:
    """Untimed-for-the-record calls until the latency has settled, instead of a fixed count.

    Settled: at least `min_calls` calls and `min_ms` of calling, and the median of the last `window`
    calls within `tolerance` of the median of the `window` before them (caches, allocator, JIT and
    thread pools warmed). Stops at `max_ms` regardless, then `settled` is False.
    Returns {"calls", "ms", "settled", "samples_ms"}: every warm-up call's time, kept for the record.
    """
    if min_calls < 0 or window < 1:
        raise ValueError(f"need min_calls >= 0 and window >= 1, got {min_calls}, {window}")
    times: list[float] = []
    start = clock()
    while True:
        begin = clock()
        call()
        times.append((clock() - begin) / 1e6)
        elapsed = (clock() - start) / 1e6
        if len(times) >= max(min_calls, 2 * window) and elapsed >= min_ms:
            before, last = statistics.median(times[-2 * window:-window]), statistics.median(times[-window:])
            if abs(last - before) <= tolerance * before:
                return {"calls": len(times), "ms": elapsed, "settled": True, "samples_ms": times}
        if elapsed >= max_ms and len(times) >= min_calls:
            return {"calls": len(times), "ms": elapsed, "settled": False, "samples_ms": times}


def median_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float] | None:
    """A distribution-free confidence interval for the median: order statistics x(l) .. x(u) with
    P(l <= Binomial(n, 1/2) < u) >= level (exact binomial sums). None when n is too small for `level`."""
    ordered = sorted(float(v) for v in values)
    n = len(ordered)
    if n < 2:
        return None
    pmf = [math.comb(n, k) / 2**n for k in range(n + 1)]
    for low in range(n // 2, -1, -1):  # widen symmetrically until the coverage is reached
        high = n - 1 - low  # [x(low), x(high)], 0-based: covers the median when low < #(below it) <= high
        if high >= low and sum(pmf[low + 1:high + 1]) >= level:
            return ordered[low], ordered[high]
    return None


def half_trend(samples: Sequence[float]) -> float | None:
    """Median of the second half of the samples over the median of the first half (None under 4 samples)."""
    if len(samples) < 4:
        return None
    half = len(samples) // 2
    first = statistics.median(samples[:half])
    return statistics.median(samples[half:]) / first if first > 0 else None
