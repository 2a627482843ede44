"""Latency, memory, size and efficiency of every artifact, on every runtime, in one comparable run.

For each artifact x runtime x device x thread count, one measurement runs in its own child process
(spawned, so peak RSS belongs to that artifact alone): load time, first-inference time, `runs` timed
batch-1 calls after `warmup` untimed ones (every sample kept, none clipped), throughput at batch 1 and
at a larger batch, peak RSS. The machine's float32 and int8 GEMM peaks are measured in the same run
at each thread count, and each artifact's achieved GFLOP/s (from the model's counted FLOPs) is set
against them. A runtime or device this machine lacks gives a record with status "not available" and
the reason: nothing is skipped silently. Returns records (edgevit.records); prints nothing.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import multiprocessing
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from edgevit.config import MANIFEST_NAME
from edgevit.portable.machine import peak_rss_bytes
from edgevit.portable.timing import DEFAULT_CLOCK, Clock, latency_block, throughput_entry, time_calls, time_once
from edgevit.errors import DataError, ModelError, UsageError
from edgevit.model_cost import model_block
from edgevit.fsutil import folder_size, sha256_file
from edgevit.machine import machine_fingerprint
from edgevit.manifest import read_manifest, tool_versions
from edgevit.bench.peak import BACKENDS, DEFAULT_N, best_peaks, measure_peak
from edgevit.runners.options import RuntimeUnavailable
from edgevit.records import STATUS_EXPORT_FAILED, STATUS_FAILED, STATUS_NOT_AVAILABLE, STATUS_OK, artifact_block, new_record

PRODUCER = "edgevit bench"
EXPORT_INDEX = "artifacts.json"  # written by `edgevit export` (exporters/jobs.py): every artifact tried, failed ones too
CPU, GPU = "cpu", "gpu"
DEVICES = (CPU, GPU)
MEMORY_SCOPE_ISOLATED = "own process per measurement (spawned child)"
MEMORY_SCOPE_SHARED = "the bench process (not isolated: includes earlier measurements)"
# Quantization modes whose matrix multiplies run in int8 (held against the int8 peak). Core ML's
# int8/palettized modes compress weights only and compute in float, so coreml never is.
INT8_COMPUTE = {"dynamic", "dynamic-range", "int8", "int8-dynamic", "full-int8"}


@dataclass(frozen=True)
class BenchOptions:
    """What to measure and how long. `threads` entries are ints; "all" is resolved by `parse_threads`."""

    threads: tuple[int, ...] = (1, 2)
    runs: int = 50
    warmup: int = 5
    batch: int = 8  # the larger batch for throughput (batch 1 is always measured)
    batch_runs: int = 10
    batch_warmup: int = 2
    devices: tuple[str, ...] = DEVICES
    isolate: bool = True  # each measurement in its own spawned process (peak RSS per artifact)
    peak_n: int = DEFAULT_N
    peak_runs: int = 10  # the peak is the fastest call: more calls, better odds on a shared machine
    peak_warmup: int = 2
    timeout_s: float | None = 3600.0  # per measurement; a hung runtime becomes a "failed" record
    seed: int = 0

    def check(self) -> "BenchOptions":
        if self.runs < 1:
            raise UsageError(f"--runs must be at least 1, got {self.runs}")
        if self.batch_runs < 1:
            raise UsageError(f"--batch-runs must be at least 1, got {self.batch_runs}")
        if self.warmup < 0 or self.batch_warmup < 0:
            raise UsageError(f"--warmup must be 0 or more, got {self.warmup}")
        if self.batch < 2:
            raise UsageError(f"--batch is the larger throughput batch and must be at least 2, got {self.batch}")
        if not self.threads or any(t < 1 for t in self.threads):
            raise UsageError(f"--threads needs positive counts, got {self.threads}")
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
        if count < 1:
            raise UsageError(f"--threads counts must be at least 1, got {count}")
        if count not in counts:
            counts.append(count)
    if not counts:
        raise UsageError("--threads needs at least one count (e.g. 1,2,all)")
    return tuple(counts)


# ---------------------------------------------------------------------------------------------
# What is measured


@dataclass(frozen=True)
class Target:
    """One model to measure: an exported artifact folder, or the SavedModel reference."""

    name: str
    format: str
    quantization: str
    folder: Path
    manifest: dict = field(repr=False, compare=False)

    @property
    def input_shape(self) -> list:
        return list(self.manifest["input"]["shape"])

    @property
    def fixed_batch(self) -> int | None:
        batch = self.input_shape[0]
        return int(batch) if isinstance(batch, int) else None

    def artifact_block(self) -> dict:
        if self.format == "savedmodel":  # described the way an artifact's manifest would describe it
            return artifact_block({"format": "savedmodel", "quantization": "none", "file": ".",
                                   "file_size": folder_size(self.folder),
                                   "source": {"fingerprint": savedmodel_fingerprint(self.folder)}}, name=self.name)
        return artifact_block(self.manifest, name=self.name)


def savedmodel_fingerprint(folder: Path) -> str:
    """The exporters' source fingerprint (exporters.common.SourceModel.fingerprint): sha256 of the two files'
    sha256s, saved_model.pb then variables/variables.index, so the reference row matches its artifacts."""
    digest = hashlib.sha256()
    for rel in ("saved_model.pb", "variables/variables.index"):
        digest.update(sha256_file(folder / rel).encode())
    return digest.hexdigest()


def saved_model_target(folder: Path | str) -> Target:
    folder = Path(folder)
    if not (folder / "saved_model.pb").is_file():
        raise ModelError(f"{folder}: not a SavedModel (no saved_model.pb); pass the saved_model/ folder `edgevit train` wrote")
    return Target(name="savedmodel", format="savedmodel", quantization="none", folder=folder, manifest=read_manifest(folder))


def artifact_targets(artifacts_dir: Path | str) -> list[Target]:
    """Every artifact folder (manifest kind 'artifact') directly under `artifacts_dir`, by name."""
    root = Path(artifacts_dir)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; pass the --out folder of `edgevit export`")
    targets = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not (folder / MANIFEST_NAME).is_file():
            continue
        manifest = read_manifest(folder)
        if manifest.get("kind") == "artifact":
            targets.append(Target(name=manifest.get("name", folder.name), format=manifest["format"],
                                  quantization=str(manifest.get("quantization", "none")), folder=folder, manifest=manifest))
    return targets


def export_failures(artifacts_dir: Path | str) -> list[dict]:
    """Artifacts that `edgevit export` tried and failed (OUT/artifacts.json), as (artifact block, error) pairs."""
    index = Path(artifacts_dir) / EXPORT_INDEX
    try:
        entries = json.loads(index.read_text(encoding="utf-8")).get("artifacts", [])
    except (OSError, ValueError, AttributeError):
        return []
    failed = []
    for entry in entries:
        if isinstance(entry, dict) and entry.get("status") not in (None, STATUS_OK) and entry.get("name"):
            failed.append({"artifact": artifact_block({"format": entry.get("format", "?"), "quantization": entry.get("quantization", "?")},
                                                      name=entry["name"]),
                           "reason": entry.get("error") or "`edgevit export` recorded no error message"})
    return failed


# ---------------------------------------------------------------------------------------------
# Runners: the bench talks to them through one factory so tests can substitute a fake runtime.


# A factory raises edgevit.runners' RuntimeUnavailable when the runtime or device does not exist here.
RunnerFactory = Callable[..., object]  # (target, *, runtime, device, threads) -> Runner


def runtimes_for(target: Target) -> list[str]:
    """Every runtime of the runners registry that runs `target`'s format (each is measured or "not available")."""
    from edgevit.runners import RUNTIMES_BY_FORMAT

    return list(RUNTIMES_BY_FORMAT.get(target.format, []))


