"""The one small protocol every runtime implements: load an artifact, predict a batch, say what ran.

verify and bench only talk to this protocol, so a new runtime is one module and one registry entry.
Inputs are always the output of edgevit.data.preprocess (float32 NHWC, already normalised): the
runner never preprocesses, so every artifact sees exactly the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class RunnerInfo:
    """What a runner actually ran on, for reports ("emulated" is set by reference-only runners)."""

    runtime: str  # e.g. "litert", "onnxruntime", "savedmodel", "coreml-mil-numpy"
    version: str
    device: str  # "cpu", "gpu", "ane", ...
    threads: int | None
    emulated: bool = False
    details: dict = field(default_factory=dict)  # e.g. {"xnnpack": True, "providers": [...]}


class Runner(Protocol):
    info: RunnerInfo

    def predict(self, images: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) float32 preprocessed images -> (N, num_classes) float32 probabilities."""
        ...

    def close(self) -> None:
        """Release the runtime's resources (sessions, interpreters)."""
        ...
