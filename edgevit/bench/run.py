"""Latency, memory, size and efficiency of every artifact, on every runtime, in one comparable run.

For each artifact x runtime x device x thread count (bench.targets), one measurement runs in its own
child process (bench.measure): load time, first-inference time, `runs` timed batch-1 calls after
`warmup` untimed ones, throughput at batch 1 and at a larger batch, peak RSS. The machine's float32
and int8 GEMM peaks (bench.peak) are measured in the same run at each thread count, and each
artifact's achieved GFLOP/s is set against them (bench.compute). A runtime or device this machine
lacks gives a record with status "not available" and the reason: nothing is skipped silently.
Returns records (edgevit.records, made by bench.records); prints nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from edgevit.artifact import Artifact
from edgevit.bench.compute import compute_block
from edgevit.bench.rounds import run_group
from edgevit.bench.stability import INTERVAL_LEVEL, ROUND_WARMUP, paired_ratio, p50_interval, quiet_probe, stability_block
from edgevit.bench.options import GPU, BenchOptions
from edgevit.bench.peak import best_bandwidths, best_peaks, flag_falling_peaks
from edgevit.bench.records import bandwidth_records, bench_record, parity_for, peak_records, unmeasured_record
from edgevit.bench.runtimes import RunnerFactory, open_registered_runner, runtimes_for
from edgevit.bench.targets import (EXPORT_INDEX, NO_RUNTIME, Job, artifact_targets, export_failures, jobs,
                                   missing_artifacts, saved_model_target, target_name)
from edgevit.errors import DataError
from edgevit.portable.machine import fingerprint as machine_fingerprint
from edgevit.manifest import tool_versions
from edgevit.formats import REFERENCE_FORMAT
from edgevit.portable.timing import DEFAULT_CLOCK, Clock, latency_block, throughput_entry
from edgevit.records import STATUS_FAILED, STATUS_OK

P99_MIN_SAMPLES = 100  # under 100 samples the "p99" is the largest one or two: not reported


def bench_artifacts(
    artifacts_dir: Path | str | None = None,
    *,
    saved_model: Path | str | None = None,
    options: BenchOptions = BenchOptions(),
    verify_records: Iterable[dict] = (),
    factory: RunnerFactory = open_registered_runner,
    runtimes: Callable[[Artifact], list[str]] = runtimes_for,
    clock: Clock = DEFAULT_CLOCK,
    command: str | None = None,
    progress: Callable[[dict], None] | None = None,
    on_round: Callable[[int, int], None] | None = None,
) -> list[dict]:
    """Peak records, one bench record per artifact x runtime x device x thread count, and the peaks again.

    The GEMM peak is measured before and after the artifacts; compute blocks use the best of both.
    `verify_records` (kind "verify", from `edgevit verify`) attach each artifact's parity result.
    `factory` opens a runner and `runtimes` lists the runtimes of a target (defaults: edgevit.runners).
    `progress`, when given, is called with each record as it is made (the CLI prints a line); `on_round(r, rounds)`
    before each interleaved round of a group (a progress line; tests start a load there).
    With `options.isolate` False, measurements run in this process with `clock` (tests use a fake one).
    """
    options = options.check()
    targets, failures = [saved_model_target(saved_model)] if saved_model else [], []
    missing: list[str] = []
    if artifacts_dir:
        opened, broken = artifact_targets(artifacts_dir)
        targets += opened
        failures += export_failures(artifacts_dir) + broken
        missing = missing_artifacts(artifacts_dir)
    if not targets and not failures:
        where = artifacts_dir or saved_model
        if missing:  # the index promised artifacts and none is left: nothing to measure is an error, not a warning
            raise DataError(f"{where}: no artifacts to bench; {EXPORT_INDEX} lists {', '.join(missing)} but their folders "
                            "are missing; run `edgevit export` again")
        raise DataError(f"{where}: no artifacts to bench (no folder with a manifest.json of kind 'artifact'); run `edgevit export` first")
    machine, versions = machine_fingerprint(), tool_versions()
    verify_records = list(verify_records)
    records = peak_records(options, machine=machine, versions=versions, command=command)
    records += bandwidth_records(options, machine=machine, versions=versions, command=command)
    records += [unmeasured_record(failure, machine=machine, versions=versions, command=command) for failure in failures]
    for record in records:
        if progress:
            progress(record)
    peaks, bandwidths = best_peaks(records), best_bandwidths(records)
    # "Not available" belongs to a runtime on a device (Core ML off macOS, no CUDA provider, an emulator),
    # not to one artifact: found once, it is recorded for the other artifacts without reopening anything.
    unavailable: dict[tuple[str, str], str] = {}
    for group in job_groups(jobs(targets, options, runtimes)):
        results = run_group(group, factory, options, clock=clock, unavailable=unavailable,
                            not_available_here=lambda job: _not_available_here(job, machine), on_round=on_round)
        results = with_latency(group, results, options)
        for job, result in zip(group, results):
            record = bench_record(job, result, machine=machine, versions=versions, peaks=peaks, bandwidths=bandwidths,
                                  parity=parity_for(job, verify_records), command=command)
            records.append(record)
            if progress:
                progress(record)
    # The peak again, now that the artifacts ran: on a shared machine either moment may be the quieter one,
    # and the limit is the best of both. Every compute block is then held against that final best.
    final_peaks = peak_records(options, machine=machine, versions=versions, command=command)
    for record in final_peaks:
        if progress:
            progress(record)
    records += final_peaks
    flag_falling_peaks(records)
    peaks = best_peaks(records)
    for record in records:
        if record["kind"] == "bench" and record["compute"] is not None:
            record["compute"] = compute_block(record["model"], record, dtype=record["compute"]["peak_dtype"], peaks=peaks,
                                              threads=record["runtime"]["threads"], bandwidths=bandwidths,
                                              weight_bytes=record["artifact"].get("file_size"))
    return records


def job_groups(all_jobs) -> list[list[Job]]:
    """Jobs that are compared with each other (one device, one thread count), interleaved together; in first-seen order."""
    groups: dict[tuple[str, int | None], list[Job]] = {}
    for job in all_jobs:
        groups.setdefault((job.device, job.threads), []).append(job)
    return list(groups.values())


def with_latency(group: list[Job], results: list[dict], options: BenchOptions) -> list[dict]:
    """Each ok result gets its latency block (every sample, the p50 interval, the stability evidence and flag),
    its batch-1 throughput from those steady-state samples, and its speed-up over the group's SavedModel,
    paired round by round."""
    rounds_of = {i: r.pop("rounds", None) for i, r in enumerate(results)}
    probes_of = {i: r.pop("probes", []) for i, r in enumerate(results)}
    quiet = quiet_probe([p for i, r in enumerate(results) if r.get("status") == STATUS_OK for p in probes_of[i]])
    for i, result in enumerate(results):
        rounds = rounds_of[i] or []
        if result.get("status") != STATUS_OK:
            continue
        samples = [s for chunk in rounds for s in chunk]
        if not samples:  # every chunk failed: the session says why
            result.update(status=STATUS_FAILED, reason=result.get("reason") or "no batch-1 sample was timed")
            continue
        warm = result.pop("warmup", None) or {}
        latency = latency_block(samples, batch=1, warmup=warm.get("calls", 0), p99_min_samples=P99_MIN_SAMPLES)
        latency.update(
            warmup_ms=warm.get("ms"), warmup_settled=warm.get("settled"),
            rounds=len(rounds), round_runs=[len(chunk) for chunk in rounds], round_warmup=ROUND_WARMUP,
            p50_interval_ms=p50_interval(samples), interval_level=INTERVAL_LEVEL,
            stability=stability_block(rounds, probes_of[i], quiet=quiet, warmup_settled=warm.get("settled")),
        )
        result["latency"] = latency
        result["throughput"] = [throughput_entry(samples, batch=1, warmup=latency["warmup"]), *result.get("throughput", [])]
    base = next((i for i, (job, r) in enumerate(zip(group, results))
                 if job.target.format == REFERENCE_FORMAT and not job.settings and r.get("latency")), None)
    if base is not None:
        for i, result in enumerate(results):
            if result.get("latency"):
                speedup = paired_ratio(rounds_of[base], rounds_of[i])
                if speedup:
                    result["latency"]["speedup"] = {"baseline": target_name(group[base].target), **speedup}
    return results


def _not_available_here(job: Job, machine: dict) -> str | None:
    """Why `job` cannot run on this machine at all, found without opening anything; None when it may."""
    if job.runtime == NO_RUNTIME:
        return f"no runner for format {job.target.format} in edgevit.runners"
    if job.device == GPU and not any(a["kind"] == "gpu" for a in machine["accelerators"]):
        return "no GPU on this machine (nvidia-smi lists none), so no GPU runtime can run"
    return None