def open_registered_runner(target: Target, *, runtime: str, device: str, threads: int | None):
    """The default factory: `runtime` from edgevit.runners, pinned to `device` with `threads` intra-op threads."""
    from edgevit import runners

    if runtime == "savedmodel" and threads is not None:
        _set_tensorflow_threads(threads)
    return runners.open_runner(runtime, target.folder, device=device, threads=threads)


def _set_tensorflow_threads(threads: int) -> None:
    """TensorFlow reads its thread counts once, at start-up: set them before the runner first touches it.

    Both pools get `threads`, which is TensorFlow's own default when `threads` is every core, so the
    "all" measurement is TensorFlow as users run it. Only valid in a fresh process (a bench child).
    """
    from edgevit.keras_backend import import_tf

    tf = import_tf()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError as exc:  # TensorFlow already initialised in this process
        raise RuntimeUnavailable(f"TensorFlow was already running in this process, its threads cannot be set to {threads} "
                                 f"(run the bench isolated): {exc}") from None


@dataclass(frozen=True)
class Job:
    """One measurement, picklable so it can cross into a spawned child."""

    target: Target
    runtime: str
    device: str
    threads: int | None
    options: BenchOptions


# The Python package behind each registered runtime. Imported before the load is timed: load time is
# opening the model, not `import tensorflow` (seconds, once per process); the import time is kept
# in runtime.details.import_ms.
RUNTIME_PACKAGES = {"savedmodel": "tensorflow", "litert": "ai_edge_litert.interpreter", "onnxruntime": "onnxruntime",
                    "coreml": "coremltools", "coreml-mil-numpy": "coremltools"}


