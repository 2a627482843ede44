"""The MIL ops a Core ML ViT runs per prediction, in numpy, with Core ML's input conventions.

Each handler takes the op's arguments (inputs and attributes by name, already decoded) and returns
its output value(s). Handlers compute in float32; the interpreter rounds results to the declared
type (fp16 programs get fp16 rounding after every op, as Core ML stores fp16 between ops).
Semantics follow the MIL op reference (coremltools.converters.mil.mil.ops.defs).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from edgevit.errors import ModelError


class Args:
    """An op's arguments: `args["x"]` for one value, `args.get("bias")` for optional ones, `args.list("values")` for variadic."""

    def __init__(self, op_type: str, values: dict[str, list]):
        self.op_type = op_type
        self._values = values

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def __getitem__(self, name: str):
        if name not in self._values:
            raise ModelError(f"MIL op {self.op_type} lacks its required input {name!r}; the program is malformed")
        return self._values[name][0]

    def get(self, name: str, default=None):
        return self._values[name][0] if name in self._values else default

    def list(self, name: str) -> list:
        return list(self._values.get(name, []))

    def int(self, name: str, default: int | None = None) -> int:
        value = self.get(name, default)
        return int(np.asarray(value).item()) if value is not None else None

    def ints(self, name: str, default=None) -> list[int] | None:
        value = self.get(name, default)
        return None if value is None else [int(v) for v in np.asarray(value).reshape(-1)]

    def bool(self, name: str, default: bool = False) -> bool:
        return bool(np.asarray(self.get(name, default)).item())

    def str(self, name: str, default: str | None = None) -> str | None:
        value = self.get(name, default)
        return None if value is None else str(np.asarray(value).item())

    def float(self, name: str, default: float) -> float:
        return float(np.asarray(self.get(name, default)).item())


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def _float_values(values: list) -> list:
    """Tensors joined by concat/stack: all float32 when any is floating (MIL promotes), else as they are."""
    if any(np.issubdtype(np.asarray(v).dtype, np.floating) for v in values):
        return [_f32(v) for v in values]
    return values


def erf(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf as _erf  # scipy ships with scikit-learn (a pinned dependency)

    return _erf(_f32(x)).astype(np.float32)


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def _binary(fn: Callable) -> Callable[[Args], np.ndarray]:
    def run(a: Args):
        x, y = a["x"], a["y"]
        if np.issubdtype(np.asarray(x).dtype, np.floating) or np.issubdtype(np.asarray(y).dtype, np.floating):
            x, y = _f32(x), _f32(y)
        return fn(x, y)

    return run


def _unary(fn: Callable) -> Callable[[Args], np.ndarray]:
    return lambda a: fn(_f32(a["x"]))


def _rsqrt(a: Args) -> np.ndarray:
    return 1.0 / np.sqrt(_f32(a["x"]) + np.float32(a.float("epsilon", 1e-12)))


def _gelu(a: Args) -> np.ndarray:
    x = _f32(a["x"])
    mode = a.str("mode", "EXACT")
    if mode == "EXACT":
        return 0.5 * x * (1.0 + erf(x / np.float32(math.sqrt(2.0))))
    if mode == "TANH_APPROXIMATION":
        return 0.5 * x * (1.0 + np.tanh(np.float32(math.sqrt(2.0 / math.pi)) * (x + np.float32(0.044715) * x**3)))
    if mode == "SIGMOID_APPROXIMATION":
        return x / (1.0 + np.exp(np.float32(-1.702) * x))
    raise ModelError(f"gelu mode {mode!r} is not supported by the numpy interpreter")


def _axes(a: Args, rank: int, name: str = "axes") -> tuple[int, ...] | None:
    axes = a.ints(name)
    return None if axes is None else tuple(ax % rank for ax in axes)


def _reduce_mean(a: Args) -> np.ndarray:
    x = _f32(a["x"])
    return np.mean(x, axis=_axes(a, x.ndim), keepdims=a.bool("keep_dims", False))


def _layer_norm(a: Args) -> np.ndarray:
    x = _f32(a["x"])
    axes = _axes(a, x.ndim) or tuple(range(x.ndim))
    mean = np.mean(x, axis=axes, keepdims=True)
    var = np.mean(np.square(x - mean), axis=axes, keepdims=True)
    out = (x - mean) / np.sqrt(var + np.float32(a.float("epsilon", 1e-5)))
    # gamma/beta have the shape of the normalised axes, which are trailing in MIL's layer_norm.
    if a.get("gamma") is not None:
        out = out * _f32(a["gamma"])
    if a.get("beta") is not None:
        out = out + _f32(a["beta"])
    return out


def _matmul(a: Args) -> np.ndarray:
    x, y = _f32(a["x"]), _f32(a["y"])
    if a.bool("transpose_x") and x.ndim >= 2:
        x = np.swapaxes(x, -1, -2)
    if a.bool("transpose_y") and y.ndim >= 2:
        y = np.swapaxes(y, -1, -2)
    return np.matmul(x, y)


def _linear(a: Args) -> np.ndarray:
    out = np.matmul(_f32(a["x"]), _f32(a["weight"]).T)  # weight is [out, in]
    bias = a.get("bias")
    return out + _f32(bias) if bias is not None else out


def _reshape(a: Args) -> np.ndarray:
    x = np.asarray(a["x"])
    shape = a.ints("shape")
    # A 0 copies the input's dimension at that position (MIL reshape), -1 is inferred.
    shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return x.reshape(shape)


def _concat(a: Args) -> np.ndarray:
    if a.bool("interleave"):
        raise ModelError("concat with interleave=True is not supported by the numpy interpreter")
    return np.concatenate(_float_values(a.list("values")), axis=a.int("axis"))


def _slice_by_index(a: Args) -> np.ndarray:
    x = np.asarray(a["x"])
    rank = x.ndim
    begin, end = a.ints("begin"), a.ints("end")
    stride = a.ints("stride") or [1] * rank
    begin_mask = a.ints("begin_mask") or [0] * rank
    end_mask = a.ints("end_mask") or [0] * rank
    squeeze_mask = a.ints("squeeze_mask") or [0] * rank
    index = []
    for axis in range(rank):
        if squeeze_mask[axis]:
            index.append(begin[axis])  # a squeezed axis keeps only the element at `begin`
            continue
        start = None if begin_mask[axis] else begin[axis]
        stop = None if end_mask[axis] else end[axis]
        index.append(slice(start, stop, stride[axis]))
    return x[tuple(index)]


def _conv(a: Args) -> np.ndarray:
    x, weight = _f32(a["x"]), _f32(a["weight"])
    if x.ndim != 4:
        raise ModelError(f"conv on a rank-{x.ndim} input is not supported by the numpy interpreter (2-D only)")
    spatial = x.shape[2:]
    kernel = weight.shape[2:]
    strides = a.ints("strides") or [1, 1]
    dilations = a.ints("dilations") or [1, 1]
    groups = a.int("groups", 1)
    pads = _conv_pads(a.str("pad_type", "valid"), a.ints("pad"), spatial, kernel, strides, dilations)
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[1]), (pads[2], pads[3])))
    span = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    windows = np.lib.stride_tricks.sliding_window_view(x, span, axis=(2, 3))
    windows = windows[:, :, :: strides[0], :: strides[1], :: dilations[0], :: dilations[1]]  # (N, C, OH, OW, kh, kw)
    cin = weight.shape[1]
    cout_per_group = weight.shape[0] // groups
    outs = []
    for g in range(groups):
        w = weight[g * cout_per_group : (g + 1) * cout_per_group]
        patch = windows[:, g * cin : (g + 1) * cin]
        outs.append(np.tensordot(patch, w, axes=([1, 4, 5], [1, 2, 3])))  # (N, OH, OW, Cout/g)
    out = np.concatenate(outs, axis=-1).transpose(0, 3, 1, 2)
    bias = a.get("bias")
    return out + _f32(bias).reshape(1, -1, 1, 1) if bias is not None else out


