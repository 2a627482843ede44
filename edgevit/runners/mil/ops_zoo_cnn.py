"""The CNN ops InceptionV3 and PoolFormer need: relu, max_pool, avg_pool, batch_norm.

The import helper (`edgevit import`) grows the same ops for MobileNet in its own module; these are
kept apart so the two branches merge cleanly, and one copy should stay at merge time. Semantics follow
the MIL op reference: NCHW, `pad_type` valid | same | custom, avg_pool's
`exclude_padding_from_average` (TF's SAME average pooling divides by the valid count).
"""

from __future__ import annotations

import math

import numpy as np

from edgevit.errors import ModelError
from edgevit.runners.mil.ops import Args


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def _pads(a: Args, spatial, kernel, strides) -> list[int]:
    pad_type = a.str("pad_type", "valid")
    if pad_type == "valid":
        return [0, 0] * len(spatial)
    if pad_type == "custom":
        return list(a.ints("pad") or [0, 0] * len(spatial))
    if pad_type in ("same", "same_lower"):
        pads = []
        for size, k, s in zip(spatial, kernel, strides):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            small, large = total // 2, total - total // 2
            pads += [small, large] if pad_type == "same" else [large, small]
        return pads
    raise ModelError(f"pooling pad_type {pad_type!r} is not supported by the numpy interpreter")


def _windows(a: Args, x: np.ndarray, fill: float):
    """(N, C, OH, OW, kh, kw) windows of the padded input, and the same for a mask of real (unpadded) cells."""
    if x.ndim != 4:
        raise ModelError(f"pooling on a rank-{x.ndim} input is not supported by the numpy interpreter (2-D only)")
    if a.bool("ceil_mode"):
        raise ModelError("pooling with ceil_mode=True is not supported by the numpy interpreter")
    kernel, strides = a.ints("kernel_sizes"), a.ints("strides") or [1, 1]
    top, bottom, left, right = _pads(a, x.shape[2:], kernel, strides)
    widths = ((0, 0), (0, 0), (top, bottom), (left, right))
    padded = np.pad(x, widths, constant_values=fill)
    mask = np.pad(np.ones(x.shape[2:], np.float32), widths[2:])
    view = np.lib.stride_tricks.sliding_window_view(padded, kernel, axis=(2, 3))[:, :, :: strides[0], :: strides[1]]
    mask_view = np.lib.stride_tricks.sliding_window_view(mask, kernel)[:: strides[0], :: strides[1]]
    return view, mask_view


def _max_pool(a: Args) -> np.ndarray:
    view, _ = _windows(a, _f32(a["x"]), -np.inf)
    return view.max(axis=(-2, -1))


def _avg_pool(a: Args) -> np.ndarray:
    view, mask = _windows(a, _f32(a["x"]), 0.0)
    total = view.sum(axis=(-2, -1))
    if a.bool("exclude_padding_from_average"):
        return total / mask.sum(axis=(-2, -1))
    return total / np.float32(view.shape[-1] * view.shape[-2])


def _batch_norm(a: Args) -> np.ndarray:
    x = _f32(a["x"])
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean, var = _f32(a["mean"]).reshape(shape), _f32(a["variance"]).reshape(shape)
    out = (x - mean) / np.sqrt(var + np.float32(a.float("epsilon", 1e-5)))
    if a.get("gamma") is not None:
        out = out * _f32(a["gamma"]).reshape(shape)
    if a.get("beta") is not None:
        out = out + _f32(a["beta"]).reshape(shape)
    return out


ZOO_CNN_OPS = {
    "relu": lambda a: np.maximum(_f32(a["x"]), 0),
    "max_pool": _max_pool,
    "avg_pool": _avg_pool,
    "batch_norm": _batch_norm,
}
