"""Golden-vector parity: the artifact's probabilities against the reference's, judged by the bundle's gate."""

from __future__ import annotations

import numpy as np


def golden_parity(outputs: np.ndarray, reference: np.ndarray, true_labels: np.ndarray | None, *,
                  gate: dict, reference_runtime: str) -> tuple[dict, list[str]]:
    """The record's `parity` block and every way it misses the gate (empty list: passed).

    gate: {"max_abs_error": float, "min_agreement": float or None (not gated), ...} as written into
    bundle.json at bundle time (edgevit/device/gates.py).
    """
    count = int(reference.shape[0])
    finite = bool(np.all(np.isfinite(outputs)))
    ours, theirs = outputs.argmax(axis=1), reference.argmax(axis=1)
    agreement = float(np.mean(ours == theirs))
    flips = int(np.sum(ours != theirs))
    max_abs_diff = float(np.max(np.abs(outputs - reference))) if finite else None
    failures = []
    if not finite:
        failures.append("the model returned NaN or infinite probabilities")
    elif max_abs_diff > float(gate["max_abs_error"]):
        failures.append(f"max |probability difference| {max_abs_diff:.3g} > gate {float(gate['max_abs_error']):.3g}")
    if gate.get("min_agreement") is not None and agreement < float(gate["min_agreement"]):
        failures.append(f"top-1 agreement {agreement:.2%} ({flips} of {count} flipped) < gate {float(gate['min_agreement']):.2%}")
    accuracy = reference_accuracy = None
    if true_labels is not None:
        accuracy = float(np.mean(ours == true_labels))
        reference_accuracy = float(np.mean(theirs == true_labels))
    block = {
        "reference": reference_runtime,
        "split": "golden",
        "count": count,
        "accuracy": accuracy,
        "reference_accuracy": reference_accuracy,
        "agreement": agreement,
        "flips": flips,
        "max_abs_diff": max_abs_diff,
        "passed": not failures,
        "gate": dict(gate),
    }
    return block, failures
