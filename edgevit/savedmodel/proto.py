"""The serving signatures of a saved_model.pb, read without importing TensorFlow.

The export command checks its input (one signature, one fixed-size image input) before it starts a
converter process per artifact; importing TensorFlow just to read the protobuf would cost the parent
~10 s and ~0.7 GB. Only the few fields needed are decoded from the protobuf wire format:

    SavedModel        meta_graphs = 2 (MetaGraphDef)
    MetaGraphDef      signature_def = 5 (map<string, SignatureDef>)
    SignatureDef      inputs = 1, outputs = 2 (map<string, TensorInfo>)
    TensorInfo        name = 1, dtype = 2, tensor_shape = 3 (TensorShapeProto)
    TensorShapeProto  dim = 2 (Dim: size = 1, int64, -1 unknown), unknown_rank = 3
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


class ProtoError(ValueError):
    """The bytes are not a well-formed protobuf message."""


@dataclass(frozen=True)
class TensorSpec:
    shape: tuple | None  # None: unknown rank; a dimension of None: unknown size
    dtype: int  # tensorflow DataType enum (1 = float32)


@dataclass(frozen=True)
class Signature:
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ProtoError("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: memoryview) -> Iterator[tuple[int, object]]:
    """(field number, value) for each field: an int for varints, a memoryview for everything else."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, pos = _varint(buf, pos)
        elif wire in (_FIXED64, _FIXED32):
            size = 8 if wire == _FIXED64 else 4
            value, pos = buf[pos : pos + size], pos + size
        elif wire == _BYTES:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise ProtoError("field runs past the end of its message")
            value, pos = buf[pos : pos + size], pos + size
        else:
            raise ProtoError(f"unsupported wire type {wire}")
        yield number, value


def _map(buf: memoryview, number: int) -> dict[str, memoryview]:
    """A map<string, message> field: repeated entries of (key = 1, value = 2)."""
    out = {}
    for n, entry in _fields(buf):
        if n == number:
            parts = dict(_fields(entry))
            out[bytes(parts.get(1, b"")).decode()] = parts.get(2, memoryview(b""))
    return out


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _tensor(buf: memoryview) -> TensorSpec:
    dtype, shape_buf = 0, None
    for n, value in _fields(buf):
        if n == 2:
            dtype = value
        elif n == 3:
            shape_buf = value
    if shape_buf is None:
        return TensorSpec(shape=None, dtype=dtype)
    dims, unknown_rank = [], False
    for n, value in _fields(shape_buf):
        if n == 2:
            size = _signed64(dict(_fields(value)).get(1, 0))
            dims.append(size if size >= 0 else None)
        elif n == 3:
            unknown_rank = bool(value)
    return TensorSpec(shape=None if unknown_rank else tuple(dims), dtype=dtype)


def read_signatures(saved_model_pb: Path) -> list[dict[str, Signature]]:
    """For each MetaGraph, its signatures by key (TF's own "__saved_model_init_op" included)."""
    buf = memoryview(Path(saved_model_pb).read_bytes())
    graphs = []
    for n, meta_graph in _fields(buf):
        if n != 2:
            continue
        signatures = {}
        for key, signature in _map(meta_graph, 5).items():
            inputs = {k: _tensor(v) for k, v in _map(signature, 1).items()}
            outputs = {k: _tensor(v) for k, v in _map(signature, 2).items()}
            signatures[key] = Signature(inputs, outputs)
        graphs.append(signatures)
    return graphs
