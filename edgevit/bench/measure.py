"""Timing one job: load, first inference, steady-state latency, throughput and peak RSS, in its own process.

Every sample is kept, none clipped. The measurement runs in a spawned child so its peak RSS belongs
to that artifact alone; a crash, a hang or the OOM killer in the child becomes a "failed" result.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback

import numpy as np

from edgevit.bench.options import CPU
from edgevit.bench.runtimes import RunnerFactory, import_runtime_package
from edgevit.bench.targets import Job
from edgevit.portable.machine import peak_rss_bytes
from edgevit.portable.timing import DEFAULT_CLOCK, Clock, latency_block, throughput_entry, time_calls, time_once
from edgevit.runners.options import RuntimeUnavailable
from edgevit.records import STATUS_FAILED, STATUS_NOT_AVAILABLE, STATUS_OK

MEMORY_SCOPE_ISOLATED = "own process per measurement (spawned child)"
MEMORY_SCOPE_SHARED = "the bench process (not isolated: includes earlier measurements)"


def measure(job: Job, factory: RunnerFactory, *, clock: Clock = DEFAULT_CLOCK, scope: str = MEMORY_SCOPE_ISOLATED) -> dict:
    """Load, first inference, steady-state latency, throughput and peak RSS of one job; never raises."""
    import psutil

    opts = job.options
    result: dict = {"status": STATUS_OK, "reason": None, "runtime": None, "load_ms": None, "first_inference_ms": None,
                    "latency": None, "throughput": [], "memory": None}
    import_ms = import_runtime_package(job.runtime, clock)
    rss_before = int(psutil.Process().memory_info().rss)
    try:
        runner, result["load_ms"] = time_once(
            lambda: factory(job.target, runtime=job.runtime, device=job.device, threads=job.threads), clock=clock)
    except RuntimeUnavailable as exc:
        return {**result, "status": STATUS_NOT_AVAILABLE, "reason": str(exc) or "runtime not available", "load_ms": None}
    except Exception as exc:
        return {**result, "status": STATUS_FAILED, "reason": f"load failed: {_one_line(exc)}", "load_ms": None}
    try:
        info = runner.info
        if info.emulated:  # an interpreter standing in for a runtime: its speed is nobody's latency
            return {**result, "status": STATUS_NOT_AVAILABLE, "load_ms": None,
                    "reason": f"{info.runtime} emulates the runtime for parity only, so its latency is not measured; "
                              "measure on the real runtime (device harness, iOS app)"}
        if info.device != job.device:  # e.g. ONNX Runtime falling back to the CPU when CUDA cannot start
            return {**result, "status": STATUS_NOT_AVAILABLE, "load_ms": None,
                    "reason": f"{job.runtime} was asked for {job.device} but runs on {info.device}"}
        details = {**info.details, **({"import_ms": import_ms} if import_ms is not None else {}), **_load_average()}
        result["runtime"] = {"name": info.runtime, "version": info.version, "device": info.device, "threads": info.threads,
                             "emulated": bool(info.emulated), "details": details}
        one = _bench_inputs(_input_shape(job), 1, opts.seed)
        output, result["first_inference_ms"] = time_once(lambda: runner.predict(one), clock=clock)
        num_classes = len(job.target.labels)
        if np.shape(output) != (1, num_classes):
            raise ValueError(f"predict returned shape {np.shape(output)}, expected (1, {num_classes})")
        samples = time_calls(lambda: runner.predict(one), warmup=opts.warmup, runs=opts.runs, clock=clock)
        result["latency"] = latency_block(samples, batch=1, warmup=opts.warmup)
        result["throughput"] = [throughput_entry(samples, batch=1, warmup=opts.warmup), _batched(runner, job, clock)]
        result["memory"] = {"peak_rss_bytes": peak_rss_bytes(), "rss_before_load_bytes": rss_before, "scope": scope}
    except Exception as exc:
        result.update(status=STATUS_FAILED, reason=f"inference failed: {_one_line(exc)}")
    finally:
        try:
            runner.close()
        except Exception:  # closing must not turn a measurement into a failure
            pass
    return result


def measure_isolated(job: Job, factory: RunnerFactory) -> dict:
    """`measure` in a spawned child process, so its peak RSS covers this artifact only."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_child_main, args=(child, job, factory), daemon=True)
    process.start()
    child.close()
    try:
        if parent.poll(job.options.timeout_s):
            result = parent.recv()
        else:
            process.kill()
            result = {"status": STATUS_FAILED, "reason": f"measurement did not finish within {job.options.timeout_s:.0f} s; killed"}
    except EOFError:  # the child died without a word: killed by the OOM killer or a native crash
        process.join(5)
        code = process.exitcode
        why = " (SIGKILL: out of memory?)" if code == -9 else ""
        result = {"status": STATUS_FAILED, "reason": f"measurement process exited with code {code}{why}"}
    finally:
        process.join(30)
        parent.close()
    result.pop("traceback", None)
    return result


def _child_main(conn, job: Job, factory: RunnerFactory) -> None:
    from edgevit.console import configure_from_environment

    configure_from_environment()  # a spawned process: the CLI's verbosity and third-party noise filter again
    if job.device == CPU:
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"  # a CPU measurement must not be able to reach a GPU
    try:
        conn.send(measure(job, factory))
    except BaseException as exc:  # anything escaping measure() is reported, not lost with the process
        conn.send({"status": STATUS_FAILED, "reason": f"bench child crashed: {_one_line(exc)}",
                   "traceback": traceback.format_exc()})
    finally:
        conn.close()


def _batched(runner, job: Job, clock: Clock) -> dict:
    opts = job.options
    entry = {"batch": opts.batch, "warmup": opts.batch_warmup, "runs": opts.batch_runs, "images_per_second": 0.0,
             "batch_p50_ms": 0.0}
    fixed = _input_shape(job)[0]
    if isinstance(fixed, int) and fixed != opts.batch:
        return {**entry, "status": STATUS_NOT_AVAILABLE, "reason": f"the artifact's input has a fixed batch of {fixed}"}
    images = _bench_inputs(_input_shape(job), opts.batch, opts.seed)
    try:
        samples = time_calls(lambda: runner.predict(images), warmup=opts.batch_warmup, runs=opts.batch_runs, clock=clock)
    except Exception as exc:
        return {**entry, "status": STATUS_FAILED, "reason": f"batch {opts.batch} failed: {_one_line(exc)}"}
    return throughput_entry(samples, batch=opts.batch, warmup=opts.batch_warmup)


def _input_shape(job: Job) -> list:
    """[batch, H, W, C] as the manifest states it; batch is None unless the artifact fixes it."""
    return list(job.target.manifest["input"]["shape"])


def _bench_inputs(shape: list, batch: int, seed: int) -> np.ndarray:
    """Deterministic inputs in the preprocessed range [-1, 1]; the values do not change the work done."""
    height, width, channels = (int(v) for v in shape[1:])
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, size=(batch, height, width, channels)).astype(np.float32)


def _load_average() -> dict:
    """The 1-minute load average as the measurement starts: other work on the machine inflates latencies."""
    try:
        return {"load_average_1m": round(os.getloadavg()[0], 2)}
    except (AttributeError, OSError):  # not on every OS
        return {}


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
