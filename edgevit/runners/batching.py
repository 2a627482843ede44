"""Feed a runtime whose input has a fixed or dynamic batch dimension, and check what comes back."""

from __future__ import annotations

from typing import Callable

import numpy as np

from edgevit.errors import ModelError


def check_images(images: np.ndarray, height: int, width: int) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != (height, width, 3):
        raise ModelError(f"expected preprocessed images of shape (N, {height}, {width}, 3), got {tuple(images.shape)}")
    return np.ascontiguousarray(images, dtype=np.float32)


def predict_in_chunks(
    images: np.ndarray, chunk: int, run: Callable[[np.ndarray], np.ndarray], num_classes: int, *, fixed_batch: bool = False
) -> np.ndarray:
    """Call `run` on consecutive slices of at most `chunk` images; stack the (n, C) float32 results.

    fixed_batch: the model takes exactly `chunk` images, so a short last slice is padded with zeros
    and the padding's outputs are dropped.
    """
    outputs = []
    for start in range(0, len(images), chunk):
        batch = images[start : start + chunk]
        n = len(batch)
        if fixed_batch and n < chunk:
            batch = np.concatenate([batch, np.zeros((chunk - n, *batch.shape[1:]), batch.dtype)])
        out = np.asarray(run(batch), dtype=np.float32).reshape(len(batch), -1)[:n]
        if out.shape[1] != num_classes:
            raise ModelError(f"the model returned {out.shape[1]} values per image, its manifest lists {num_classes} labels")
        outputs.append(out)
    return np.concatenate(outputs) if outputs else np.zeros((0, num_classes), np.float32)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
