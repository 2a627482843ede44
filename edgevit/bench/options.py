"""What `edgevit bench` measures and for how long: devices, thread counts, runs; checked like CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass

from edgevit.bench.peak import DEFAULT_N
from edgevit.errors import UsageError

MIN_PEAK_N = 64  # a smaller GEMM is over before the clock can time it

CPU, GPU = "cpu", "gpu"
DEVICES = (CPU, GPU)
THREADS_PER_CORE = 4  # beyond 4 threads a core, a runtime only measures its own contention


def max_threads() -> int:
    """The largest --threads count worth measuring on this machine: cores x THREADS_PER_CORE."""
    return (os.cpu_count() or 1) * THREADS_PER_CORE


def check_thread_count(count: int) -> int:
    """`count` if it is 1..max_threads(); UsageError otherwise (bench's and verify's --threads)."""
    if not 1 <= count <= max_threads():
        raise UsageError(f"--threads counts must be between 1 and {max_threads()} ({THREADS_PER_CORE} x this machine's "
                         f"{os.cpu_count() or 1} cores), got {count}")
    return count


@dataclass(frozen=True)
class BenchOptions:
    """What to measure and how long. `threads` entries are ints; "all" is resolved by `parse_threads`."""

    threads: tuple[int, ...] = (1, 2)
    runs: int = 50
    rounds: int = 10  # the batch-1 runs are split over this many interleaved rounds (at most one run each) of every comparable artifact
    warmup: int = 5  # at least this many warm-up calls; then more until the latency has settled
    warmup_min_s: float = 1.0  # at least this long warming up
    warmup_max_s: float = 60.0  # give up settling after this long (the record then says "not settled")
    batch: int = 8  # the larger batch for throughput (batch 1 is always measured)
    batch_runs: int = 10
    batch_warmup: int = 2
    devices: tuple[str, ...] = DEVICES
    isolate: bool = True  # each measurement in its own spawned process (peak RSS per artifact)
    peak_n: int = DEFAULT_N
    peak_runs: int = 10  # the peak is the fastest call: more calls, better odds on a shared machine
    peak_warmup: int = 2
    bandwidth_mib: int = 64  # per array of the memory-bandwidth triad (3 arrays; far past the last-level cache)
    probe_n: int = 256  # the GEMM probed before each round to see a busy machine; 0: no probe
    timeout_s: float | None = 3600.0  # per measurement; a hung runtime becomes a "failed" record
    seed: int = 0
    # Runtime settings measured as extra rows next to each runtime's defaults: (runtime, ((key, value), ...)) from
    # edgevit.runners.options.parse_setting, e.g. ("onnxruntime", (("graph_optimization", "basic"),)).
    settings: tuple[tuple[str, tuple], ...] = ()

    def check(self) -> "BenchOptions":
        if self.runs < 1:
            raise UsageError(f"--runs must be at least 1, got {self.runs}")
        if self.rounds < 1:
            raise UsageError(f"--rounds must be at least 1, got {self.rounds}")
        if self.warmup_min_s < 0 or self.warmup_max_s < self.warmup_min_s:
            raise UsageError(f"--warmup-max-s must be at least --warmup-min-s, got {self.warmup_min_s} and {self.warmup_max_s}")
        if self.batch_runs < 1:
            raise UsageError(f"--batch-runs must be at least 1, got {self.batch_runs}")
        if self.warmup < 0 or self.batch_warmup < 0:
            raise UsageError(f"--warmup must be 0 or more, got {self.warmup}")
        if self.batch < 2:
            raise UsageError(f"--batch is the larger throughput batch and must be at least 2, got {self.batch}")
        if not self.threads:
            raise UsageError("--threads needs at least one count (e.g. 1,2,all)")
        for count in self.threads:
            check_thread_count(count)
        if self.peak_n < MIN_PEAK_N:
            raise UsageError(f"--peak-n must be at least {MIN_PEAK_N}, got {self.peak_n}")
        unknown = [d for d in self.devices if d not in DEVICES]
        if unknown:
            raise UsageError(f"unknown device(s) {', '.join(unknown)}; known: {', '.join(DEVICES)}")
        return self


def parse_threads(text: str) -> tuple[int, ...]:
    """'1,2,all' -> (1, 2, os.cpu_count()), duplicates removed, order kept."""
    counts: list[int] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            count = (os.cpu_count() or 1) if part == "all" else int(part)
        except ValueError:
            raise UsageError(f"--threads takes counts or 'all' separated by commas (e.g. 1,2,all), got '{part}'") from None
        check_thread_count(count)
        if count not in counts:
            counts.append(count)
    if not counts:
        raise UsageError("--threads needs at least one count (e.g. 1,2,all)")
    return tuple(counts)
