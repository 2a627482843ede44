"""The MIL ops convolutional networks add to a ViT's (MobileNetV3, InceptionV3, ResNets): activations, pad,
pooling, batch norm, element-wise extremes and reductions, in numpy.

Same conventions as ops.py: handlers take the op's decoded arguments, compute in float32 and return
the value; the interpreter rounds to the declared type. Tensors are NCHW as in MIL (coremltools
transposes TF's NHWC around them). Semantics follow coremltools.converters.mil.mil.ops.defs.iOS15
(activation.py, pool.py, normalization.py, tensor_operation.py's pad, elementwise_*.py).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from edgevit.errors import ModelError
from edgevit.runners.mil.ops import Args, _axes, _binary, _conv_pads, _f32, _unary


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of a large negative x overflows float32 to inf, giving 0 (correct) with a warning: silence it.
    with np.errstate(over="ignore"):
        return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


def _relu6(a: Args) -> np.ndarray:
    return np.clip(_f32(a["x"]), 0.0, 6.0)


def _clip(a: Args) -> np.ndarray:
    return np.minimum(np.maximum(_f32(a["x"]), np.float32(a.float("alpha", 0.0))), np.float32(a.float("beta", 1.0)))


def _sigmoid_hard(a: Args) -> np.ndarray:
    """min(max(alpha * x + beta, 0), 1): Keras' hard_sigmoid is alpha 1/6, beta 0.5."""
    x = _f32(a["x"])
    return np.clip(np.float32(a.float("alpha", 0.2)) * x + np.float32(a.float("beta", 0.5)), 0.0, 1.0)


def _leaky_relu(a: Args) -> np.ndarray:
    x = _f32(a["x"])
    return np.where(x >= 0, x, np.float32(a.float("alpha", 0.01)) * x)


def _elu(a: Args) -> np.ndarray:
    x = _f32(a["x"])
    with np.errstate(over="ignore"):
        return np.where(x > 0, x, np.float32(a.float("alpha", 1.0)) * (np.exp(np.minimum(x, 0)) - 1))


def _prelu(a: Args) -> np.ndarray:
    """Per-channel slope on axis 1 (NCHW / NCW)."""
    x, alpha = _f32(a["x"]), _f32(a["alpha"])
    shape = [1, alpha.size] + [1] * (x.ndim - 2)
    return np.where(x >= 0, x, alpha.reshape(shape) * x)


def _softplus(a: Args) -> np.ndarray:
    x = _f32(a["x"])
    return np.logaddexp(0.0, x).astype(np.float32)


def _inverse(a: Args) -> np.ndarray:
    return 1.0 / (_f32(a["x"]) + np.float32(a.float("epsilon", 1e-4)))


def _pad(a: Args) -> np.ndarray:
    """`pad` lists (before, after) pairs for the LAST len(pad) / 2 axes; modes constant, reflect, replicate."""
    x = _f32(a["x"])
    pad = a.ints("pad")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ModelError(f"pad: {len(pad)} padding values for a rank-{x.ndim} input; the program is malformed")
    padded_axes = len(pad) // 2
    widths = [(0, 0)] * (x.ndim - padded_axes) + [(pad[2 * i], pad[2 * i + 1]) for i in range(padded_axes)]
    mode = a.str("mode", "constant")
    if mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=np.float32(a.float("constant_val", 0.0)))
    if mode == "reflect":
        return np.pad(x, widths, mode="reflect")
    if mode == "replicate":
        return np.pad(x, widths, mode="edge")
    raise ModelError(f"pad mode {mode!r} is not supported by the numpy interpreter")


def _pool_windows(x: np.ndarray, a: Args, fill: float) -> np.ndarray:
    """(N, C, OH, OW, kh, kw) windows of a NCHW input after MIL's padding (pad_type, pad, ceil_mode)."""
    if x.ndim != 4:
        raise ModelError(f"pooling on a rank-{x.ndim} input is not supported by the numpy interpreter (2-D only)")
    kernel = a.ints("kernel_sizes")
    strides = a.ints("strides") or [1, 1]
    spatial = x.shape[2:]
    pads = _conv_pads(a.str("pad_type", "valid"), a.ints("pad"), spatial, kernel, strides, [1, 1])
    if a.bool("ceil_mode"):
        # Extra padding at the end so that a last, partial window counts (output size rounded up).
        for axis, (size, k, s) in enumerate(zip(spatial, kernel, strides)):
            padded = size + pads[2 * axis] + pads[2 * axis + 1]
            out = math.ceil((padded - k) / s) + 1
            pads[2 * axis + 1] += max((out - 1) * s + k - padded, 0)
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[1]), (pads[2], pads[3])), constant_values=fill)
    windows = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=(2, 3))
    return windows[:, :, :: strides[0], :: strides[1]]


