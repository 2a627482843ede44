"""Measurement records: the ONE JSON format for bench, verify summaries, the device harness and the iOS app.

The contract is `edgevit/schemas/record-v1.schema.json` (JSON Schema 2020-12); this module builds,
checks, writes and reads files that follow it. The device harness builds its records with the same
functions (edgevit.portable.records, re-exported here); the iOS app follows the schema file alone.

A records file::

    {"schema_version": 1, "records": [RECORD, ...]}

A record (every key listed is always present unless marked optional; "null" where not measured)::

    schema_version   1
    kind             "bench" | "peak" | "bandwidth" | "verify" | "fit-gate"
    created          UTC ISO 8601, e.g. "2026-11-23T10:00:00+00:00"
    status           "ok" | "not available" | "failed" | "export failed" | "parity failed" | "parity inconclusive" |
                     "cannot verify"
    reason           one line; non-null unless status is "ok"
    producer         {"name": "edgevit bench", "version": "0.1.0"}
    machine          {"id", "os", "os_release", "arch", "cpu_model", "cpu_cores_logical",
                      "cpu_cores_physical", "cpu_features", "memory_bytes", "device_model", "python",
                      "accelerators": [{"kind": "gpu", "name", "memory_bytes", "driver"}]}
    tool_versions    {"python": "3.11.9", "onnxruntime": "1.32.0", ...}
    artifact         {"name", "format", "quantization", "file", "file_size", "sha256", "source_fingerprint"}
    runtime          {"name", "version", "device", "threads", "emulated", "details"}
    model            {"variant", "image_size", "num_classes", "params", "macs_per_image", "flops_per_image"}
    load_ms, first_inference_ms
    latency          {"batch", "warmup", "runs", "p50_ms", "p90_ms", "p99_ms", "min_ms", "mean_ms",
                      "max_ms", "stdev_ms", "percentile_method": "linear", "clock", "samples_ms": [...],
                      optional: "warmup_ms", "warmup_settled", "rounds", "round_runs", "round_warmup", "p50_interval_ms",
                      "interval_level", "stability": {"disturbed", "reasons", ...}, "speedup": {"baseline",
                      "ratio", "interval", "rounds", "level"}}  (p99_ms null under 100 samples)
    throughput       [{"batch", "warmup", "runs", "images_per_second", "batch_p50_ms"}, ...]
    memory           {"peak_rss_bytes", "rss_before_load_bytes", "scope", optional: "rss_at_start_bytes",
                      "runtime_import_bytes", "model_bytes", "batch1_peak_rss_bytes", "batched_peak_rss_bytes", "peak_reset"}
    compute          {"flops_per_image", "achieved_gflops", "achieved_gflops_batched", "peak_dtype",
                      "peak_gflops", "fraction_of_peak", "float32_peak_gflops", "fraction_of_float32_peak",
                      optional roofline: "bytes_per_image", "bandwidth_gbps", "compute_floor_ms",
                      "memory_floor_ms", "bound", "fraction_of_roofline"}
    peak             (kind "peak") {"dtype", "backend", "op", "n", "threads", "warmup", "runs",
                      "gflops", "median_gflops", optional "disturbed", "reasons"}
    bandwidth        (kind "bandwidth") {"op", "threads", "array_bytes", "bytes_per_call", "warmup", "runs",
                      "gbps", "median_gbps"}
    parity           {"reference", "split", "count", "accuracy", "reference_accuracy", "agreement",
                      "flips", "max_abs_diff", "passed", "gate"; optional "verdict", "agreement_ci",
                      "accuracy_difference_points", "accuracy_difference_ci_points", "interval_methods", "source"}
    fit_gate         (kind "fit-gate": one step of `edgevit export --fit-gate`, with artifact, runtime, latency and
                     parity on the calibration split) {"search", "step", "float_layers", "chosen", "gate",
                     "calibration_split", "test_split", "test": parity on the test split (chosen step) or null;
                     optional "plan", "ranking"}
    command, notes   optional strings

Rules the schema states and `validate_record` enforces: a bench record with status "ok" carries
artifact, runtime, load/first-inference times, latency (with every raw sample: no outlier clipping),
throughput and memory; any other status carries a one-line reason ("not available" for a runtime or
device this machine lacks: never a silent skip). Percentiles are linear interpolation (numpy's
default). FLOPs = 2 x MACs.

Readers refuse a schema_version they do not know. Version 1 is additive-compatible: new optional
keys need a schema edit, not a version bump; renaming or removing a key bumps the version.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path
from typing import Any, Iterable

from edgevit import __version__
from edgevit.errors import DataError
from edgevit.fsutil import BadJson, atomic_write_json, load_json
from edgevit.outputs import RECORDS, Output, check_outputs
# The key list, the record builder and its artifact block live with the device harness, which
# writes the same records on devices; re-exported here as edgevit.records.*.
from edgevit.portable.records import RECORD_KEYS, SCHEMA_VERSION, artifact_block  # noqa: F401
from edgevit.portable.records import new_record as _new_record

logger = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).parent / "schemas" / "record-v1.schema.json"

KINDS = ("bench", "peak", "bandwidth", "verify", "fit-gate")
STATUS_OK = "ok"
STATUS_NOT_AVAILABLE = "not available"
STATUS_FAILED = "failed"
STATUS_EXPORT_FAILED = "export failed"
STATUS_PARITY_FAILED = "parity failed"
STATUS_PARITY_INCONCLUSIVE = "parity inconclusive"
STATUS_CANNOT_VERIFY = "cannot verify"  # verify: no runtime here runs the artifact (e.g. a Core ML op the interpreter lacks)
STATUSES = (STATUS_OK, STATUS_NOT_AVAILABLE, STATUS_FAILED, STATUS_EXPORT_FAILED, STATUS_PARITY_FAILED, STATUS_PARITY_INCONCLUSIVE,
            STATUS_CANNOT_VERIFY)

# new_record(kind=, status=, machine=, tool_versions=, producer="edgevit bench", reason=None, **fields):
# the portable builder with this edgevit's version as the producer's.
new_record = functools.partial(_new_record, producer_version=__version__)


@functools.lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# A small JSON Schema interpreter: exactly the keywords record-v1.schema.json uses (jsonschema is not
# a dependency). An unknown keyword is an error, so the schema cannot silently outgrow the checker.

_IGNORED = {"$schema", "$id", "title", "description", "$comment", "default", "examples"}
_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _check(value: Any, rule: dict, root: dict, where: str) -> list[str]:
    errors: list[str] = []
    for key, arg in rule.items():
        if key in _IGNORED or key in ("then", "$defs"):
            continue
        if key == "$ref":
            if not arg.startswith("#/"):
                raise ValueError(f"only local $ref is supported, got {arg}")
            target = root
            for part in arg[2:].split("/"):
                target = target[part]
            errors += _check(value, target, root, where)
        elif key == "type":
            names = arg if isinstance(arg, list) else [arg]
            if not any(_TYPES[name](value) for name in names):
                errors.append(f"{where}: expected {' or '.join(names)}, got {type(value).__name__} {_short(value)}")
                return errors  # the other keywords would only repeat the type error
        elif key == "const":
            if value != arg or type(value) is not type(arg):
                errors.append(f"{where}: must be {arg!r}, got {_short(value)}")
        elif key == "enum":
            if value not in arg:
                errors.append(f"{where}: must be one of {', '.join(map(repr, arg))}, got {_short(value)}")
        elif key == "properties":
            if isinstance(value, dict):
                for name, sub in arg.items():
                    if name in value:
                        errors += _check(value[name], sub, root, f"{where}.{name}")
        elif key == "required":
            if isinstance(value, dict):
                errors += [f"{where}: missing key '{name}'" for name in arg if name not in value]
        elif key == "additionalProperties":
            if isinstance(value, dict):
                extra = [k for k in value if k not in rule.get("properties", {})]
                if arg is False:
                    errors += [f"{where}: unknown key '{k}'" for k in extra]
                elif isinstance(arg, dict):
                    for k in extra:
                        errors += _check(value[k], arg, root, f"{where}.{k}")
        elif key == "items":
            if isinstance(value, list):
                for i, item in enumerate(value):
                    errors += _check(item, arg, root, f"{where}[{i}]")
        elif key == "minItems":
            if isinstance(value, list) and len(value) < arg:
                errors.append(f"{where}: needs at least {arg} item(s), has {len(value)}")
        elif key == "maxItems":
            if isinstance(value, list) and len(value) > arg:
                errors.append(f"{where}: holds at most {arg} item(s), has {len(value)}")
        elif key == "minLength":
            if isinstance(value, str) and len(value) < arg:
                errors.append(f"{where}: must not be empty")
        elif key in ("minimum", "maximum", "exclusiveMinimum"):
            if _TYPES["number"](value):
                bad = {"minimum": value < arg, "maximum": value > arg, "exclusiveMinimum": value <= arg}[key]
                if bad:
                    errors.append(f"{where}: {value} violates {key} {arg}")
        elif key == "oneOf":
            matches = [sub for sub in arg if not _check(value, sub, root, where)]
            if len(matches) != 1:
                # A non-null value was meant for the non-null branch: report that branch's errors only.
                meant = [sub for sub in arg if sub != {"type": "null"}] if value is not None else arg
                detail = [e for sub in meant for e in _check(value, sub, root, where)]
                errors += detail or [f"{where}: matches {len(matches)} of the allowed shapes, expected exactly 1"]
        elif key == "allOf":
            for sub in arg:
                errors += _check(value, sub, root, where)
        elif key == "if":
            if not _check(value, arg, root, where):
                errors += _check(value, rule.get("then", {}), root, where)
        else:
            raise ValueError(f"schema keyword '{key}' at {where} is not supported by edgevit.records")
    return errors


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validate_record(record: Any) -> list[str]:
    """Every way `record` breaks the schema, as 'path: problem' lines (empty when valid)."""
    root = schema()
    extra = [] if not isinstance(record, dict) else _consistency(record)
    return _check(record, root["$defs"]["record"], root, "record") + extra


def validate_document(document: Any) -> list[str]:
    """Every way a whole records file breaks the schema (empty when valid)."""
    root = schema()
    errors = _check(document, {k: v for k, v in root.items() if k != "$defs"}, root, "file")
    if isinstance(document, dict) and isinstance(document.get("records"), list):
        for i, record in enumerate(document["records"]):
            if isinstance(record, dict):
                errors += [e.replace("record", f"file.records[{i}]", 1) for e in _consistency(record)]
    return errors


def validate_with_schema(document: Any, schema_file: str) -> list[str]:
    """Every way `document` breaks another schema of edgevit/schemas (e.g. layers-v1.schema.json), by the same checker."""
    root = json.loads((SCHEMA_PATH.parent / schema_file).read_text(encoding="utf-8"))
    return _check(document, {k: v for k, v in root.items() if k != "$defs"}, root, "file")


def _consistency(record: dict) -> list[str]:
    """What a JSON Schema cannot say: the raw samples are exactly the runs the statistics came from."""
    latency = record.get("latency")
    if not isinstance(latency, dict) or not isinstance(latency.get("samples_ms"), list):
        return []
    samples, errors = latency["samples_ms"], []
    if latency.get("runs") != len(samples):
        errors.append(f"record.latency: runs is {latency.get('runs')} but samples_ms has {len(samples)} values")
    numbers = [s for s in samples if _TYPES["number"](s)]
    if numbers and len(numbers) == len(samples):
        for key, expected in (("min_ms", min(numbers)), ("max_ms", max(numbers))):
            if _TYPES["number"](latency.get(key)) and abs(latency[key] - expected) > 1e-9 * max(1.0, expected):
                errors.append(f"record.latency.{key} is {latency[key]} but the samples say {expected}")
    return errors


# ---------------------------------------------------------------------------------------------
# Matching


def verify_record_for(records: Iterable[dict], *, artifact: dict, runtime: str | None, device: str = "cpu",
                      machine: str | None = None) -> dict | None:
    """The latest verify record (with a parity block) about `artifact` measured on exactly this runtime and device
    (and machine, when given); None if there is none.

    Parity is a property of the numbers one runtime produced on one device: a CPU verify says nothing about the
    same file on a GPU delegate or in real Core ML. The artifact is the same file when both carry a sha256 and
    they are equal; otherwise, when either lacks one, when the names are equal."""
    found = None
    for record in records:
        verified, where = record.get("artifact") or {}, record.get("runtime") or {}
        if record.get("kind") != "verify" or not record.get("parity") or not verified:
            continue
        if verified.get("sha256") and artifact.get("sha256"):
            same = verified["sha256"] == artifact["sha256"]
        else:
            same = verified.get("name") == artifact.get("name")
        if (same and where.get("name") == runtime and where.get("device", "cpu") == device
                and (machine is None or (record.get("machine") or {}).get("id") == machine)):
            found = record
    return found


# ---------------------------------------------------------------------------------------------
# Files


def write_records(path: Path, records: Iterable[dict]) -> Path:
    """Validate every record, then write the file atomically. ValueError (a bug: we wrote it) if invalid."""
    document = {"schema_version": SCHEMA_VERSION, "records": list(records)}
    errors = validate_document(document)
    if errors:
        raise ValueError("records do not follow record-v1.schema.json: " + "; ".join(errors[:5]))
    path = Path(path)
    check_outputs([Output(None, path, RECORDS)])  # replaces an earlier records file only
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, document)
    return path


def read_records(paths: Iterable[Path | str]) -> list[dict]:
    """Records of every file, in order; DataError naming the file and the first problems if one is invalid."""
    records: list[dict] = []
    for path in map(Path, paths):
        if not path.is_file():
            raise DataError(f"{path}: no such records file; pass files written by `edgevit bench` or the device harness")
        try:
            document = load_json(path)
        except BadJson as exc:
            raise DataError(f"{path}: {exc}; pass a records file") from None
        version = document.get("schema_version") if isinstance(document, dict) else None
        if isinstance(version, int) and version > SCHEMA_VERSION:
            raise DataError(f"{path}: records schema version {version} is newer than this edgevit understands "
                            f"({SCHEMA_VERSION}); upgrade edgevit")
        errors = validate_document(document)
        if errors:
            more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
            raise DataError(f"{path}: does not follow record-v1.schema.json: {'; '.join(errors[:3])}{more}")
        records.extend(document["records"])
        logger.debug(f"{path}: {len(document['records'])} records")
    return records
