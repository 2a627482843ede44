"""Decode a split into model-sized uint8 pixels, once, and hand out normalised batches."""

from __future__ import annotations

import numpy as np

from edgevit.config import Preprocessing
from edgevit.data.folders import Split
from edgevit.data.images import load_rgb
from edgevit.data.preprocess import normalize, resize_rgb


def load_pixels(split: Split, spec: Preprocessing, *, progress: bool = False) -> np.ndarray:
    """All images of `split` -> uint8 (N, H, W, 3). Decoding errors surface as DataError naming the file."""
    pixels = np.empty((len(split), spec.height, spec.width, 3), dtype=np.uint8)
    paths = split.paths
    if progress:
        from tqdm import tqdm

        paths = tqdm(paths, desc=f"decode {split.name}", unit="img", leave=False)
    for i, path in enumerate(paths):
        pixels[i] = resize_rgb(load_rgb(path), spec)
    return pixels


def epoch_order(num: int, *, seed: int, epoch: int) -> np.ndarray:
    """The shuffle of one epoch; a pure function of (seed, epoch) so a resumed run sees the same order."""
    return np.random.default_rng([seed, epoch]).permutation(num)


def normalized_batches(pixels: np.ndarray, spec: Preprocessing, batch_size: int):
    for start in range(0, len(pixels), batch_size):
        yield normalize(pixels[start : start + batch_size], spec)