def _import_runtime_package(runtime: str, clock: Clock) -> float | None:
    package = RUNTIME_PACKAGES.get(runtime)
    if package is None:
        return None
    if package == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        _, ms = time_once(lambda: importlib.import_module(package), clock=clock)
    except ImportError:
        return None  # the runner's own open will say what is missing
    return ms


def _load_average() -> dict:
    """The 1-minute load average as the measurement starts: other work on the machine inflates latencies."""
    try:
        return {"load_average_1m": round(os.getloadavg()[0], 2)}
    except (AttributeError, OSError):  # not on every OS
        return {}


def _bench_inputs(shape: list, batch: int, seed: int) -> np.ndarray:
    """Deterministic inputs in the preprocessed range [-1, 1]; the values do not change the work done."""
    height, width, channels = (int(v) for v in shape[1:])
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, size=(batch, height, width, channels)).astype(np.float32)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def measure(job: Job, factory: RunnerFactory, *, clock: Clock = DEFAULT_CLOCK, scope: str = MEMORY_SCOPE_ISOLATED) -> dict:
    """Load, first inference, steady-state latency, throughput and peak RSS of one job; never raises."""
    import psutil

    opts = job.options
    result: dict = {"status": STATUS_OK, "reason": None, "runtime": None, "load_ms": None, "first_inference_ms": None,
                    "latency": None, "throughput": [], "memory": None}
    import_ms = _import_runtime_package(job.runtime, clock)
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
        one = _bench_inputs(job.target.input_shape, 1, opts.seed)
        output, result["first_inference_ms"] = time_once(lambda: runner.predict(one), clock=clock)
        num_classes = len(job.target.manifest["labels"])
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


def _batched(runner, job: Job, clock: Clock) -> dict:
    opts = job.options
    entry = {"batch": opts.batch, "warmup": opts.batch_warmup, "runs": opts.batch_runs, "images_per_second": 0.0,
             "batch_p50_ms": 0.0}
    fixed = job.target.fixed_batch
    if fixed is not None and fixed != opts.batch:
        return {**entry, "status": STATUS_NOT_AVAILABLE, "reason": f"the artifact's input has a fixed batch of {fixed}"}
    images = _bench_inputs(job.target.input_shape, opts.batch, opts.seed)
    try:
        samples = time_calls(lambda: runner.predict(images), warmup=opts.batch_warmup, runs=opts.batch_runs, clock=clock)
    except Exception as exc:
        return {**entry, "status": STATUS_FAILED, "reason": f"batch {opts.batch} failed: {_one_line(exc)}"}
    return throughput_entry(samples, batch=opts.batch, warmup=opts.batch_warmup)


def _child_main(conn, job: Job, factory: RunnerFactory) -> None:
    if job.device == CPU:
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"  # a CPU measurement must not be able to reach a GPU
    try:
        conn.send(measure(job, factory))
    except BaseException as exc:  # anything escaping measure() is reported, not lost with the process
        conn.send({"status": STATUS_FAILED, "reason": f"bench child crashed: {_one_line(exc)}",
                   "traceback": traceback.format_exc()})
    finally:
        conn.close()


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


# ---------------------------------------------------------------------------------------------
# Records


def peak_dtype(target: Target) -> str:
    return "int8" if target.format != "coreml" and target.quantization in INT8_COMPUTE else "float32"


