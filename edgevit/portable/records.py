"""Records (edgevit/schemas/record-v1.schema.json): the key list, a new record, its artifact and runtime
blocks, and an atomic records file. The harness writes them on a device; edgevit.records builds on the
same functions on the host (and adds schema validation), so both sides write the same record.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from importlib import metadata
from pathlib import Path

from .runtimes import PIP_NAMES

SCHEMA_VERSION = 1
# Keys present in every record (null when not measured), in this order.
RECORD_KEYS = (
    "schema_version", "kind", "created", "status", "reason", "producer", "machine", "tool_versions",
    "artifact", "runtime", "model", "load_ms", "first_inference_ms", "latency", "throughput", "memory",
    "compute", "peak", "bandwidth", "parity", "fit_gate", "command", "notes",
)
_TOOLS = ("numpy", *PIP_NAMES.values())  # runtime names stay in runtimes.py, the harness's one runtime table


def now_iso() -> str:
    """UTC now, to the second: every `created` field, on the host (edgevit.manifest) and the device."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def installed_versions(names: tuple[str, ...]) -> dict[str, str]:
    """{distribution: version} for those of `names` installed here (the others left out); edgevit.manifest uses it too."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def tool_versions(harness_version: str) -> dict[str, str]:
    return {"python": platform.python_version(), "edgevit-device-harness": harness_version, **installed_versions(_TOOLS)}


def artifact_block(manifest: dict, *, name: str | None = None) -> dict:
    """The record's `artifact` block, copied from an artifact's manifest.json.

    `name` wins over the manifest's own (default: its name, else the model file's stem). Keys the
    manifest lacks are null: a failed export has no file, size or hash.
    """
    source = manifest.get("source") or {}
    size = manifest.get("file_size")
    block = {
        "name": str(name or manifest.get("name") or Path(str(manifest["file"])).stem),
        "format": str(manifest["format"]),
        "quantization": str(manifest["quantization"]),
        "file": manifest.get("file"),
        "file_size": None if size is None else int(size),
        "sha256": manifest.get("sha256"),
        "source_fingerprint": source.get("fingerprint"),
    }
    support = manifest.get("runtime_support")
    if isinstance(support, dict) and isinstance(support.get("summary"), str):
        block["loads_in"] = support["summary"]  # only where the exporter recorded it (manifests since runtime_support)
    return block


def runtime_block(info, *, cpus: list[int] | None) -> dict:
    return {
        "name": info.name,
        "version": info.version,
        "device": "cpu",
        "threads": info.threads,
        "emulated": False,
        "details": {**info.details, "cpu_affinity": cpus},
    }


def new_record(*, kind: str, status: str, machine: dict, tool_versions: dict, producer: str, producer_version: str,
               reason: str | None = None, **fields) -> dict:
    """A record with every key present (null where not given, no throughput entries); `fields` fill the rest."""
    unknown = set(fields) - set(RECORD_KEYS)
    if unknown:
        raise ValueError(f"unknown record key(s): {', '.join(sorted(unknown))}; known: {', '.join(RECORD_KEYS)}")
    record = {key: None for key in RECORD_KEYS}
    record.update(schema_version=SCHEMA_VERSION, kind=kind, created=now_iso(), status=status, reason=reason,
                  producer={"name": producer, "version": producer_version}, machine=machine,
                  tool_versions=tool_versions, throughput=[])
    record.update(fields)
    return record


def check_writable(path: Path) -> None:
    """Prove a records file can be written at `path` before anything is measured; OSError when it cannot
    (a folder there, no permission, a read-only or missing file system)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(21, "is a folder, not a file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    probe = path.parent / f".{path.name}.probe-{os.getpid()}"
    try:
        probe.write_bytes(b"")
    finally:
        if probe.exists():
            probe.unlink()


def write_records_file(path: Path, records: list[dict]) -> Path:
    """{"schema_version": 1, "records": [...]} written to a temp sibling, then renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    try:
        # allow_nan=False: a NaN would make the file invalid JSON; parity stores None instead.
        tmp.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "records": records}, indent=2, allow_nan=False) + "\n",
                       encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