def _conv_pads(pad_type: str, pad: list[int] | None, spatial, kernel, strides, dilations) -> list[int]:
    """[top, bottom, left, right] padding for MIL conv's pad_type."""
    if pad_type == "valid":
        return [0, 0, 0, 0]
    if pad_type == "custom":
        return list(pad or [0, 0, 0, 0])
    if pad_type in ("same", "same_lower"):
        pads = []
        for size, k, s, d in zip(spatial, kernel, strides, dilations):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small, large = total // 2, total - total // 2
            pads += [small, large] if pad_type == "same" else [large, small]
        return pads
    raise ModelError(f"conv pad_type {pad_type!r} is not supported by the numpy interpreter")


def _squeeze(a: Args) -> np.ndarray:
    x = np.asarray(a["x"])
    axes = _axes(a, x.ndim)
    return np.squeeze(x, axis=axes)


def _expand_dims(a: Args) -> np.ndarray:
    x = np.asarray(a["x"])
    out_rank = x.ndim + len(a.ints("axes"))
    return np.expand_dims(x, axis=tuple(ax % out_rank for ax in a.ints("axes")))


def _classify(a: Args):
    """Core ML's classifier output: the top label and a label -> probability dictionary."""
    probabilities = _f32(a["probabilities"]).reshape(-1)
    classes = [str(np.asarray(c).reshape(-1)[0]) for c in a["classes"]]
    if len(classes) != probabilities.size:
        raise ModelError(f"classify has {len(classes)} class labels for {probabilities.size} probabilities; re-export the model")
    top = classes[int(np.argmax(probabilities))]
    return top, {label: float(p) for label, p in zip(classes, probabilities)}


OPS: dict[str, Callable[[Args], object]] = {
    "add": _binary(np.add),
    "sub": _binary(np.subtract),
    "mul": _binary(np.multiply),
    "real_div": _binary(np.divide),
    "square": _unary(np.square),
    "sqrt": _unary(np.sqrt),
    "tanh": _unary(np.tanh),
    "erf": _unary(erf),
    "rsqrt": _rsqrt,
    "gelu": _gelu,
    "softmax": lambda a: _softmax(_f32(a["x"]), a.int("axis", -1)),
    "reduce_mean": _reduce_mean,
    "layer_norm": _layer_norm,
    "matmul": _matmul,
    "linear": _linear,
    "conv": _conv,
    "transpose": lambda a: np.transpose(np.asarray(a["x"]), a.ints("perm")),
    "reshape": _reshape,
    "concat": _concat,
    "slice_by_index": _slice_by_index,
    "squeeze": _squeeze,
    "expand_dims": _expand_dims,
    # The declared output type does the conversion (see interpreter.conform).
    "cast": lambda a: np.asarray(a["x"]),
    "identity": lambda a: np.asarray(a["x"]),
    "classify": _classify,
}
