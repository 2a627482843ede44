"""Per-boundary error statistics, accumulated image by image (a ViT-L/32 boundary is 200 KB per image,
so nothing is kept beyond a few running sums). Pure numpy.

SQNR (dB) = 10 log10(sum ref^2 / sum (artifact - ref)^2) over every image and element; an artifact equal
to the reference has no noise and no finite SQNR (reported as null, "exact"). Cosine similarity is over
the same flattened values; max abs error is the largest |artifact - ref| of any element.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# SQNR above this counts as "exact" when ranking drops (float32 rounding alone gives 120-150 dB).
SQNR_CAP_DB = 150.0


@dataclass
class ErrorStats:
    signal: float = 0.0  # sum ref^2
    noise: float = 0.0  # sum (art - ref)^2
    dot: float = 0.0  # sum ref * art
    art_energy: float = 0.0  # sum art^2
    max_abs: float = 0.0
    elements: int = 0
    non_finite: int = 0

    def add(self, reference: np.ndarray, artifact: np.ndarray) -> None:
        ref = np.asarray(reference, np.float64).ravel()
        art = np.asarray(artifact, np.float64).ravel()
        bad = ~np.isfinite(art)
        self.non_finite += int(bad.sum())
        art = np.where(bad, 0.0, art)
        diff = art - ref
        self.signal += float(ref @ ref)
        self.noise += float(diff @ diff)
        self.dot += float(ref @ art)
        self.art_energy += float(art @ art)
        self.max_abs = max(self.max_abs, float(np.abs(diff).max()) if diff.size else 0.0)
        self.elements += ref.size

    @property
    def sqnr_db(self) -> float:
        """+inf when the artifact matched exactly; -inf when the reference itself is all zeros but the artifact is not."""
        if self.non_finite:
            return -math.inf
        if self.noise == 0.0:
            return math.inf
        if self.signal == 0.0:
            return -math.inf
        return 10.0 * math.log10(self.signal / self.noise)

    @property
    def cosine(self) -> float:
        denominator = math.sqrt(self.signal * self.art_energy)
        if denominator == 0.0:
            return 1.0 if self.signal == self.art_energy else 0.0
        return self.dot / denominator


def capped(sqnr_db: float) -> float:
    """SQNR clipped to [0, SQNR_CAP_DB] for ranking drops: exact and near-exact rank alike."""
    return min(max(sqnr_db, 0.0), SQNR_CAP_DB)


def align(reference: np.ndarray, artifact: np.ndarray) -> tuple[np.ndarray, np.ndarray, str | None]:
    """The two tensors in a comparable layout, and a note on what was changed; ValueError when they cannot be.

    Converters keep the values of a boundary but not always its layout: ONNX convolutions are NCHW
    (the SavedModel is NHWC), and TFLite keeps only the class token of the last block when nothing
    else of it is used. Nothing else is reshaped: a different size means a different tensor.
    """
    reference, artifact = np.asarray(reference), np.asarray(artifact)
    if artifact.shape == reference.shape:
        return reference, artifact, None
    if artifact.size == reference.size and artifact.ndim == reference.ndim:
        if artifact.ndim == 4 and artifact.transpose(0, 2, 3, 1).shape == reference.shape:
            return reference, artifact.transpose(0, 2, 3, 1), "NCHW in the artifact"
        if artifact.shape[1:] == reference.shape[1:] or np.squeeze(artifact).shape == np.squeeze(reference).shape:
            return reference, artifact.reshape(reference.shape), None
    if reference.ndim == 3 and artifact.ndim == 3 and artifact.shape[0] == reference.shape[0] and artifact.shape[1] == 1 \
            and artifact.shape[2] == reference.shape[2]:
        return reference[:, :1], artifact, "class token only (the artifact computes no other token here)"
    raise ValueError(f"shape {list(artifact.shape)} does not match the SavedModel's {list(reference.shape)}")
