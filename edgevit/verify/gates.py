"""Parity gates: the tolerances each quantization mode must meet, overridable per artifact.

The default gate of each mode is a row of edgevit.formats (Gate says what its three numbers mean). A
recipe TOML overrides them per artifact name:

    [gates.tflite-int8]
    min_agreement = 0.99
    max_accuracy_drop = 0.5

`edgevit export --recipe` records each artifact's gates in OUT/artifacts.json, so the gates travel
with the artifacts: verify without --recipe judges each artifact by the gates it was exported with
(`recorded_gates`), and by the mode's default where none were recorded.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

from edgevit.errors import UsageError
from edgevit.fsutil import BadJson, load_json
from edgevit.formats import GATE_KEYS, Gate, find_mode, mode_names


def default_gate(fmt: str, quantization: str) -> Gate | None:
    """The table's gate of `fmt`/`quantization` (edgevit.formats), None for a mode it does not know."""
    mode = find_mode(fmt, quantization)
    return replace(mode.gate, source=f"default for {fmt}/{quantization}") if mode else None


def gate_for(name: str, fmt: str, quantization: str, overrides: dict[str, dict], *, origin: str = "recipe") -> Gate:
    """The default gate of the artifact's mode with `overrides[name]` on top; `origin` says where those
    came from in the gate's source ("recipe", or the artifacts.json they were recorded in)."""
    base = default_gate(fmt, quantization)
    override = overrides.get(name)
    if override is None:
        if base is None:
            known = ", ".join(mode_names())
            raise UsageError(f"{name}: no parity gate for {fmt}/{quantization} (known: {known}); add [gates.{name}] to a --recipe")
        return base
    return replace(base or Gate(), **override, source=f"{origin} [gates.{name}]" + (f" over {base.source}" if base else ""))


def recorded_gates(artifact: Path, manifest: dict) -> tuple[dict[str, dict], str]:
    """({name: gate values}, origin) that `edgevit export` recorded for `artifact` in its folder's
    artifacts.json; ({}, "") when none were, or when the entry no longer describes this artifact (its
    sha256 or size differs from the manifest's: rebuilt or replaced since; a .mlpackage folder has no
    sha256, only its size). Bad values are a UsageError naming the file."""
    from edgevit.outputs import ARTIFACTS_INDEX

    index_path = Path(artifact).parent / ARTIFACTS_INDEX
    try:
        index = load_json(index_path)
    except (OSError, BadJson):
        return {}, ""
    entries = index.get("artifacts") if isinstance(index, dict) else None
    name = Path(artifact).name
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("name") == name and entry.get("gates") is not None:
            if (entry.get("sha256"), entry.get("file_size")) != (manifest.get("sha256"), manifest.get("file_size")):
                return {}, ""
            recipe = (index.get("recipe") or {}).get("name") if isinstance(index.get("recipe"), dict) else None
            origin = f"recorded at export in {index_path}" + (f" (recipe {recipe})" if recipe else "")
            return {name: _check_override(index_path, name, entry["gates"])}, origin
    return {}, ""


def read_gate_overrides(recipe: Path | str | None) -> dict[str, dict]:
    """`[gates.<artifact-name>]` tables of a recipe TOML, checked; {} without a recipe."""
    if recipe is None:
        return {}
    path = Path(recipe)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: recipe not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    gates = document.get("gates", {})
    if not isinstance(gates, dict):
        raise UsageError(f"{path}: 'gates' must be a table of [gates.<artifact-name>] tables")
    return {name: _check_override(path, name, table) for name, table in gates.items()}


def _check_override(path: Path, name: str, table) -> dict:
    where = f"{path}: [gates.{name}]"
    if not isinstance(table, dict):
        raise UsageError(f"{where} must be a table with keys {', '.join(GATE_KEYS)}")
    unknown = sorted(set(table) - set(GATE_KEYS))
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(GATE_KEYS)}")
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise UsageError(f"{where}: {key} must be a non-negative number, got {value!r}")
        if key == "min_agreement" and value > 1:
            raise UsageError(f"{where}: min_agreement is a fraction from 0 to 1, got {value!r}")
    return {key: float(value) for key, value in table.items()}


def gate_failures(gate: Gate, *, agreement: float, accuracy_drop: float, max_abs_error: float, flips: int, count: int) -> list[str]:
    """One line per limit the measured numbers break, saying by how much; empty when the gate passes."""
    failures = []
    if gate.min_agreement is not None and agreement < gate.min_agreement:
        failures.append(
            f"top-1 agreement {agreement:.2%} is below the gate's {gate.min_agreement:.2%} by "
            f"{(gate.min_agreement - agreement) * 100:.2f} points ({flips} of {count} images flipped)"
        )
    if gate.max_accuracy_drop is not None and accuracy_drop > gate.max_accuracy_drop:
        failures.append(
            f"accuracy drop {accuracy_drop:.2f} points exceeds the gate's {gate.max_accuracy_drop:.2f} by "
            f"{accuracy_drop - gate.max_accuracy_drop:.2f} points"
        )
    if gate.max_abs_error is not None and not max_abs_error <= gate.max_abs_error:  # NaN fails too
        failures.append(
            f"max abs probability error {max_abs_error:.3g} exceeds the gate's {gate.max_abs_error:.3g} "
            f"by {max_abs_error - gate.max_abs_error:.3g}"
        )
    return failures
