"""Golden-vector gates: how far a device's probabilities may be from the reference's, per artifact mode.

They start from verify's gate for the artifact's format and quantization (edgevit.verify.gates): its max
abs probability error for float modes and its top-1 agreement for quantized ones. Verify judges
quantized modes by decisions on a whole labelled split; a handful of golden vectors on a device also
needs a bound on the probabilities themselves: the mode's `device_max_abs_error` in edgevit.formats, the
one home of these numbers. A broken port (wrong preprocessing, a miscompiled op) moves probabilities
by tenths, while healthy weight-only int8 stays within a few hundredths (the tiny test ViT: 0.003).

The gate is written into each bundle (bundle.json) and each iOS sync (gate.json), so the device
applies exactly the numbers the host chose.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgevit.errors import UsageError
from edgevit.formats import EXPORT_FORMATS, find_mode, mode_names
from edgevit.verify.gates import default_gate


@dataclass(frozen=True)
class GoldenGate:
    max_abs_error: float  # largest |probability - reference probability| over all vectors and classes
    min_agreement: float | None  # fraction of vectors whose top-1 class equals the reference's; None: not gated
    source: str  # where the numbers came from

    def to_dict(self, quantization: str) -> dict:
        return {"quantization": quantization, "max_abs_error": self.max_abs_error,
                "min_agreement": self.min_agreement, "source": self.source}


def golden_gate(fmt: str, quantization: str, *, max_abs_error: float | None = None,
                min_agreement: float | None = None) -> GoldenGate:
    """The gate for an artifact of `fmt`/`quantization`, either bound overridable; UsageError when none is known."""
    base = default_gate(fmt, quantization)
    mode = find_mode(fmt, quantization)
    bound = mode.device_max_abs_error if mode is not None else None
    known_error = base.max_abs_error if base is not None and base.max_abs_error is not None else bound
    if max_abs_error is None and known_error is None:
        known = ", ".join(mode_names(EXPORT_FORMATS))
        raise UsageError(f"no golden-vector gate for {fmt}/{quantization} (known: {known}); pass --max-abs-error")
    parts = []
    if base is not None:
        parts.append(f"edgevit.verify.gates {fmt}/{quantization}")
    if bound is not None and (base is None or base.max_abs_error is None):
        parts.append("device probability bound")
    if max_abs_error is not None or min_agreement is not None:
        parts.append("overridden at bundle time")
    gate = GoldenGate(
        max_abs_error=float(max_abs_error if max_abs_error is not None else known_error),
        min_agreement=min_agreement if min_agreement is not None else (base.min_agreement if base is not None else None),
        source=" + ".join(parts),
    )
    if not gate.max_abs_error >= 0:
        raise UsageError(f"--max-abs-error must be 0 or more, got {gate.max_abs_error}")
    if gate.min_agreement is not None and not 0 <= gate.min_agreement <= 1:
        raise UsageError(f"--min-agreement must be within 0..1, got {gate.min_agreement}")
    return gate