def compute_block(model: dict | None, result: dict, *, dtype: str, peaks: dict, threads: int | None) -> dict | None:
    """Achieved GFLOP/s at batch-1 p50 against the measured GEMM peak of the same thread count."""
    if not model or not model.get("flops_per_image") or result["status"] != STATUS_OK or result["latency"] is None:
        return None
    peak, fp32 = peaks.get((dtype, threads)), peaks.get(("float32", threads))
    if not peak:
        return None
    flops = int(model["flops_per_image"])
    achieved = flops / (result["latency"]["p50_ms"] / 1e3) / 1e9
    batched = [t for t in result["throughput"] if t.get("status", STATUS_OK) == STATUS_OK and t["batch"] > 1]
    return {
        "flops_per_image": flops,
        "achieved_gflops": achieved,
        "achieved_gflops_batched": flops * max(t["images_per_second"] for t in batched) / 1e9 if batched else None,
        "peak_dtype": dtype,
        "peak_gflops": peak,
        "fraction_of_peak": achieved / peak,
        "float32_peak_gflops": fp32,
        "fraction_of_float32_peak": achieved / fp32 if fp32 else None,
    }


def _parity_for(target: Target, verify_records: list[dict]) -> dict | None:
    """The parity block of the verify record about this artifact (matched by sha256, else by name)."""
    for record in verify_records:
        artifact = record.get("artifact") or {}
        if record.get("kind") != "verify" or not record.get("parity"):
            continue
        sha = target.manifest.get("sha256")
        if (sha and artifact.get("sha256") == sha) or (not sha and artifact.get("name") == target.name):
            return record["parity"]
    return None


def _jobs(targets: list[Target], options: BenchOptions, runtimes: Callable[[Target], list[str]]) -> Iterator[Job]:
    for target in targets:
        for runtime in runtimes(target) or ["(none)"]:
            if CPU in options.devices:
                for threads in options.threads:
                    yield Job(target, runtime, CPU, threads, options)
            if GPU in options.devices:
                yield Job(target, runtime, GPU, None, options)


def bench_peaks(options: BenchOptions, *, machine: dict, versions: dict, command: str | None = None) -> list[dict]:
    """One `peak` record per (dtype, backend) and thread count."""
    records = []
    for threads in options.threads:
        for dtype, backend in BACKENDS:
            out = measure_peak(dtype, backend, threads=threads, n=options.peak_n, warmup=options.peak_warmup, runs=options.peak_runs)
            records.append(new_record(kind="peak", status=out["status"], reason=out["reason"], machine=machine,
                                      tool_versions=versions, producer=PRODUCER, peak=out["peak"], command=command))
    return records


