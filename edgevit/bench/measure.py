"""One measured job as a session: open (load, first inference, warm-up until settled), timed chunks, finish.

The bench interleaves the sessions of comparable jobs in rounds (bench.rounds): A B C A B C ..., so drift
on a shared machine spreads over every artifact instead of landing on whichever ran last. A session runs
in a spawned worker process (`WorkerSession`) so its peak RSS belongs to that artifact alone and a crash,
a hang or the OOM killer in it becomes a "failed" result; `Session` is the same in this process (tests).

Every sample is kept, none clipped. Memory is split into what the process holds before the runtime is
imported, what importing the runtime adds, and what the model adds: the peak through loading and the
batch-1 calls, reset (Linux: /proc/self/clear_refs) before the batched run, whose peak is kept apart.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback

import numpy as np

from edgevit.bench.options import CPU
from edgevit.bench.runtimes import RunnerFactory, import_runtime_package
from edgevit.bench.targets import Job
from edgevit.bench.stability import ROUND_WARMUP
from edgevit.portable.machine import current_rss_bytes, peak_rss_bytes, reset_peak_rss
from edgevit.portable.timing import DEFAULT_CLOCK, Clock, settle, throughput_entry, time_calls, time_once
from edgevit.runners.options import PROCESS_SETTINGS, RuntimeUnavailable
from edgevit.records import STATUS_FAILED, STATUS_NOT_AVAILABLE, STATUS_OK

MEMORY_SCOPE_ISOLATED = "own process per measurement (spawned child)"
MEMORY_SCOPE_SHARED = "the bench process (not isolated: includes earlier measurements)"


class Session:
    """One job measured in this process. `open()` then `chunk(k)` any number of times, then `finish()`; never raises."""

    def __init__(self, job: Job, factory: RunnerFactory, *, clock: Clock = DEFAULT_CLOCK, scope: str = MEMORY_SCOPE_SHARED):
        self.job, self.factory, self.clock, self.scope = job, factory, clock, scope
        self.runner = None
        self.result: dict = {"status": STATUS_OK, "reason": None, "runtime": None, "load_ms": None, "first_inference_ms": None,
                             "warmup": None, "throughput": [], "memory": None}
        self._one = None
        self._rss_start = current_rss_bytes()

    @property
    def ok(self) -> bool:
        return self.result["status"] == STATUS_OK

    def open(self) -> dict:
        """Import, load, first inference, the output check and the warm-up; the result so far."""
        import psutil

        job, result = self.job, self.result
        settings = dict(job.settings)
        for key, variable in PROCESS_SETTINGS.items():  # read once, at the runtime's import: set before it
            if key in settings:
                os.environ[variable] = "1" if settings.pop(key) else "0"
        import_ms = import_runtime_package(job.runtime, self.clock)
        rss_before = int(psutil.Process().memory_info().rss)
        try:
            extra = {"settings": settings} if settings else {}  # test factories take no settings
            self.runner, result["load_ms"] = time_once(
                lambda: self.factory(job.target, runtime=job.runtime, device=job.device, threads=job.threads, **extra),
                clock=self.clock)
        except RuntimeUnavailable as exc:
            return self._stop(STATUS_NOT_AVAILABLE, str(exc) or "runtime not available", load_ms=None)
        except Exception as exc:
            return self._stop(STATUS_FAILED, f"load failed: {_one_line(exc)}", load_ms=None)
        try:
            info = self.runner.info
            if info.emulated:  # an interpreter standing in for a runtime: its speed is nobody's latency
                return self._stop(STATUS_NOT_AVAILABLE, f"{info.runtime} emulates the runtime for parity only, so its latency is "
                                  "not measured; measure on the real runtime (device harness, iOS app)", load_ms=None)
            if info.device != job.device:  # e.g. ONNX Runtime falling back to the CPU when CUDA cannot start
                return self._stop(STATUS_NOT_AVAILABLE, f"{job.runtime} was asked for {job.device} but runs on {info.device}",
                                  load_ms=None)
            details = {**info.details, **({"import_ms": import_ms} if import_ms is not None else {}), **_load_average(),
                       **({"settings": dict(job.settings)} if job.settings else {})}
            result["runtime"] = {"name": info.runtime, "version": info.version, "device": info.device, "threads": info.threads,
                                 "emulated": bool(info.emulated), "details": details}
            result["memory"] = {"rss_at_start_bytes": self._rss_start, "rss_before_load_bytes": rss_before, "scope": self.scope}
            self._one = _bench_inputs(_input_shape(job), 1, job.options.seed)
            output, result["first_inference_ms"] = time_once(lambda: self.runner.predict(self._one), clock=self.clock)
            num_classes = len(job.target.labels)
            if np.shape(output) != (1, num_classes):
                raise ValueError(f"predict returned shape {np.shape(output)}, expected (1, {num_classes})")
            opts = job.options
            warm = settle(lambda: self.runner.predict(self._one), min_calls=opts.warmup, min_ms=opts.warmup_min_s * 1e3,
                          max_ms=opts.warmup_max_s * 1e3, clock=self.clock)
            result["warmup"] = {"calls": warm["calls"], "ms": warm["ms"], "settled": warm["settled"]}
        except Exception as exc:
            return self._stop(STATUS_FAILED, f"inference failed: {_one_line(exc)}")
        return dict(result)

    def chunk(self, runs: int) -> list[float]:
        """`runs` timed batch-1 calls, in ms; [] once the session has failed (its result says why)."""
        if not self.ok:
            return []
        try:
            return time_calls(lambda: self.runner.predict(self._one), warmup=ROUND_WARMUP, runs=runs, clock=self.clock)
        except Exception as exc:
            self._stop(STATUS_FAILED, f"inference failed: {_one_line(exc)}")
            return []

    def finish(self) -> dict:
        """The batch-1 memory peak, then the batched throughput with its own peak; closes the runner."""
        if self.ok:
            memory = self.result["memory"]
            memory["batch1_peak_rss_bytes"] = peak_rss_bytes()
            before = memory["rss_before_load_bytes"]
            memory["model_bytes"] = max(0, memory["batch1_peak_rss_bytes"] - before) if memory["batch1_peak_rss_bytes"] else None
            memory["runtime_import_bytes"] = before - memory["rss_at_start_bytes"] if memory["rss_at_start_bytes"] else None
            memory["peak_reset"] = reset_peak_rss()
            try:
                self.result["throughput"] = [_batched(self.runner, self.job, self.clock)]
            except Exception as exc:
                self._stop(STATUS_FAILED, f"inference failed: {_one_line(exc)}")
            memory["batched_peak_rss_bytes"] = peak_rss_bytes() if memory["peak_reset"] else None
            memory["peak_rss_bytes"] = max(v for v in (memory["batch1_peak_rss_bytes"], memory["batched_peak_rss_bytes"], 0)
                                           if v is not None)
        self.close()
        return dict(self.result)

    def close(self) -> None:
        if self.runner is not None:
            try:
                self.runner.close()
            except Exception:  # closing must not turn a measurement into a failure
                pass
            self.runner = None

    def _stop(self, status: str, reason: str, **fields) -> dict:
        self.result.update(status=status, reason=reason, memory=None, **fields)  # a failed measurement has no memory figure
        self.close()
        return dict(self.result)


class WorkerSession:
    """A `Session` in its own spawned process, driven over a pipe; a crash or hang there becomes "failed"."""

    def __init__(self, job: Job, factory: RunnerFactory):
        self.job = job
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe(duplex=True)
        self._process = context.Process(target=_worker_main, args=(child, job, factory), daemon=True)
        self._process.start()
        child.close()
        self.result: dict = {"status": STATUS_OK, "reason": None}

    @property
    def ok(self) -> bool:
        return self.result["status"] == STATUS_OK

    def _ask(self, *message):
        if not self.ok:
            return None
        timeout = self.job.options.timeout_s
        try:
            self._conn.send(message)
            if self._conn.poll(timeout):
                return self._conn.recv()
            self._process.kill()
            self.result = {"status": STATUS_FAILED, "reason": f"measurement did not finish within {timeout:.0f} s; killed"}
        except (EOFError, BrokenPipeError, ConnectionResetError):  # the child died: OOM killer or a native crash
            self._process.join(5)
            code = self._process.exitcode
            why = " (SIGKILL: out of memory?)" if code == -9 else ""
            self.result = {"status": STATUS_FAILED, "reason": f"measurement process exited with code {code}{why}"}
        return None

    def open(self) -> dict:
        reply = self._ask("open")
        if reply is not None:
            self.result = reply
        return dict(self.result)

    def chunk(self, runs: int) -> list[float]:
        reply = self._ask("chunk", runs)
        if reply is None:
            return []
        samples, result = reply
        self.result = result
        return samples

    def finish(self) -> dict:
        reply = self._ask("finish")
        if reply is not None:
            self.result = reply
        self.close()
        return dict(self.result)

    def close(self) -> None:
        try:
            if self._process.is_alive():
                try:
                    self._conn.send(("close",))
                except (BrokenPipeError, OSError):
                    pass
                self._process.join(30)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)
        finally:
            self._conn.close()
        self.result.pop("traceback", None)


def _worker_main(conn, job: Job, factory: RunnerFactory) -> None:
    from edgevit.console import configure_from_environment

    configure_from_environment()  # a spawned process: the CLI's verbosity and third-party noise filter again
    if job.device == CPU:
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"  # a CPU measurement must not be able to reach a GPU
    session = Session(job, factory, scope=MEMORY_SCOPE_ISOLATED)
    try:
        while True:
            message = conn.recv()
            if message[0] == "open":
                conn.send(session.open())
            elif message[0] == "chunk":
                samples = session.chunk(message[1])
                conn.send((samples, dict(session.result)))
            elif message[0] == "finish":
                conn.send(session.finish())
            else:
                break
    except EOFError:  # the parent went away
        pass
    except BaseException as exc:  # anything escaping the session is reported, not lost with the process
        conn.send({"status": STATUS_FAILED, "reason": f"bench child crashed: {_one_line(exc)}", "traceback": traceback.format_exc()})
    finally:
        session.close()
        conn.close()


def _batched(runner, job: Job, clock: Clock) -> dict:
    opts = job.options
    entry = {"batch": opts.batch, "warmup": opts.batch_warmup, "runs": opts.batch_runs, "images_per_second": 0.0,
             "batch_p50_ms": 0.0}
    fixed = _input_shape(job)[0]
    if isinstance(fixed, int) and fixed != opts.batch:
        return {**entry, "status": STATUS_NOT_AVAILABLE, "reason": f"the artifact's input has a fixed batch of {fixed}"}
    per_call = runner.info.details.get("batch_per_call")
    if per_call is not None and per_call != opts.batch:  # e.g. LiteRT's weight-cache path: a batch would be single calls
        return {**entry, "status": STATUS_NOT_AVAILABLE,
                "reason": f"this runner runs {per_call} image(s) per call, so batch {opts.batch} would time separate calls"}
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
