"""What the bench measures: each artifact (and the SavedModel) x each of its runtimes x device x thread count.

A target is an edgevit.artifact.Artifact; the SavedModel is opened through edgevit.savedmodel.source
and then as the artifact runners open. A folder whose manifest cannot be opened, and an artifact
`edgevit export` tried and failed, are collected as failures: they become records, never a crash.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from edgevit.artifact import Artifact, open_artifact
from edgevit.bench.options import CPU, GPU, BenchOptions
from edgevit.config import MANIFEST_NAME
from edgevit.errors import DataError, ModelError
from edgevit.formats import REFERENCE_FORMAT
from edgevit.fsutil import BadJson, load_json
from edgevit.manifest import read_manifest
from edgevit.records import STATUS_EXPORT_FAILED, STATUS_FAILED, STATUS_OK, artifact_block
from edgevit.savedmodel.source import open_source

EXPORT_INDEX = "artifacts.json"  # written by `edgevit export` (exporters/jobs.py): every artifact tried, failed ones too
SAVEDMODEL_ROW = REFERENCE_FORMAT.value  # the SavedModel's name in bench records, whatever its folder is called
NO_RUNTIME = "(none)"

logger = logging.getLogger(__name__)


def target_name(target: Artifact) -> str:
    """The name a target's records carry."""
    return SAVEDMODEL_ROW if target.format == REFERENCE_FORMAT else target.name


def saved_model_target(folder: Path | str) -> Artifact:
    return open_source(folder).artifact()


def artifact_targets(artifacts_dir: Path | str) -> tuple[list[Artifact], list[dict]]:
    """(every artifact folder directly under `artifacts_dir`, by name; the ones that cannot be opened, as failures).

    The model files are not hashed here: each runner checks its file as it loads (part of the load time).
    """
    root = Path(artifacts_dir)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; pass the --out folder of `edgevit export`")
    targets, broken = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not (folder / MANIFEST_NAME).is_file():
            continue
        manifest = read_manifest(folder)
        if manifest.get("kind") != "artifact":
            continue
        try:
            targets.append(open_artifact(folder, check_integrity=False))
        except ModelError as exc:
            broken.append(_failure(STATUS_FAILED, {**manifest, "name": manifest.get("name") or folder.name}, str(exc)))
    return targets, broken


def _index_entries(artifacts_dir: Path) -> list[dict]:
    """The named entries of OUT/artifacts.json; none when there is no readable index (it is optional)."""
    try:
        entries = load_json(artifacts_dir / EXPORT_INDEX).get("artifacts", [])
    except (OSError, BadJson, AttributeError):
        return []
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str) and e["name"]] \
        if isinstance(entries, list) else []


def export_failures(artifacts_dir: Path | str) -> list[dict]:
    """Artifacts that `edgevit export` tried and failed (OUT/artifacts.json)."""
    return [_failure(STATUS_EXPORT_FAILED, entry, entry.get("error") or "`edgevit export` recorded no error message")
            for entry in _index_entries(Path(artifacts_dir)) if entry.get("status") not in (None, STATUS_OK)]


def missing_artifacts(artifacts_dir: Path | str) -> list[str]:
    """Artifacts OUT/artifacts.json lists as built whose folders are gone: a warning each, and their names."""
    root = Path(artifacts_dir)
    missing = [entry["name"] for entry in _index_entries(root)
               if entry.get("status") == STATUS_OK and not (root / entry["name"]).is_dir()]
    for name in missing:
        logger.warning(f"{root / EXPORT_INDEX} lists {name!r} as built, but {root / name} is missing; "
                       f"it is not measured (export it again to bench it)")
    return missing


def _failure(status: str, described: dict, reason: str) -> dict:
    """A target that was never measured: its status, its artifact block (what is known of it) and why."""
    artifact = artifact_block({"format": described.get("format", "?"), "quantization": described.get("quantization", "?")},
                              name=described["name"])
    return {"status": status, "artifact": artifact, "reason": reason}


@dataclass(frozen=True)
class Job:
    """One measurement, picklable so it can cross into a spawned child."""

    target: Artifact
    runtime: str
    device: str
    threads: int | None
    options: BenchOptions
    settings: tuple[tuple[str, object], ...] = ()  # runtime settings of this row; () = the runtime's defaults


def jobs(targets: list[Artifact], options: BenchOptions, runtimes: Callable[[Artifact], list[str]]) -> Iterator[Job]:
    """Every target x runtime x device (x thread count on the CPU); NO_RUNTIME where its format has none."""
    for target in targets:
        for runtime in runtimes(target) or [NO_RUNTIME]:
            variants = [()] + [pairs for name, pairs in options.settings if name == runtime]
            for settings in variants:
                if CPU in options.devices:
                    for threads in options.threads:
                        yield Job(target, runtime, CPU, threads, options, settings)
                if GPU in options.devices:
                    yield Job(target, runtime, GPU, None, options, settings)
