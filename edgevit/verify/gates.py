"""Parity gates: the tolerances each quantization mode must meet, as data, overridable per recipe.

A gate checks up to three numbers against the reference (the SavedModel) on a labelled split:
  max_abs_error      largest |artifact probability - reference probability| (float formats)
  min_agreement      fraction of images with the same top-1 class as the reference (quantized formats)
  max_accuracy_drop  reference accuracy minus artifact accuracy, in percentage points
A recipe TOML overrides them per artifact name:

    [gates.tflite-int8]
    min_agreement = 0.99
    max_accuracy_drop = 0.5
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from edgevit.errors import UsageError

GATE_KEYS = ("min_agreement", "max_accuracy_drop", "max_abs_error")


@dataclass(frozen=True)
class Gate:
    min_agreement: float | None = None
    max_accuracy_drop: float | None = None  # percentage points
    max_abs_error: float | None = None
    source: str = ""  # where the numbers came from, for reports

    def limits(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k in GATE_KEYS and v is not None}

    def to_dict(self) -> dict:
        return {**self.limits(), "source": self.source}


def _float_gate(max_abs_error: float) -> Gate:
    return Gate(max_abs_error=max_abs_error)


def _quantized_gate(min_agreement: float, max_accuracy_drop: float) -> Gate:
    return Gate(min_agreement=min_agreement, max_accuracy_drop=max_accuracy_drop)


# (format, quantization) -> gate. Float formats must reproduce the probabilities; quantized ones the
# decisions. Looser where the method is lossier: full-integer activations (TFLite int8, ORT's
# per-batch uint8 activations) and 4-bit palettes lose more than int8 weights with float activations.
DEFAULT_GATES: dict[tuple[str, str], Gate] = {
    ("savedmodel", "fp32"): _float_gate(1e-4),
    ("tflite", "fp32"): _float_gate(1e-4),
    ("tflite", "fp16"): _float_gate(1e-2),
    ("tflite", "dynamic"): _quantized_gate(0.995, 0.3),
    ("tflite", "int8"): _quantized_gate(0.97, 1.0),
    ("onnx", "fp32"): _float_gate(1e-4),
    ("onnx", "fp16"): _float_gate(1e-2),
    ("onnx", "int8-dynamic"): _quantized_gate(0.90, 3.0),
    ("coreml", "fp32"): _float_gate(1e-4),
    ("coreml", "fp16"): _float_gate(1e-2),
    ("coreml", "int8"): _quantized_gate(0.99, 0.5),
    ("coreml", "palettize6"): _quantized_gate(0.98, 1.0),
    ("coreml", "palettize4"): _quantized_gate(0.95, 2.0),
}


def default_gate(fmt: str, quantization: str) -> Gate | None:
    gate = DEFAULT_GATES.get((fmt, quantization))
    return replace(gate, source=f"default for {fmt}/{quantization}") if gate else None


def gate_for(name: str, fmt: str, quantization: str, overrides: dict[str, dict]) -> Gate:
    """The default gate of the artifact's mode with the recipe's `[gates.<name>]` values on top."""
    base = default_gate(fmt, quantization)
    override = overrides.get(name)
    if override is None:
        if base is None:
            known = ", ".join(f"{f}/{q}" for f, q in DEFAULT_GATES)
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
