"""Export recipes: a TOML file naming the artifacts to build and the parity gates each must pass.

    [recipe]
    name = "demo"
    description = "..."
    command = "edgevit export SAVED_MODEL --out OUT --recipe export/demo.toml"   # the exact command

    [artifacts.tflite-dynamic]          # the artifact's folder name under OUT
    format = "tflite"                   # tflite | onnx | coreml (edgevit/formats.py)
    quantization = "dynamic"            # plus any other option of that format (exporters/options.py)

    [gates.tflite-dynamic]              # read by `edgevit verify` (edgevit/verify/gates.py); every key optional
    min_agreement = 0.99                # top-1 agreement with the SavedModel on the labelled split, 0..1
    max_accuracy_drop = 0.5             # SavedModel accuracy minus artifact accuracy, percentage points
    max_abs_error = 0.01                # largest |p_artifact - p_savedmodel| over every probability

A gate's keys override the default gate of the artifact's format and quantization (edgevit/formats.py)
and are checked by verify/gates.py, so a recipe that loads here also loads in `edgevit verify`. A relative
`data` path (TFLite int8's calibration images) is relative to the recipe file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from edgevit.errors import EdgeVitError, UsageError

_TOP_LEVEL = ("recipe", "artifacts", "gates")
_RECIPE_KEYS = ("name", "description", "command")


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    command: str | None
    path: Path
    jobs: tuple  # ArtifactJob, in file order
    gates: dict  # artifact name -> {gate key: value}, as edgevit.verify.gates.read_gate_overrides returns them


def load_recipe(path: Path | str) -> Recipe:
    """Parse and check a recipe; UsageError naming the file and what is wrong."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: recipe not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the recipe ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    try:
        return _parse(data, path)
    except EdgeVitError as exc:
        message = str(exc)
        raise UsageError(message if message.startswith(str(path)) else f"{path}: {message}") from None


def _parse(data: dict, path: Path) -> Recipe:
    from edgevit.exporters.jobs import ArtifactJob
    from edgevit.verify.gates import read_gate_overrides

    _known_keys(data, _TOP_LEVEL, "top-level table")
    head = _table(data.get("recipe", {}), "[recipe]")
    _known_keys(head, _RECIPE_KEYS, "[recipe] key")
    artifacts = _table(data.get("artifacts"), "[artifacts]")
    if not artifacts:
        raise UsageError("no [artifacts.<name>] tables; name at least one artifact to build")
    _table(data.get("gates", {}), "[gates]")
    gates = read_gate_overrides(path)
    for name in gates:
        if name not in artifacts:
            raise UsageError(f"[gates.{name}] names no artifact; known artifacts: {', '.join(artifacts)}")
    jobs = []
    for name, table in artifacts.items():
        options = dict(_table(table, f"[artifacts.{name}]"))
        if "format" not in options:
            raise UsageError(f"[artifacts.{name}] has no format; set format = \"tflite\", \"onnx\" or \"coreml\"")
        fmt = options.pop("format")
        if isinstance(options.get("data"), str):
            options["data"] = str((path.parent / options["data"]).resolve())
        try:
            jobs.append(ArtifactJob.create(fmt, name=name, gates=gates.get(name), **options))
        except UsageError as exc:
            raise UsageError(f"[artifacts.{name}]: {exc}") from None
    return Recipe(
        name=str(head.get("name", path.stem)),
        description=str(head.get("description", "")),
        command=head.get("command"),
        path=path.resolve(),
        jobs=tuple(jobs),
        gates=gates,
    )


def _table(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"{where} must be a table")
    return value


def _known_keys(table: dict, known, what: str) -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise UsageError(f"unknown {what}(s) {', '.join(unknown)}; known: {', '.join(known)}")
