"""What verify returns: per artifact its status, gate, failures and metrics; the reference's run; the data."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from edgevit.formats import Gate
from edgevit.runners import RunnerInfo
from edgevit.verify.gates import Judgement
from edgevit.verify.metrics import AccuracyDifference, Agreement


class Status(str, enum.Enum):
    PASSED = "passed"
    PARITY_FAILED = "parity failed"
    INCONCLUSIVE = "inconclusive"  # the split is too small to tell pass from fail at the gate's confidence
    FAILED_TO_LOAD = "failed to load"
    # No runtime here can run it (the Core ML interpreter lacks an op): not a fault of the artifact, not checked either.
    CANNOT_VERIFY = "cannot verify"


@dataclass(frozen=True)
class Flip:
    """An image whose top-1 class differs between the reference and the artifact."""

    path: str
    true_label: str
    reference: str
    artifact: str


@dataclass(frozen=True)
class ParityMetrics:
    count: int
    accuracy: float
    reference_accuracy: float
    difference: AccuracyDifference  # artifact - reference accuracy, points, with its 95% interval
    agreement_ci: Agreement  # the same-top-1 count with its 95% interval
    flips: tuple[Flip, ...]
    max_abs_error: float
    mean_abs_error: float
    mean_js_divergence: float  # bits (edgevit.verify.metrics.DIVERGENCE_METHOD)
    non_finite: int  # probabilities that are NaN or infinite

    @property
    def agreement(self) -> float:
        return self.agreement_ci.fraction

    @property
    def accuracy_drop(self) -> float:
        """Reference minus artifact accuracy in points (positive: the artifact is worse)."""
        return -self.difference.points


@dataclass(frozen=True)
class ArtifactParity:
    name: str
    folder: Path
    format: str | None
    quantization: str | None
    status: Status
    reason: str | None  # one line; None when passed without notes
    gate: Gate | None = None
    failures: tuple[str, ...] = ()
    judgement: Judgement | None = None  # None when nothing was measured (failed to load)
    metrics: ParityMetrics | None = None
    runner: RunnerInfo | None = None
    predict_seconds: float | None = None  # wall time of runner.predict over the whole split
    notes: tuple[str, ...] = ()
    manifest: dict = field(default_factory=dict, repr=False)

    @property
    def emulated(self) -> bool:
        return bool(self.runner and self.runner.emulated)

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED


@dataclass(frozen=True)
class ReferenceResult:
    saved_model: Path
    fingerprint: str
    accuracy: float
    runner: RunnerInfo
    predict_seconds: float


@dataclass(frozen=True)
class DataInfo:
    root: Path
    split: str
    count: int
    classes: int


@dataclass(frozen=True)
class VerifyReport:
    reference: ReferenceResult
    data: DataInfo
    results: tuple[ArtifactParity, ...]
    seconds: float
    warnings: tuple[str, ...] = ()  # about the split: too small to decide a gate, or cut by --max-images

    @property
    def passed(self) -> bool:
        """No artifact failed; one that cannot be verified here is listed (status and reason), not a failure."""
        return all(r.passed for r in self.results)

    @property
    def inconclusive(self) -> list[ArtifactParity]:
        return self.by_status(Status.INCONCLUSIVE)

    def by_status(self, status: Status) -> list[ArtifactParity]:
        return [r for r in self.results if r.status is status]
