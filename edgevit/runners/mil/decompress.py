"""Compile-time (constexpr) MIL ops: compressed weights -> dense weights, as Core ML expands them at load.

- iOS16 `constexpr_affine_dequantize`: int8/uint8 data, per-axis (or scalar) scale and zero point:
  w = (q - zero_point) * scale.
- iOS18 `constexpr_blockwise_shift_scale`: w = (data - offset) * scale, where scale/offset have the
  data's rank and each of their entries covers a block of data (block size = data dim / scale dim).
- iOS16 `constexpr_lut_to_dense`: a 1-D look-up table of 2^n entries, indices packed n bits each
  (least significant bit first) in a flat uint8 array, and the output shape.
- iOS18 `constexpr_lut_to_dense`: indices of the output's shape (unpacked by the blob reader) and a
  per-block table [*blocks, entries, vector_size]; only scalar tables (vector_size 1) are supported.
- `constexpr_cast`: an fp16 constant widened to fp32.

The products are exact in float32 (an int8 times an fp16 scale needs 19 significant bits), so
rounding once to the declared output type equals Core ML's fp16 arithmetic.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from edgevit.errors import ModelError
from edgevit.runners.mil.ops import Args


def _expand_blocks(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Repeat each entry of a per-block parameter over its block so it matches `shape`."""
    if values.ndim != len(shape):
        raise ModelError(f"a block parameter of rank {values.ndim} does not match weights of rank {len(shape)}; re-export the model")
    for axis, (size, blocks) in enumerate(zip(shape, values.shape)):
        if blocks == 0 or size % blocks:
            raise ModelError(f"block parameter shape {values.shape} does not divide weight shape {shape}; re-export the model")
        if size // blocks > 1:
            values = np.repeat(values, size // blocks, axis=axis)
    return values


def _affine_dequantize(a: Args) -> np.ndarray:
    q = np.asarray(a["quantized_data"]).astype(np.float32)
    scale = np.asarray(a["scale"], dtype=np.float32)
    zero_point = np.asarray(a["zero_point"]).astype(np.float32)
    axis = a.int("axis", 0) % q.ndim
    # A 1-D scale/zero point runs along `axis`; a scalar applies to every element.
    view = [1] * q.ndim
    view[axis] = -1
    if scale.ndim:
        scale = scale.reshape(view)
    if zero_point.ndim:
        zero_point = zero_point.reshape(view)
    return (q - zero_point) * scale


def _blockwise_shift_scale(a: Args) -> np.ndarray:
    data = np.asarray(a["data"]).astype(np.float32)
    scale = _expand_blocks(np.asarray(a["scale"], dtype=np.float32), data.shape)
    offset = a.get("offset")
    if offset is not None:
        data = data - _expand_blocks(np.asarray(offset).astype(np.float32), data.shape)
    return data * scale


def unpack_bits(packed: np.ndarray, nbits: int, count: int) -> np.ndarray:
    """`count` unsigned integers of `nbits` bits each, packed least significant bit first."""
    bits = np.unpackbits(np.asarray(packed, dtype=np.uint8), bitorder="little")
    if bits.size < count * nbits:
        raise ModelError(f"packed indices hold {bits.size // nbits} values, {count} are needed; re-export the model")
    bits = bits[: count * nbits].reshape(count, nbits).astype(np.uint32)
    return (bits << np.arange(nbits, dtype=np.uint32)).sum(axis=1)


def _lut_to_dense(a: Args) -> np.ndarray:
    if "shape" in a:
        return _lut_to_dense_ios16(a)
    indices = np.asarray(a["indices"]).astype(np.int64)
    lut = np.asarray(a["lut"], dtype=np.float32)
    if a.get("vector_axis") is not None or lut.shape[-1] != 1:
        raise ModelError("vector palettization (constexpr_lut_to_dense with vector_size > 1) is not supported by the numpy interpreter")
    if lut.ndim != indices.ndim + 2:
        raise ModelError(f"look-up table of rank {lut.ndim} does not fit indices of rank {indices.ndim}; re-export the model")
    tables = lut[..., 0]  # [*blocks, entries]
    block_shape, entries = tables.shape[:-1], tables.shape[-1]
    # The block each element belongs to, as a flat index into `tables`.
    block_index = np.zeros(indices.shape, dtype=np.int64)
    for axis, (size, blocks) in enumerate(zip(indices.shape, block_shape)):
        if blocks == 0 or size % blocks:
            raise ModelError(f"look-up table blocks {block_shape} do not divide weight shape {indices.shape}; re-export the model")
        along = (np.arange(size) // (size // blocks)).reshape([-1 if k == axis else 1 for k in range(indices.ndim)])
        block_index = block_index * blocks + along
    if indices.size and int(indices.max()) >= entries:
        raise ModelError(f"palette index {int(indices.max())} is outside a table of {entries} entries; re-export the model")
    return tables.reshape(-1, entries)[block_index, indices]


def _lut_to_dense_ios16(a: Args) -> np.ndarray:
    lut = np.asarray(a["lut"], dtype=np.float32).reshape(-1)
    shape = tuple(a.ints("shape"))
    nbits = int(round(np.log2(lut.size)))
    if 2**nbits != lut.size or nbits not in (1, 2, 4, 6, 8):
        raise ModelError(f"look-up table of {lut.size} entries is not 2^n for n in 1, 2, 4, 6, 8; re-export the model")
    count = int(np.prod(shape))
    return lut[unpack_bits(a["indices"], nbits, count)].reshape(shape)


CONSTEXPR_OPS: dict[str, Callable[[Args], np.ndarray]] = {
    "constexpr_affine_dequantize": _affine_dequantize,
    "constexpr_blockwise_shift_scale": _blockwise_shift_scale,
    "constexpr_lut_to_dense": _lut_to_dense,
    "constexpr_cast": lambda a: np.asarray(a["source_val"], dtype=np.float32),
}
