"""The ONE preprocessing function. Training, verification, benchmarks and the device harness use it;
the iOS app mirrors it from the manifest's `preprocessing` block."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from edgevit.config import Preprocessing
from edgevit.data.images import load_rgb

_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC, "nearest": Image.Resampling.NEAREST}


def resize_rgb(image: Image.Image, spec: Preprocessing) -> np.ndarray:
    """RGB image -> uint8 array (H, W, 3) at the model's size (squashed, no crop)."""
    if image.size != (spec.width, spec.height):
        image = image.resize((spec.width, spec.height), _RESAMPLE[spec.resize])
    return np.asarray(image, dtype=np.uint8)


def normalize(pixels: np.ndarray, spec: Preprocessing) -> np.ndarray:
    """uint8 (..., H, W, 3) -> float32 model input: (x - mean) / std per channel."""
    mean = np.asarray(spec.mean, dtype=np.float32)
    std = np.asarray(spec.std, dtype=np.float32)
    return (pixels.astype(np.float32) - mean) / std


def preprocess(image: Image.Image | np.ndarray | Path | str, spec: Preprocessing) -> np.ndarray:
    """One image (file, PIL image or uint8 RGB array) -> float32 (H, W, 3) model input."""
    if isinstance(image, (str, Path)):
        image = load_rgb(Path(image))
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image.astype(np.uint8), mode="RGB")
    return normalize(resize_rgb(image, spec), spec)
