"""Parity statistics between a reference's and an artifact's class probabilities. Pure numpy.

All functions take (N, C) probability arrays and/or (N,) integer labels. Accuracy differences are in
percentage points (artifact minus reference), so -0.3 means the artifact got 0.3 points fewer right.
The 95% interval is a paired bootstrap over images with a fixed seed: each image contributes
d = correct_artifact - correct_reference in {-1, 0, 1}, and resampling N images is the same as
drawing the three counts from a multinomial, which makes 10,000 resamples cheap at any N.
McNemar's exact test on the discordant pairs gives the matching p-value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
KL_EPSILON = 1e-12  # probabilities are clipped here before the log: a hard 0 would make KL infinite


def top1(probabilities: np.ndarray) -> np.ndarray:
    return np.argmax(np.asarray(probabilities), axis=1)


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    return float(np.mean(predictions == labels)) if len(labels) else float("nan")


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of images whose top-1 class is the same in both prediction vectors."""
    a, b = np.asarray(a), np.asarray(b)
    return float(np.mean(a == b)) if len(a) else float("nan")


def abs_errors(reference: np.ndarray, artifact: np.ndarray) -> tuple[float, float]:
    """(max, mean) of |artifact - reference| over every image and class."""
    diff = np.abs(np.asarray(artifact, np.float64) - np.asarray(reference, np.float64))
    return float(diff.max()), float(diff.mean())


def mean_kl_divergence(reference: np.ndarray, artifact: np.ndarray, *, epsilon: float = KL_EPSILON) -> float:
    """Mean over images of KL(reference || artifact) in nats, each row renormalised after clipping at `epsilon`."""
    p = np.clip(np.asarray(reference, np.float64), epsilon, None)
    q = np.clip(np.asarray(artifact, np.float64), epsilon, None)
    p /= p.sum(axis=1, keepdims=True)
    q /= q.sum(axis=1, keepdims=True)
    return float(np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=1)))


@dataclass(frozen=True)
class AccuracyDifference:
    """Artifact accuracy minus reference accuracy, in percentage points, with its 95% interval."""

    points: float
    low: float
    high: float
    improved: int  # images the artifact gets right and the reference wrong
    worsened: int  # images the reference gets right and the artifact wrong
    mcnemar_p: float


def accuracy_difference(
    reference_correct: np.ndarray,
    artifact_correct: np.ndarray,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> AccuracyDifference:
    ref = np.asarray(reference_correct, bool)
    art = np.asarray(artifact_correct, bool)
    if ref.shape != art.shape or ref.ndim != 1 or len(ref) == 0:
        raise ValueError("accuracy_difference needs two equally long, non-empty 1-D boolean arrays")
    n = len(ref)
    improved = int(np.sum(art & ~ref))
    worsened = int(np.sum(ref & ~art))
    counts = np.random.default_rng(seed).multinomial(n, [improved / n, worsened / n, (n - improved - worsened) / n], size=resamples)
    diffs = (counts[:, 0] - counts[:, 1]) / n * 100.0
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(diffs, [tail, 100.0 - tail])
    return AccuracyDifference(
        points=(improved - worsened) / n * 100.0,
        low=float(low),
        high=float(high),
        improved=improved,
        worsened=worsened,
        mcnemar_p=mcnemar_exact_p(improved, worsened),
    )


def mcnemar_exact_p(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: the binomial test of min(b, c) out of b + c discordant pairs at 1/2."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n  # exact integers: 2.0**n overflows past n = 1023
    return min(1.0, 2.0 * tail)