def _max_pool(a: Args) -> np.ndarray:
    return _pool_windows(_f32(a["x"]), a, -np.inf).max(axis=(4, 5))


def _avg_pool(a: Args) -> np.ndarray:
    x = _f32(a["x"])
    sums = _pool_windows(x, a, 0.0).sum(axis=(4, 5), dtype=np.float32)
    if a.bool("exclude_padding_from_average"):
        counts = _pool_windows(np.ones_like(x[:1, :1]), a, 0.0).sum(axis=(4, 5), dtype=np.float32)
    else:
        kernel = a.ints("kernel_sizes")
        counts = np.float32(kernel[0] * kernel[1])
    return sums / counts


def _l2_pool(a: Args) -> np.ndarray:
    x = _f32(a["x"])
    return np.sqrt(_pool_windows(np.square(x), a, 0.0).sum(axis=(4, 5), dtype=np.float32))


def _batch_norm(a: Args) -> np.ndarray:
    """Inference batch norm over axis 1: (x - mean) / sqrt(variance + epsilon) * gamma + beta."""
    x = _f32(a["x"])
    shape = [1, -1] + [1] * (x.ndim - 2)
    scale = 1.0 / np.sqrt(_f32(a["variance"]).reshape(shape) + np.float32(a.float("epsilon", 1e-5)))
    out = (x - _f32(a["mean"]).reshape(shape)) * scale
    if a.get("gamma") is not None:
        out = out * _f32(a["gamma"]).reshape(shape)
    if a.get("beta") is not None:
        out = out + _f32(a["beta"]).reshape(shape)
    return out


def _instance_norm(a: Args) -> np.ndarray:
    x = _f32(a["x"])
    axes = tuple(range(2, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = np.square(x - mean).mean(axis=axes, keepdims=True)
    out = (x - mean) / np.sqrt(var + np.float32(a.float("epsilon", 1e-5)))
    shape = [1, -1] + [1] * (x.ndim - 2)
    if a.get("gamma") is not None:
        out = out * _f32(a["gamma"]).reshape(shape)
    if a.get("beta") is not None:
        out = out + _f32(a["beta"]).reshape(shape)
    return out


def _reduce(fn: Callable) -> Callable[[Args], np.ndarray]:
    def run(a: Args) -> np.ndarray:
        x = _f32(a["x"])
        return fn(x, axis=_axes(a, x.ndim), keepdims=a.bool("keep_dims", False))

    return run


def _reduce_l2_norm(x, axis, keepdims):
    return np.sqrt(np.sum(np.square(x), axis=axis, keepdims=keepdims))


def _split(a: Args):
    x = np.asarray(a["x"])
    axis = a.int("axis") % x.ndim
    sizes = a.ints("split_sizes")
    if sizes is None:
        return tuple(np.split(x, a.int("num_splits"), axis=axis))
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


CNN_OPS: dict[str, Callable[[Args], object]] = {
    "relu": _unary(lambda x: np.maximum(x, np.float32(0))),
    "relu6": _relu6,
    "clip": _clip,
    "sigmoid": _unary(_sigmoid),
    "sigmoid_hard": _sigmoid_hard,
    "silu": _unary(lambda x: x * _sigmoid(x)),
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "prelu": _prelu,
    "softplus": _softplus,
    "exp": _unary(np.exp),
    "log": _unary(np.log),
    "abs": _unary(np.abs),
    "inverse": _inverse,
    "maximum": _binary(np.maximum),
    "minimum": _binary(np.minimum),
    "pow": _binary(np.power),
    "pad": _pad,
    "max_pool": _max_pool,
    "avg_pool": _avg_pool,
    "l2_pool": _l2_pool,
    "batch_norm": _batch_norm,
    "instance_norm": _instance_norm,
    "reduce_max": _reduce(np.max),
    "reduce_min": _reduce(np.min),
    "reduce_sum": _reduce(np.sum),
    "reduce_l2_norm": _reduce(_reduce_l2_norm),
    "split": _split,
}
