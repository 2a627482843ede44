"""MIL ops the zoo architectures need beyond the ViT set (ops.py): sequence and window ops.

Sequencer2D's unrolled LSTMs become split / squeeze / sigmoid / tanh / stack / reverse; Swin's
windows become gather (relative position bias), strided slices and rank-6 transposes (ops.py);
GroupNorm and LayerNorm variants become layer_norm over other axes or reduce ops. Each handler
follows the MIL op reference (coremltools.converters.mil.mil.ops.defs) and computes in float32;
the interpreter rounds to the declared type. `lstm` is MIL's fused op (what coremltools emits for
a TF LSTM that is not unrolled), with its default activations. Ops CNNs share with these models
(sigmoid, split, reductions, instance_norm, pooling, batch_norm) have one home: ops_cnn.py.
"""

from __future__ import annotations

import numpy as np

from edgevit.errors import ModelError
from edgevit.runners.mil.ops import Args, _f32, _float_values
from edgevit.runners.mil.ops_cnn import _sigmoid as sigmoid


def _stack(a: Args) -> np.ndarray:
    return np.stack(_float_values(a.list("values")), axis=a.int("axis"))


def _reverse(a: Args) -> np.ndarray:
    x = np.asarray(a["x"])
    axes = a.ints("axes")
    return np.flip(x, axis=tuple(range(x.ndim)) if axes is None else tuple(ax % x.ndim for ax in axes))


def _gather(a: Args) -> np.ndarray:
    x, indices = np.asarray(a["x"]), np.asarray(a["indices"]).astype(np.int64)
    axis = a.int("axis", 0) % x.ndim
    if a.int("batch_dims", 0):
        raise ModelError("gather with batch_dims > 0 is not supported by the numpy interpreter")
    indices = np.where(indices < 0, indices + x.shape[axis], indices)  # MIL allows negative indices
    return np.take(x, indices, axis=axis)


def _gather_along_axis(a: Args) -> np.ndarray:
    x, indices = np.asarray(a["x"]), np.asarray(a["indices"]).astype(np.int64)
    axis = a.int("axis", 0) % x.ndim
    return np.take_along_axis(x, np.where(indices < 0, indices + x.shape[axis], indices), axis=axis)


def _tile(a: Args) -> np.ndarray:
    return np.tile(np.asarray(a["x"]), a.ints("reps"))


_ACTIVATIONS = {"sigmoid": sigmoid, "tanh": np.tanh, "relu": lambda v: np.maximum(v, 0)}


def _lstm(a: Args) -> tuple:
    """MIL lstm: x (T, B, I); weight_ih (4H, I), weight_hh (4H, H) with gates in MIL's i, f, o, g order."""
    x = _f32(a["x"])
    h, c = _f32(a["initial_h"]), _f32(a["initial_c"])
    w_ih, w_hh = _f32(a["weight_ih"]), _f32(a["weight_hh"])
    bias = a.get("bias")
    bias = np.zeros(w_ih.shape[0], np.float32) if bias is None else _f32(bias)
    direction = a.str("direction", "forward")
    if direction != "forward" and direction != "reverse" or a.get("weight_ih_back") is not None:
        raise ModelError(f"lstm direction {direction!r} is not supported by the numpy interpreter (forward/reverse only)")
    if a.get("peephole") is not None or a.float("clip", 0.0) or "recurrent_activation" in a and a.str("recurrent_activation") != "sigmoid":
        raise ModelError("lstm with peepholes, clipping or non-default activations is not supported by the numpy interpreter")
    if a.str("cell_activation", "tanh") not in _ACTIVATIONS or a.str("activation", "tanh") not in _ACTIVATIONS:
        raise ModelError("lstm activation not supported by the numpy interpreter")
    g_act, h_act = _ACTIVATIONS[a.str("cell_activation", "tanh")], _ACTIVATIONS[a.str("activation", "tanh")]
    steps = range(x.shape[0]) if direction == "forward" else range(x.shape[0] - 1, -1, -1)
    outputs = np.zeros((x.shape[0], *h.shape), np.float32)
    for t in steps:
        gates = x[t] @ w_ih.T + h @ w_hh.T + bias
        i, f, o, g = np.split(gates, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * g_act(g)
        h = sigmoid(o) * h_act(c)
        outputs[t] = h
    if not a.bool("output_sequence", False):
        outputs = outputs[-1 if direction == "forward" else 0][None]
    return outputs, h, c


SEQUENCE_OPS = {
    "stack": _stack,
    "reverse": _reverse,
    "gather": _gather,
    "gather_along_axis": _gather_along_axis,
    "tile": _tile,
    "lstm": _lstm,
}
