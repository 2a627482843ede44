"""Training batches for Keras' fit(): a fixed order per epoch, prepared by worker threads ahead of the accelerator.

A split is decoded once into uint8 pixels kept in memory when it fits (`cache_bytes`); a larger one is
decoded batch by batch from its files. Either way each batch is normalised (edgevit.data.preprocess)
on the host by one of `workers` threads, and up to `prefetch` finished batches wait in Keras'
queue, so decoding overlaps the accelerator's step. Pillow's decode/resize and numpy's arithmetic
release the GIL, so threads run in parallel; Keras' queue hands batches out in index order, so the
batches a run sees do not depend on the number of workers (a resumed run stays exact).

Data-parallel JAX needs every batch to split evenly over the devices: with `pad_to_multiple` > 1
a short last batch is padded with copies of its first images that carry sample weight 0, so they
change neither the loss (the loss is averaged over the sample weights) nor the metrics.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from edgevit.config import Preprocessing
from edgevit.data.folders import Split
from edgevit.data.images import load_rgb
from edgevit.data.preprocess import normalize, resize_rgb

# Decoded pixels of a split are kept in memory up to this size; beyond it batches are decoded from the files.
PIXEL_CACHE_BYTES = 6 * 1024**3
# Worker threads when none is asked for: enough to decode JPEGs for one accelerator, bounded by the cores.
MAX_DEFAULT_WORKERS = 8


def default_workers() -> int:
    return max(1, min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1))


@dataclass(frozen=True)
class FeedOptions:
    workers: int = 1  # threads preparing batches in parallel (1: prepared in the training loop's thread)
    prefetch: int = 4  # finished batches queued ahead of the accelerator (with workers > 1)
    cache_bytes: int = PIXEL_CACHE_BYTES
    pad_to_multiple: int = 1  # batch sizes must be a multiple of this (data-parallel devices)


def _decode(paths, spec: Preprocessing) -> np.ndarray:
    return np.stack([resize_rgb(load_rgb(path), spec) for path in paths])


def decode_split(split: Split, spec: Preprocessing, *, workers: int, progress: bool = False) -> np.ndarray:
    """All images of `split` -> uint8 (N, H, W, 3), decoded by `workers` threads, in file order."""
    pixels = np.empty((len(split), spec.height, spec.width, 3), dtype=np.uint8)
    chunk = 64
    starts = range(0, len(split), chunk)

    def fill(start: int) -> int:
        stop = min(start + chunk, len(split))
        pixels[start:stop] = _decode(split.paths[start:stop], spec)
        return stop - start

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        done = pool.map(fill, starts)
        if progress:
            from tqdm import tqdm

            with tqdm(total=len(split), desc=f"decode {split.name}", unit="img", leave=False) as bar:
                for count in done:
                    bar.update(count)
        else:
            for _ in done:
                pass
    return pixels


class SplitPixels:
    """The uint8 pixels of a split: from memory when the split fits in `cache_bytes`, else from its files."""

    def __init__(self, split: Split, spec: Preprocessing, options: FeedOptions, *, progress: bool = False):
        self.split = split
        self.spec = spec
        nbytes = len(split) * spec.height * spec.width * 3
        self.cached = decode_split(split, spec, workers=options.workers, progress=progress) if nbytes <= options.cache_bytes else None

    @classmethod
    def from_array(cls, pixels: np.ndarray, spec: Preprocessing) -> "SplitPixels":
        """Pixels already decoded (uint8 (N, H, W, 3) at the model's size): checks and benchmarks."""
        if pixels.dtype != np.uint8 or pixels.shape[1:] != (spec.height, spec.width, 3):
            raise ValueError(f"expected uint8 (N, {spec.height}, {spec.width}, 3) pixels, got {pixels.dtype} {pixels.shape}")
        source = cls.__new__(cls)
        source.split, source.spec, source.cached = None, spec, pixels
        return source

    def __len__(self) -> int:
        return len(self.cached) if self.split is None else len(self.split)

    def take(self, indices: np.ndarray) -> np.ndarray:
        if self.cached is not None:
            return self.cached[indices]
        return _decode([self.split.paths[i] for i in indices], self.spec)


def padded(indices: np.ndarray, multiple: int) -> tuple[np.ndarray, np.ndarray]:
    """`indices` grown to a multiple of `multiple` by repeating its start, and the sample weights (0 = padding)."""
    short = -len(indices) % multiple
    weights = np.ones(len(indices) + short, np.float32)
    if short:
        weights[len(indices):] = 0.0
        indices = np.concatenate([indices, np.resize(indices, short)])
    return indices, weights


@functools.cache
def _batches_class(keras):
    class Batches(keras.utils.PyDataset):
        def __init__(self, source: SplitPixels, labels: np.ndarray, order: np.ndarray, batch_size: int, options: FeedOptions):
            # Threads, never processes: forked workers would copy the cache and clash with the accelerator runtime.
            super().__init__(workers=options.workers, use_multiprocessing=False, max_queue_size=options.prefetch)
            self.source, self.labels, self.order = source, labels, order
            self.batch_size, self.multiple = batch_size, options.pad_to_multiple

        def __len__(self):
            return (len(self.order) + self.batch_size - 1) // self.batch_size

        def __getitem__(self, index):
            indices = self.order[index * self.batch_size : (index + 1) * self.batch_size]
            if self.multiple == 1:
                return normalize(self.source.take(indices), self.source.spec), self.labels[indices]
            indices, weights = padded(indices, self.multiple)
            return normalize(self.source.take(indices), self.source.spec), self.labels[indices], weights

    return Batches


def batches(keras, source: SplitPixels, labels: np.ndarray, order: np.ndarray, batch_size: int, options: FeedOptions):
    """A keras PyDataset over `source` in `order` (one epoch), `batch_size` images a batch."""
    return _batches_class(keras)(source, labels, order, batch_size, options)
