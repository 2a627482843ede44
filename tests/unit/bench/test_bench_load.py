"""A busy loop on the measuring core half-way through a bench: the records say "disturbed", and the paired,
interleaved speed-up stays where it was without the load. Plus the stability rules on known samples."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

import pytest

from edgevit.bench import run as bench_mod
from edgevit.bench.options import BenchOptions
from edgevit.bench.run import bench_artifacts
from edgevit.bench import rounds as rounds_mod
from edgevit.bench.stability import gemm_probe, paired_ratio, stability_block
from edgevit.portable.timing import median_interval, settle
from edgevit.records import validate_record
from edgevit.runners.base import RunnerInfo

from helpers.bench import NO_GPU_MACHINE, NUM_CLASSES, FakeClock, fake_runtimes, write_fake_artifact
from helpers.savedmodel import write_fake_savedmodel

import numpy as np

# Pure-Python work, single-threaded and cache-resident: its time is CPU share and nothing else. Calls of tens of
# milliseconds, so the scheduler's time slices (a few ms) average out within one call under a competing loop.
SPIN = {"savedmodel": 500_000, "fast": 250_000}  # the unloaded speed-up is about 2x


class SpinningRunner:
    def __init__(self, iterations: int, threads):
        self.iterations = iterations
        self.info = RunnerInfo(runtime="fake-spin", version="0.0", device="cpu", threads=threads)

    def predict(self, images):
        total = 0
        for i in range(self.iterations):
            total += i
        return np.full((len(images), NUM_CLASSES), 1 / NUM_CLASSES, np.float32)

    def close(self):
        pass


def spinning_factory(target, *, runtime, device, threads):
    return SpinningRunner(SPIN[bench_mod.target_name(target)], threads)


def _bench(root, *, on_round=None):
    options = BenchOptions(threads=(1,), runs=30, rounds=30, warmup=2, warmup_min_s=0.05, warmup_max_s=3.0, batch=2, batch_runs=1,
                           batch_warmup=0, devices=("cpu",), isolate=False, peak_n=64, peak_runs=1, peak_warmup=0,
                           bandwidth_mib=1)
    records = bench_artifacts(root / "artifacts", saved_model=root / "saved_model", options=options, factory=spinning_factory,
                              runtimes=lambda target: ["fake"], on_round=on_round)
    return {r["artifact"]["name"]: r for r in records if r["kind"] == "bench"}


@pytest.fixture
def one_core(monkeypatch):
    """This process (and what it starts) on one core, so a busy loop on that core competes with the measurement."""
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("needs os.sched_setaffinity (Linux)")
    monkeypatch.setattr(bench_mod, "machine_fingerprint", lambda: NO_GPU_MACHINE)
    # The probe's settling sleep (for other workers' spinning threads: none here, the sessions run in this process)
    # would earn this process the scheduler's sleeper credit before every round, so the loop would take less than
    # its half of the core: the second half ran only 1.23-1.28x slower in two of five runs here, 1.88-1.96x without it.
    monkeypatch.setattr(rounds_mod, "gemm_probe", lambda threads, n: gemm_probe(threads, n, settle_s=0.0))
    before = os.sched_getaffinity(0)
    core = min(before)
    os.sched_setaffinity(0, {core})
    yield core
    os.sched_setaffinity(0, before)


def test_a_busy_loop_half_way_is_flagged_and_the_paired_speedup_holds(tmp_path, one_core):
    write_fake_savedmodel(tmp_path / "saved_model")
    write_fake_artifact(tmp_path / "artifacts", "fast")
    quiet = _bench(tmp_path)
    loop: list[subprocess.Popen] = []

    def start_load(r, rounds):  # the second half of the rounds runs against a busy loop on the same core
        if r == rounds // 2 and not loop:
            loop.append(subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                         preexec_fn=lambda: os.sched_setaffinity(0, {one_core})))
            time.sleep(0.05)  # let it start spinning before the round begins

    try:
        loaded = _bench(tmp_path, on_round=start_load)
    finally:
        for process in loop:
            process.kill()
            process.wait()
    assert loop, "the load was never started"
    for name, record in loaded.items():
        assert record["status"] == "ok", record["reason"]
        assert validate_record(record) == []
        stability = record["latency"]["stability"]
        assert stability["disturbed"] is True, (name, stability)
        assert any(reason.startswith("trend") for reason in stability["reasons"]), stability["reasons"]
        assert stability["trend"] > 1.3, stability["trend"]  # the second half shared its core
    quiet_ratio = quiet["fast"]["latency"]["speedup"]["ratio"]
    loaded_ratio = loaded["fast"]["latency"]["speedup"]["ratio"]
    assert 1.3 < quiet_ratio < 3.0  # twice the iterations, about twice the time (other work shares the core too)
    print(f"speed-up quiet {quiet_ratio:.3f}, loaded {loaded_ratio:.3f}")
    assert abs(loaded_ratio / quiet_ratio - 1) <= 0.15, (quiet_ratio, loaded_ratio)
    assert loaded["fast"]["latency"]["speedup"]["baseline"] == "savedmodel"
    assert loaded["fast"]["latency"]["speedup"]["rounds"] == 30


def test_stability_rules_on_known_samples():
    steady = [[10.0, 10.1, 9.9]] * 10
    block = stability_block(steady, [50.0] * 10, quiet=50.0, warmup_settled=True)
    assert block["disturbed"] is False and block["reasons"] == []
    step = [[10.0, 10.1, 9.9]] * 5 + [[15.0, 15.2, 14.8]] * 5
    block = stability_block(step, [50.0] * 5 + [30.0] * 5, quiet=50.0, warmup_settled=True)
    assert block["disturbed"] is True
    assert {reason.split(":")[0] for reason in block["reasons"]} == {"trend", "rounds", "probe"}
    assert block["probe_low_rounds"] == 5 and block["trend"] == pytest.approx(1.5)
    spread = [[10.0, 10.0, 10.0, 10.0, 30.0]] * 4
    block = stability_block(spread, [None] * 4, quiet=None, warmup_settled=False)
    assert {reason.split(":")[0] for reason in block["reasons"]} == {"spread", "warm-up"}


def test_paired_ratio_survives_drift_that_a_sequential_ratio_does_not():
    # Round r runs 1 + r/5 times slower (drift): both artifacts see it in the same round.
    drift = [1 + r / 5 for r in range(10)]
    base = [[4.0 * d] * 3 for d in drift]
    fast = [[2.0 * d] * 3 for d in drift]
    paired = paired_ratio(base, fast)
    assert paired["ratio"] == pytest.approx(2.0) and paired["interval"] == [pytest.approx(2.0), pytest.approx(2.0)]
    # Timed one after the other instead, the baseline in the quiet first half and the other in the second:
    sequential = statistics.median(s for c in base[:5] for s in c) / statistics.median(s for c in fast[5:] for s in c)
    assert abs(sequential / 2.0 - 1) > 0.3


def test_median_interval_covers_as_promised_and_settle_stops_when_steady():
    rng = np.random.default_rng(0)
    hits = sum(lo <= np.log(2) <= hi for lo, hi in (median_interval(rng.exponential(size=30)) for _ in range(2000)))
    assert 0.94 <= hits / 2000 <= 0.995
    assert median_interval([1.0, 2.0, 3.0, 4.0, 5.0]) is None  # 5 samples cannot give 95%
    clock = FakeClock()
    script = iter([50.0, 30.0, 20.0] + [10.0] * 20)
    warm = settle(lambda: clock.advance_ms(next(script)), min_calls=2, min_ms=0.0, max_ms=1e6, clock=clock)
    assert warm["settled"] and warm["calls"] == 11  # medians: the earlier window [30, 20, 10, 10, 10] is already at 10