def bench_artifacts(
    artifacts_dir: Path | str | None = None,
    *,
    saved_model: Path | str | None = None,
    options: BenchOptions = BenchOptions(),
    verify_records: Iterable[dict] = (),
    factory: RunnerFactory = open_registered_runner,
    runtimes: Callable[[Target], list[str]] = runtimes_for,
    clock: Clock = DEFAULT_CLOCK,
    command: str | None = None,
    progress: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Peak records, one bench record per artifact x runtime x device x thread count, and the peaks again.

    The GEMM peak is measured before and after the artifacts; compute blocks use the best of both.
    `verify_records` (kind "verify", from `edgevit verify`) attach each artifact's parity result.
    `factory` opens a runner and `runtimes` lists the runtimes of a target (defaults: edgevit.runners).
    `progress`, when given, is called with each record as it is made (the CLI prints a line).
    With `options.isolate` False, measurements run in this process with `clock` (tests use a fake one).
    """
    options = options.check()
    targets = ([saved_model_target(saved_model)] if saved_model else []) + (artifact_targets(artifacts_dir) if artifacts_dir else [])
    failures = export_failures(artifacts_dir) if artifacts_dir else []
    if not targets and not failures:
        where = artifacts_dir or saved_model
        raise DataError(f"{where}: no artifacts to bench (no folder with a manifest.json of kind 'artifact'); run `edgevit export` first")
    machine, versions = machine_fingerprint(), tool_versions()
    verify_records = list(verify_records)
    records = bench_peaks(options, machine=machine, versions=versions, command=command)
    for failure in failures:
        records.append(new_record(kind="bench", status=STATUS_EXPORT_FAILED, reason=failure["reason"], machine=machine,
                                      tool_versions=versions, producer=PRODUCER, artifact=failure["artifact"],
                                      runtime={"name": "(none)", "version": None, "device": CPU, "threads": None,
                                               "emulated": False, "details": {}}, command=command))
    for record in records:
        if progress:
            progress(record)
    peaks = best_peaks(records)
    # "Not available" belongs to a runtime on a device (Core ML off macOS, no CUDA provider, an emulator),
    # not to one artifact: found once, it is recorded for the other artifacts without reopening anything.
    unavailable: dict[tuple[str, str], str] = {}
    for job in _jobs(targets, options, runtimes):
        if (job.runtime, job.device) in unavailable:
            result = {"status": STATUS_NOT_AVAILABLE, "reason": unavailable[(job.runtime, job.device)], "runtime": None}
        elif job.runtime == "(none)":
            result = {"status": STATUS_NOT_AVAILABLE, "reason": f"no runner for format {job.target.format} in edgevit.runners",
                      "runtime": None}
        elif job.device == GPU and not any(a["kind"] == "gpu" for a in machine["accelerators"]):
            result = {"status": STATUS_NOT_AVAILABLE, "runtime": None,
                      "reason": "no GPU on this machine (nvidia-smi lists none), so no GPU runtime can run"}
        elif options.isolate:
            result = measure_isolated(job, factory)
        else:
            result = measure(job, factory, clock=clock, scope=MEMORY_SCOPE_SHARED)
        if result["status"] == STATUS_NOT_AVAILABLE:
            unavailable[(job.runtime, job.device)] = result["reason"]
        record = _bench_record(job, result, machine=machine, versions=versions, peaks=peaks,
                               parity=_parity_for(job.target, verify_records), command=command)
        records.append(record)
        if progress:
            progress(record)
    # The peak again, now that the artifacts ran: on a shared machine either moment may be the quieter one,
    # and the limit is the best of both. Every compute block is then held against that final best.
    final_peaks = bench_peaks(options, machine=machine, versions=versions, command=command)
    for record in final_peaks:
        if progress:
            progress(record)
    records[len(records):] = final_peaks
    peaks = best_peaks(records)
    for record in records:
        if record["kind"] == "bench" and record["compute"] is not None:
            record["compute"] = compute_block(record["model"], record, dtype=record["compute"]["peak_dtype"], peaks=peaks,
                                              threads=record["runtime"]["threads"])
    return records


def _bench_record(job: Job, result: dict, *, machine: dict, versions: dict, peaks: dict, parity: dict | None,
                  command: str | None) -> dict:
    model = model_block(job.target.manifest.get("model"))
    runtime = result.get("runtime") or {"name": job.runtime, "version": None, "device": job.device,
                                        "threads": job.threads, "emulated": False, "details": {}}
    status, reason = result["status"], result.get("reason")
    return new_record(
        kind="bench", status=status, reason=reason, machine=machine, tool_versions=versions, producer=PRODUCER,
        artifact=job.target.artifact_block(), runtime={**runtime, "device": job.device}, model=model,
        load_ms=result.get("load_ms"), first_inference_ms=result.get("first_inference_ms"),
        latency=result.get("latency"), throughput=result.get("throughput") or [], memory=result.get("memory"),
        compute=compute_block(model, result, dtype=peak_dtype(job.target), peaks=peaks, threads=job.threads),
        parity=parity, command=command,
    )


def describe(record: dict) -> str:
    """One progress line saying what was measured and how."""
    if record["kind"] == "peak":
        if record["status"] != "ok":
            return f"[peak] {record['status']}: {record['reason']}"
        p = record["peak"]
        return (f"[peak] {p['dtype']} {p['backend']} {p['op']}, {p['threads']} thread(s): {p['gflops']:.1f} GFLOP/s "
                f"(fastest of {p['runs']} {p['n']}x{p['n']} GEMMs after {p['warmup']} warm-ups)")
    a, rt = record["artifact"], record["runtime"]
    where = f"{a['name']} on {rt['name']} {rt['device']}" + (f" x{rt['threads']}" if rt.get("threads") else "")
    if record["status"] != "ok":
        return f"[bench] {where}: {record['status']}: {record['reason']}"
    lat, mem = record["latency"], record["memory"]
    return (f"[bench] {where}: p50 {lat['p50_ms']:.3f} ms, p90 {lat['p90_ms']:.3f} ms (batch 1, {lat['runs']} runs after "
            f"{lat['warmup']} warm-ups), load {record['load_ms']:.0f} ms, peak RSS {mem['peak_rss_bytes'] / 2**20:.0f} MiB")
