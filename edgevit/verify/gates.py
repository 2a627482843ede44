"""Parity gates: the tolerances each quantization mode must meet, overridable per recipe.

The default gate of each mode is a row of edgevit.formats (Gate says what its three numbers mean). A
recipe TOML overrides them per artifact name:

    [gates.tflite-int8]
    min_agreement = 0.99
    max_accuracy_drop = 0.5
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

from edgevit.errors import UsageError
from edgevit.formats import GATE_KEYS, Gate, find_mode, mode_names


def default_gate(fmt: str, quantization: str) -> Gate | None:
    """The table's gate of `fmt`/`quantization` (edgevit.formats), None for a mode it does not know."""
    mode = find_mode(fmt, quantization)
    return replace(mode.gate, source=f"default for {fmt}/{quantization}") if mode else None


def gate_for(name: str, fmt: str, quantization: str, overrides: dict[str, dict]) -> Gate:
    """The default gate of the artifact's mode with the recipe's `[gates.<name>]` values on top."""
    base = default_gate(fmt, quantization)
    override = overrides.get(name)
    if override is None:
        if base is None:
            known = ", ".join(mode_names())
            raise UsageError(f"{name}: no parity gate for {fmt}/{quantization} (known: {known}); add [gates.{name}] to a --recipe")
        return base
    return replace(base or Gate(), **override, source=f"recipe [gates.{name}]" + (f" over {base.source}" if base else ""))


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
