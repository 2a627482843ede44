"""`python3 run.py`: golden-vector parity, a latency run and one bench record, on the device itself.

Exit codes: 0 parity passed, 6 parity failed (the record is still written), 4 the bundle/artifact/golden
vectors cannot be used or no runtime loads the model, 2 bad option, 1 the measurement crashed.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import shlex
import sys
from pathlib import Path

import numpy as np

from . import PRODUCER_NAME
from .files import Bundle, check_sha256, open_bundle
from .errors import EXIT_BUNDLE, EXIT_CRASHED, EXIT_OK, EXIT_PARITY, EXIT_USAGE, HarnessError, one_line
from .golden import check_matches_manifest, read_golden
from .machine import current_rss_bytes, fingerprint, peak_rss_bytes, usable_cpus
from .parity import golden_parity
from .records import artifact_block, check_writable, new_record, runtime_block, tool_versions, write_records_file
from .runtimes import BatchNotSupported, load_model
from .timing import latency_block, throughput_entry, time_calls, time_once

FALLBACK_DEFAULTS = {"warmup": 5, "runs": 50, "throughput_batch": 8, "throughput_runs": 10}


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise HarnessError(f"{self.prog}: {message} (see --help)", exit_code=EXIT_USAGE)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def build_parser(default_bundle: Path) -> argparse.ArgumentParser:
    p = _Parser(prog="run.py", description="Check an edgevit artifact's parity on golden vectors and time it on this device.")
    p.add_argument("--bundle", default=str(default_bundle), help="bundle folder (default: the folder of run.py)")
    p.add_argument("--out", default=None, help="records file to write (default: BUNDLE/results/<machine id>-<UTC time>.json)")
    p.add_argument("--runs", type=_positive, default=None, help="timed runs at batch 1 (default: the bundle's)")
    p.add_argument("--warmup", type=_non_negative, default=None, help="untimed warm-up runs (default: the bundle's)")
    p.add_argument("--threads", type=_positive, default=None, help="runtime threads (default: the CPUs this process may use)")
    p.add_argument("--runtime", default=None, help="force a runtime: litert, tflite_runtime or onnxruntime")
    p.add_argument("--throughput-batch", type=_non_negative, default=None,
                   help="a larger batch for a throughput run, 0 to skip (default: the bundle's)")
    p.add_argument("--throughput-runs", type=_positive, default=None, help="timed runs at that batch (default: the bundle's)")
    return p


def main(argv: list[str] | None = None, *, default_bundle: Path) -> int:
    try:
        args = build_parser(default_bundle).parse_args(argv)
    except HarnessError as exc:
        print(f"run.py: error: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    machine = fingerprint()
    bundle_root = Path(args.bundle)
    out = Path(args.out) if args.out else _default_out(bundle_root, machine["id"])
    try:
        check_writable(out)  # before anything is measured: the results must have somewhere to go
    except OSError as exc:
        print(f"run.py: error: cannot write the records file {out} ({exc.strerror or exc}); pass a writable --out FILE",
              file=sys.stderr)
        return EXIT_USAGE
    command = " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).name, *(sys.argv[1:] if argv is None else argv)])
    harness_version = "unknown"
    fields: dict = {"command": command}
    try:
        bundle = open_bundle(bundle_root)
        harness_version = str(bundle.index.get("edgevit_version") or "unknown")
        fields.update(artifact=artifact_block(bundle.manifest), model=bundle.index.get("model"))
        status, reason = _measure(bundle, args, fields)
        code = EXIT_OK if status == "ok" else EXIT_PARITY
    except HarnessError as exc:
        status, reason, code = exc.status, str(exc), exc.exit_code
    except Exception as exc:  # a runtime crashing mid-run is still a record (status failed), never a silent skip
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        status, reason, code = "failed", f"{type(exc).__name__}: {first}", EXIT_CRASHED
    if code == EXIT_USAGE:
        print(f"run.py: error: {one_line(reason)}", file=sys.stderr)
        return code
    record = new_record(kind="bench", status=status, reason=reason, machine=machine, tool_versions=tool_versions(harness_version),
                        producer=PRODUCER_NAME, producer_version=harness_version, **fields)
    write_records_file(out, [record])
    _print_summary(record, out)
    if reason:
        print(f"run.py: {status}: {one_line(reason)}", file=sys.stderr)
    return code


def _default_out(root: Path, machine_id: str) -> Path:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return root / "results" / f"{machine_id}-{stamp}.json"


def _setting(args, bundle: Bundle, name: str) -> int:
    value = getattr(args, name)
    if value is not None:
        return int(value)
    return int(bundle.defaults.get(name, FALLBACK_DEFAULTS[name]))


def _measure(bundle: Bundle, args, measured: dict) -> tuple[str, str | None]:
    """Fill `measured` with the record's measurements as they are taken (so a failure part-way still
    records what came before it); (status, reason). Raises HarnessError for a bundle that cannot be used."""
    check_sha256(bundle)
    golden = read_golden(bundle.golden_dir)
    check_matches_manifest(golden, bundle.manifest, bundle.golden_dir)
    cpus = usable_cpus()
    threads = args.threads or (len(cpus) if cpus else 1)
    warmup, runs = _setting(args, bundle, "warmup"), _setting(args, bundle, "runs")

    rss_before = current_rss_bytes()
    model, load_ms = time_once(lambda: load_model(bundle.model_path, bundle.manifest, threads=threads, runtime=args.runtime))
    measured.update(runtime=runtime_block(model.info, cpus=cpus), load_ms=load_ms)
    one = golden.inputs[:1]
    _, measured["first_inference_ms"] = time_once(lambda: model.predict(one))

    # Parity at batch 1, the way an app calls the model.
    outputs = np.concatenate([model.predict(golden.inputs[i : i + 1]) for i in range(golden.count)], axis=0)
    if outputs.shape != golden.probabilities.shape:
        raise HarnessError(f"the model returned shape {list(outputs.shape)}, the golden reference is {list(golden.probabilities.shape)}",
                           exit_code=EXIT_BUNDLE)
    measured["parity"], failures = golden_parity(outputs, golden.probabilities, golden.true_labels, gate=bundle.gate,
                                                 reference_runtime=golden.reference_runtime)

    samples = time_calls(lambda: model.predict(one), warmup=warmup, runs=runs)
    measured["latency"] = latency_block(samples, batch=1, warmup=warmup)
    measured["throughput"] = [throughput_entry(samples, batch=1, warmup=warmup)]
    notes = []
    batch = _setting(args, bundle, "throughput_batch")
    if batch > 1:
        images = np.resize(golden.inputs, (batch, *golden.inputs.shape[1:]))  # repeats the golden images
        try:
            batch_samples = time_calls(lambda: model.predict(images), warmup=1, runs=_setting(args, bundle, "throughput_runs"))
            measured["throughput"].append(throughput_entry(batch_samples, batch=batch, warmup=1))
        except BatchNotSupported as exc:
            notes.append(f"no batch-{batch} throughput: {exc}")
    peak = peak_rss_bytes()
    if peak is not None:
        measured["memory"] = {"peak_rss_bytes": peak, "rss_before_load_bytes": rss_before,
                              "scope": "device harness process (load, parity and latency runs)"}
    measured["notes"] = "; ".join(notes) or None
    model.close()
    if failures:
        return "parity failed", "; ".join(failures)
    return "ok", None


def _print_summary(record: dict, out: Path) -> None:
    artifact, runtime = record.get("artifact") or {}, record.get("runtime") or {}
    print(f"artifact: {artifact.get('name', '?')} ({artifact.get('format', '?')}, {artifact.get('quantization', '?')})"
          f" on {record['machine']['id']}")
    if runtime:
        print(f"runtime: {runtime['name']} {runtime['version']}, {runtime['threads']} thread(s), CPUs {runtime['details'].get('cpu_affinity')}")
    parity = record.get("parity")
    if parity:
        diff = "n/a" if parity["max_abs_diff"] is None else f"{parity['max_abs_diff']:.3g}"
        gate = parity["gate"]
        wanted = "not gated" if gate.get("min_agreement") is None else f"gate {gate['min_agreement']:.2%}"
        print(f"parity on {parity['count']} golden vectors vs {parity['reference']}: max |dp| {diff} (gate {gate['max_abs_error']}), "
              f"top-1 agreement {parity['agreement']:.2%} ({wanted}): {'passed' if parity['passed'] else 'FAILED'}")
    latency = record.get("latency")
    if latency:
        print(f"latency, batch {latency['batch']}, {latency['runs']} timed runs after {latency['warmup']} warm-up: "
              f"p50 {latency['p50_ms']:.3f} ms, p90 {latency['p90_ms']:.3f} ms, p99 {latency['p99_ms']:.3f} ms, min {latency['min_ms']:.3f} ms")
        print(f"load {record['load_ms']:.1f} ms, first inference {record['first_inference_ms']:.1f} ms")
    for entry in record.get("throughput") or []:
        if entry["batch"] > 1:
            print(f"throughput, batch {entry['batch']}, {entry['runs']} timed runs: {entry['images_per_second']:.1f} images/s")
    memory = record.get("memory")
    if memory:
        print(f"peak RSS of this process: {memory['peak_rss_bytes'] / 2**20:.1f} MiB")
    print(f"record ({record['status']}): {out}")
