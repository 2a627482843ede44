"""Parity statistics between a reference's and an artifact's class probabilities. Pure numpy.

All functions take (N, C) probability arrays and/or (N,) integer labels. Accuracy differences are in
percentage points (artifact minus reference), so -0.3 means the artifact got 0.3 points fewer right.
Each image contributes d = correct_artifact - correct_reference in {-1, 0, 1}; the interval of the
difference and of the agreement come from edgevit/verify/intervals.py (Tango's paired score interval,
Clopper-Pearson), and McNemar's exact test on the discordant pairs gives the matching p-value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgevit.verify.intervals import (AGREEMENT_METHOD, CONFIDENCE, DIFFERENCE_METHOD, clopper_pearson, mcnemar_exact_p,
                                     paired_difference_interval)

# Jensen-Shannon rather than KL: KL needs its zeros clipped, and for int8-output models (probabilities on
# a 1/256 grid, many exact zeros) it then mostly measures the clipping floor. JS is finite without one.
DIVERGENCE_METHOD = "mean Jensen-Shannon divergence per image, bits (0: identical, 1: disjoint)"


def top1(probabilities: np.ndarray) -> np.ndarray:
    return np.argmax(np.asarray(probabilities), axis=1)


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    return float(np.mean(predictions == labels)) if len(labels) else float("nan")


def abs_errors(reference: np.ndarray, artifact: np.ndarray) -> tuple[float, float]:
    """(max, mean) of |artifact - reference| over every image and class."""
    diff = np.abs(np.asarray(artifact, np.float64) - np.asarray(reference, np.float64))
    return float(diff.max()), float(diff.mean())


def mean_js_divergence(reference: np.ndarray, artifact: np.ndarray) -> float:
    """Mean over images of JS(reference, artifact) in bits, each row renormalised; 0 * log 0 counts as 0."""
    p = np.clip(np.asarray(reference, np.float64), 0.0, None)
    q = np.clip(np.asarray(artifact, np.float64), 0.0, None)
    p = p / p.sum(axis=1, keepdims=True)
    q = q / q.sum(axis=1, keepdims=True)
    m = (p + q) / 2.0

    def kl_to_m(x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(x > 0, x * (np.log2(x) - np.log2(m)), 0.0)
        return terms.sum(axis=1)

    return float(np.mean((kl_to_m(p) + kl_to_m(q)) / 2.0))


@dataclass(frozen=True)
class AccuracyDifference:
    """Artifact accuracy minus reference accuracy, in percentage points, with its interval at CONFIDENCE."""

    points: float
    low: float
    high: float
    improved: int  # images the artifact gets right and the reference wrong
    worsened: int  # images the reference gets right and the artifact wrong
    count: int
    mcnemar_p: float
    method: str = DIFFERENCE_METHOD
    confidence: float = CONFIDENCE


def accuracy_difference(reference_correct: np.ndarray, artifact_correct: np.ndarray, *,
                        confidence: float = CONFIDENCE) -> AccuracyDifference:
    ref = np.asarray(reference_correct, bool)
    art = np.asarray(artifact_correct, bool)
    if ref.shape != art.shape or ref.ndim != 1 or len(ref) == 0:
        raise ValueError("accuracy_difference needs two equally long, non-empty 1-D boolean arrays")
    return difference_from_counts(int(np.sum(art & ~ref)), int(np.sum(ref & ~art)), len(ref), confidence=confidence)


def difference_from_counts(improved: int, worsened: int, count: int, *, confidence: float = CONFIDENCE) -> AccuracyDifference:
    """The same from the discordant counts alone (what a verify JSON keeps, so old results can be re-judged)."""
    low, high = paired_difference_interval(improved, worsened, count, confidence)
    return AccuracyDifference(points=(improved - worsened) / count * 100.0, low=low * 100.0, high=high * 100.0,
                              improved=improved, worsened=worsened, count=count,
                              mcnemar_p=mcnemar_exact_p(improved, worsened), confidence=confidence)


@dataclass(frozen=True)
class Agreement:
    """k of n images with the reference's top-1 class, with the interval of the fraction at CONFIDENCE."""

    agreeing: int
    count: int
    low: float
    high: float
    method: str = AGREEMENT_METHOD
    confidence: float = CONFIDENCE

    @property
    def fraction(self) -> float:
        return self.agreeing / self.count


def agreement_interval(a: np.ndarray, b: np.ndarray, *, confidence: float = CONFIDENCE) -> Agreement:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError("agreement_interval needs two equally long, non-empty 1-D prediction arrays")
    return agreement_from_counts(int(np.sum(a == b)), len(a), confidence=confidence)


def agreement_from_counts(agreeing: int, count: int, *, confidence: float = CONFIDENCE) -> Agreement:
    low, high = clopper_pearson(agreeing, count, confidence)
    return Agreement(agreeing, count, low, high, confidence=confidence)
