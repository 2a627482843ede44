"""Was the machine quiet while an artifact was timed? The evidence, the flag, and ratios that survive drift.

Four signs, each measured in the same run (thresholds below, each a reason in the record when it fires):
- spread: p90 over p50 of the batch-1 samples (a quiet CPU repeats a call within a few percent);
- trend: the median of the second half of the samples against the first half;
- rounds: the slowest round's median against the fastest (the bench times artifacts in interleaved rounds);
- probe: a small GEMM timed in the bench process just before each of the artifact's rounds; a round whose
  probe ran well below the run's quiet probes ran on a busy machine.
A speed-up between two artifacts is computed round by round (both timed within a few hundred ms of each
other), and its interval is the distribution-free interval of the median of those per-round ratios.
"""

from __future__ import annotations

import statistics
from typing import Callable, Sequence

import numpy as np

from edgevit.portable.timing import half_trend, median_interval, percentile

INTERVAL_LEVEL = 0.95
SPREAD_LIMIT = 1.25  # p90 / p50
TREND_LIMIT = 0.10  # second-half median off the first-half median by more than 10%
ROUND_SPREAD_LIMIT = 1.30  # slowest round median / fastest
PROBE_DROP = 0.80  # a probe under 80% of the run's quiet probe speed marks its round as disturbed
PROBE_QUIET_QUANTILE = 90  # the run's quiet probe speed: the 90th percentile of all its probes
PROBE_ROUNDS_LIMIT = 0.20  # flagged when more than this share of an artifact's rounds had a low probe
PROBE_N = 256  # 33.5 MFLOP: about a millisecond, short enough to run before every round
# The probe follows another process's round, whose ONNX Runtime or XNNPACK worker threads may still spin after their
# last call; a probe taken then would measure them, not the machine. It waits this long first.
# A low probe on a machine whose load average is low is not a false alarm: on the 2-core KVM guest this project is
# measured on, the probe read low in 29% of 600 readings over two idle minutes, in bursts of up to 14 s, with no
# steal time (benchmarks/host_noise.py); in the 2026-12-01 ViT-L/32 bench, rounds after a low probe ran 1.04-1.57x
# slower than the others (the int8 artifacts most). The host takes the CPU's speed away where the guest cannot see it.
PROBE_SETTLE_S = 0.05
# Untimed calls at the start of each artifact's round (bench.measure): the first call after another artifact's round
# wakes its thread pool and refills the caches the other one evicted, a cost of the interleaving, not of the artifact.
ROUND_WARMUP = 1


def gemm_probe(threads: int | None, n: int = PROBE_N, calls: int = 3, settle_s: float = PROBE_SETTLE_S) -> Callable[[], float]:
    """A callable that waits `settle_s`, then times `calls` n x n float32 GEMMs at `threads` BLAS threads and returns
    the median GFLOP/s."""
    import time

    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)

    def probe() -> float:
        time.sleep(settle_s)
        with threadpool_limits(limits=threads, user_api="blas") if threads else _nothing():
            np.matmul(a, b, out=out)  # page in and spin up the pool: not timed
            times = []
            for _ in range(calls):
                start = time.perf_counter()
                np.matmul(a, b, out=out)
                times.append(time.perf_counter() - start)
        return 2 * n**3 / statistics.median(times) / 1e9

    return probe


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def quiet_probe(probes: Sequence[float | None]) -> float | None:
    """The run's quiet probe speed: a high percentile of every probe taken (None without probes)."""
    values = [p for p in probes if p is not None]
    return percentile(values, PROBE_QUIET_QUANTILE) if values else None


def stability_block(rounds: Sequence[Sequence[float]], probes: Sequence[float | None], *, quiet: float | None,
                    warmup_settled: bool | None) -> dict:
    """The `latency.stability` block: the measured signs, and `disturbed` with a reason per sign that fired."""
    samples = [s for chunk in rounds for s in chunk]
    p50, p90 = percentile(samples, 50), percentile(samples, 90)
    spread = p90 / p50 if p50 > 0 else None
    trend = half_trend(samples)
    medians = [statistics.median(chunk) for chunk in rounds if chunk]
    round_spread = max(medians) / min(medians) if len(medians) > 1 and min(medians) > 0 else None
    low = [p for p in probes if p is not None and quiet and p < PROBE_DROP * quiet]
    probed = [p for p in probes if p is not None]
    reasons = []
    if spread is not None and spread > SPREAD_LIMIT:
        reasons.append(f"spread: p90 is {spread:.2f}x p50 (limit {SPREAD_LIMIT:.2f}x)")
    if trend is not None and abs(trend - 1) > TREND_LIMIT:
        reasons.append(f"trend: the second half's median is {trend:.2f}x the first half's (limit ±{TREND_LIMIT:.0%})")
    if round_spread is not None and round_spread > ROUND_SPREAD_LIMIT:
        reasons.append(f"rounds: the slowest round's median is {round_spread:.2f}x the fastest's (limit {ROUND_SPREAD_LIMIT:.2f}x)")
    if probed and len(low) > PROBE_ROUNDS_LIMIT * len(probed):
        reasons.append(f"probe: the GEMM probe ran below {PROBE_DROP:.0%} of the run's quiet speed before "
                       f"{len(low)} of {len(probed)} rounds")
    if warmup_settled is False:
        reasons.append("warm-up: the latency had not settled when the warm-up time ran out")
    return {
        "disturbed": bool(reasons),
        "reasons": reasons,
        "p90_over_p50": spread,
        "trend": trend,
        "round_spread": round_spread,
        "probe_gflops": list(probes),
        "probe_quiet_gflops": quiet,
        "probe_low_rounds": len(low),
    }


def p50_interval(samples: Sequence[float]) -> list[float] | None:
    """The 95% distribution-free interval of the p50, [low, high] ms (None with too few samples)."""
    interval = median_interval(samples, INTERVAL_LEVEL)
    return list(interval) if interval else None


def paired_ratio(baseline: Sequence[Sequence[float]], other: Sequence[Sequence[float]]) -> dict | None:
    """Speed-up of `other` over `baseline` from rounds timed side by side: the median over rounds of
    (baseline's round median / other's round median), with its 95% interval. None with no common round."""
    ratios = [statistics.median(b) / statistics.median(o) for b, o in zip(baseline, other) if b and o and statistics.median(o) > 0]
    if not ratios:
        return None
    interval = median_interval(ratios, INTERVAL_LEVEL)
    return {"ratio": statistics.median(ratios), "interval": list(interval) if interval else None, "rounds": len(ratios),
            "level": INTERVAL_LEVEL}
