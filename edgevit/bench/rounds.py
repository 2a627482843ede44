"""Comparable jobs (one device, one thread count) timed in interleaved rounds: A B C, B C A, C A B, ...

Every session is opened first (load, first inference, warm-up until settled, one after the other so no
load competes with another), then each round gives every live session `runs / rounds` timed calls, the
order rotated each round so no artifact always follows the same one. A GEMM probe runs in this process
just before each chunk (bench.stability). Then each session finishes (batched throughput, memory) and
closes. The result of each job carries its batch-1 samples by round, for the latency block, the
disturbance flag and the paired speed-ups.
"""

from __future__ import annotations

from typing import Callable

from edgevit.bench.measure import MEMORY_SCOPE_SHARED, Session, WorkerSession
from edgevit.bench.options import CPU, BenchOptions
from edgevit.bench.runtimes import RunnerFactory
from edgevit.bench.stability import gemm_probe
from edgevit.bench.targets import Job
from edgevit.portable.timing import Clock
from edgevit.records import STATUS_NOT_AVAILABLE, STATUS_OK


def round_sizes(runs: int, rounds: int) -> list[int]:
    """`runs` split over `rounds` as evenly as possible (the first rounds take the remainder)."""
    rounds = min(rounds, runs)
    base, extra = divmod(runs, rounds)
    return [base + (1 if r < extra else 0) for r in range(rounds)]


def run_group(jobs: list[Job], factory: RunnerFactory, options: BenchOptions, *, clock: Clock,
              unavailable: dict[tuple[str, str], str], not_available_here: Callable[[Job], str | None],
              on_round: Callable[[int, int], None] | None = None) -> list[dict]:
    """One result per job, in order: the session's result plus "rounds" (batch-1 samples per round) and "probes"."""
    sessions: list = []
    results: list[dict | None] = []
    for job in jobs:
        reason = unavailable.get((job.runtime, job.device)) or not_available_here(job)
        if reason:
            sessions.append(None)
            results.append({"status": STATUS_NOT_AVAILABLE, "reason": reason, "runtime": None})
            continue
        session = WorkerSession(job, factory) if options.isolate else Session(job, factory, clock=clock, scope=MEMORY_SCOPE_SHARED)
        opened = session.open()
        if opened["status"] == STATUS_NOT_AVAILABLE:
            unavailable[(job.runtime, job.device)] = opened["reason"]
        sessions.append(session)
        results.append(None)
    threads = jobs[0].threads if jobs else None
    probe = gemm_probe(threads, options.probe_n) if options.probe_n and jobs and jobs[0].device == CPU else None
    chunks: dict[int, list[list[float]]] = {i: [] for i, s in enumerate(sessions) if s is not None}
    probes: dict[int, list[float | None]] = {i: [] for i in chunks}
    live = list(chunks)
    for r, size in enumerate(round_sizes(options.runs, options.rounds)):
        if on_round:
            on_round(r, min(options.rounds, options.runs))
        for i in live[r % len(live):] + live[:r % len(live)] if live else []:
            if not sessions[i].ok:
                continue
            probes[i].append(probe() if probe else None)
            chunks[i].append(sessions[i].chunk(size))
    for i in chunks:
        result = sessions[i].finish()
        if result["status"] == STATUS_OK:
            result["rounds"], result["probes"] = chunks[i], probes[i]
        results[i] = result
    return results
