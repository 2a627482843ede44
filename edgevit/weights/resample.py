"""Position-grid resampling with the interpolation the source model itself uses at a new image size.

- Hugging Face ViT / DINOv2 (and their ONNX exports): `interpolate(mode="bicubic", align_corners=False,
  antialias=False)`, i.e. ONNX Resize cubic, a = -0.75, half-pixel, edge-clamped. Written here in numpy
  (a few lines, no library offers that exact kernel without torch) and tested against ONNX Runtime's Resize.
- timm: `resample_abs_pos_embed(interpolation="bicubic", antialias=True)`, PyTorch's antialiased bicubic,
  which reproduces PIL's (a = -0.5, support widened when shrinking); PIL does it here, channel by channel.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

BICUBIC = "bicubic"  # a = -0.75, half-pixel, no antialias
BICUBIC_ANTIALIAS = "bicubic-antialias"  # PIL / torch antialias=True, a = -0.5

INTERPOLATIONS = {
    BICUBIC: "bicubic (a=-0.75, half-pixel, no antialias; PyTorch interpolate / ONNX Resize cubic)",
    BICUBIC_ANTIALIAS: "bicubic with antialias (a=-0.5; PyTorch antialias=True / PIL BICUBIC)",
}


def _cubic(x: np.ndarray, a: float) -> np.ndarray:
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def cubic_matrix(n_in: int, n_out: int, a: float = -0.75) -> np.ndarray:
    """(n_out, n_in) weights of a 1-D cubic resize, half-pixel centres, indices clamped at the edges."""
    matrix = np.zeros((n_out, n_in), dtype=np.float64)
    src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    base = np.floor(src).astype(int)
    frac = src - base
    for k in (-1, 0, 1, 2):
        weight = _cubic(frac - k, a)
        np.add.at(matrix, (np.arange(n_out), np.clip(base + k, 0, n_in - 1)), weight)
    return matrix


def resample_grid(grid: np.ndarray, size: int, interpolation: str) -> np.ndarray:
    """(G, G, D) -> (size, size, D) float32."""
    if grid.shape[0] == size and grid.shape[1] == size:
        return grid.astype(np.float32)
    if interpolation == BICUBIC:
        rows = cubic_matrix(grid.shape[0], size)
        cols = cubic_matrix(grid.shape[1], size)
        return np.einsum("oh,hwd,pw->opd", rows, grid.astype(np.float64), cols).astype(np.float32)
    if interpolation == BICUBIC_ANTIALIAS:
        channels = [np.asarray(Image.fromarray(np.ascontiguousarray(grid[:, :, d], dtype=np.float32), mode="F")
                               .resize((size, size), Image.Resampling.BICUBIC)) for d in range(grid.shape[2])]
        return np.stack(channels, axis=-1).astype(np.float32)
    raise ValueError(f"unknown interpolation {interpolation!r}")
