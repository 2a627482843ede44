"""Build the one bench record the harness writes (edgevit/schemas/record-v1.schema.json) and write it atomically."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from importlib import metadata
from pathlib import Path

from . import PRODUCER_NAME
from .runtimes import PIP_NAMES

SCHEMA_VERSION = 1
# Every record carries every key (null where not measured), in the host's order.
RECORD_KEYS = (
    "schema_version", "kind", "created", "status", "reason", "producer", "machine", "tool_versions",
    "artifact", "runtime", "model", "load_ms", "first_inference_ms", "latency", "throughput", "memory",
    "compute", "peak", "parity", "command", "notes",
)
_TOOLS = ("numpy", *PIP_NAMES.values())  # runtime names stay in runtimes.py, the harness's one runtime table


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def tool_versions(harness_version: str) -> dict[str, str]:
    versions = {"python": platform.python_version(), "edgevit-device-harness": harness_version}
    for name in _TOOLS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def artifact_block(manifest: dict) -> dict:
    source = manifest.get("source") or {}
    return {
        "name": str(manifest.get("name") or Path(str(manifest["file"])).stem),
        "format": str(manifest["format"]),
        "quantization": str(manifest["quantization"]),
        "file": manifest.get("file"),
        "file_size": int(manifest.get("file_size") or 0),
        "sha256": manifest.get("sha256"),
        "source_fingerprint": source.get("fingerprint"),
    }


def runtime_block(info, *, cpus: list[int] | None) -> dict:
    return {
        "name": info.name,
        "version": info.version,
        "device": "cpu",
        "threads": info.threads,
        "emulated": False,
        "details": {**info.details, "cpu_affinity": cpus},
    }


def new_record(*, status: str, reason: str | None, machine: dict, harness_version: str, **fields) -> dict:
    unknown = set(fields) - set(RECORD_KEYS)
    if unknown:
        raise ValueError(f"unknown record key(s): {', '.join(sorted(unknown))}")
    record = {key: None for key in RECORD_KEYS}
    record.update(schema_version=SCHEMA_VERSION, kind="bench", created=now_iso(), status=status, reason=reason,
                  producer={"name": PRODUCER_NAME, "version": harness_version}, machine=machine,
                  tool_versions=tool_versions(harness_version), throughput=[])
    record.update(fields)
    return record


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
