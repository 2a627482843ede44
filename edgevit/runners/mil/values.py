"""MIL values (immediate tensors, lists, weight-file blobs) -> numpy arrays.

Floats are held as float32 whatever their declared type: an fp16 value is a float32 array whose
numbers are all representable in fp16. The interpreter rounds every fp16 result (see interpreter.py),
so fp16 precision is kept where the program asks for it while numpy computes at float32 speed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgevit.errors import ModelError

# MIL DataType enum value -> (name, numpy storage dtype, dtype used in memory).
_FLOAT_TYPES = {"FLOAT16": np.float16, "FLOAT32": np.float32, "FLOAT64": np.float64}
_INT_TYPES = {
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
}
# Sub-byte integer types: coremltools' blob reader returns one uint8/int8 per element.
_SUB_BYTE_TYPES = ("INT4", "UINT1", "UINT2", "UINT3", "UINT4", "UINT6")
WEIGHTS_PREFIX = "@model_path/weights/"


def dtype_name(data_type: int) -> str:
    from coremltools.proto import MIL_pb2

    return MIL_pb2.DataType.Name(data_type)


def memory_dtype(name: str) -> type:
    """The numpy dtype a value of MIL type `name` is held in (floats: float32, see the module docstring)."""
    if name in _FLOAT_TYPES:
        return np.float32
    if name in _INT_TYPES:
        return _INT_TYPES[name]
    if name == "BOOL":
        return np.bool_
    if name == "INT4":
        return np.int8
    if name in _SUB_BYTE_TYPES:
        return np.uint8
    if name == "STRING":
        return np.str_
    raise ModelError(f"MIL data type {name} is not supported by the numpy interpreter")


def tensor_shape(tensor_type) -> tuple[int, ...] | None:
    """Static shape of a MIL tensorType; None when a dimension is not a constant."""
    dims = []
    for dim in tensor_type.dimensions:
        if dim.WhichOneof("dimension") != "constant":
            return None
        dims.append(int(dim.constant.size))
    return tuple(dims)


class BlobFiles:
    """Reads weight blobs of one .mlpackage (coremltools' own reader of the MIL blob storage format)."""

    _READERS = {
        "FLOAT16": "read_fp16_data", "FLOAT32": "read_float_data",
        "INT8": "read_int8_data", "UINT8": "read_uint8_data", "INT16": "read_int16_data",
        "UINT16": "read_uint16_data", "INT32": "read_int32_data", "UINT32": "read_uint32_data",
        "INT4": "read_int4_data", "UINT1": "read_uint1_data", "UINT2": "read_uint2_data",
        "UINT3": "read_uint3_data", "UINT4": "read_uint4_data", "UINT6": "read_uint6_data",
    }

    def __init__(self, weights_dir: Path):
        self.weights_dir = Path(weights_dir)
        self._readers: dict[str, object] = {}

    def read(self, file_name: str, offset: int, type_name: str, shape: tuple[int, ...]) -> np.ndarray:
        from coremltools.libmilstoragepython import _BlobStorageReader

        if not file_name.startswith(WEIGHTS_PREFIX):
            raise ModelError(f"weight file {file_name!r} is outside the package's weights folder; re-export the model")
        path = self.weights_dir / file_name[len(WEIGHTS_PREFIX):]
        if type_name not in self._READERS:
            raise ModelError(f"weights of MIL type {type_name} are not supported by the numpy interpreter")
        if str(path) not in self._readers:
            if not path.is_file():
                raise ModelError(f"{path}: weight file missing from the .mlpackage; re-export the model")
            self._readers[str(path)] = _BlobStorageReader(str(path))
        try:
            raw = getattr(self._readers[str(path)], self._READERS[type_name])(offset)
        except (RuntimeError, ValueError, IndexError) as exc:
            raise ModelError(f"{path}: cannot read weights at offset {offset} ({exc}); the file is damaged, re-export the model") from None
        raw = np.asarray(raw)
        if type_name == "FLOAT16":
            raw = raw.view(np.float16)  # the reader returns the fp16 bit patterns as uint16
        count = int(np.prod(shape)) if shape else 1
        if raw.size != count:
            raise ModelError(f"{path}: blob at offset {offset} holds {raw.size} values, the program expects {count}; re-export the model")
        return raw.reshape(shape).astype(memory_dtype(type_name), copy=False)


def decode_value(value, blobs: BlobFiles):
    """A MIL Value message -> numpy array (tensors) or list of decoded values (lists)."""
    kind = value.WhichOneof("value")
    value_type = value.type.WhichOneof("type")
    if kind == "blobFileValue":
        tensor_type = value.type.tensorType
        return blobs.read(value.blobFileValue.fileName, int(value.blobFileValue.offset),
                          dtype_name(tensor_type.dataType), tensor_shape(tensor_type))
    if kind != "immediateValue":
        raise ModelError(f"MIL value of kind {kind!r} is not supported by the numpy interpreter")
    immediate = value.immediateValue
    if value_type == "listType":
        return [decode_value(item, blobs) for item in immediate.list.values]
    if value_type != "tensorType":
        raise ModelError(f"MIL value type {value_type!r} is not supported by the numpy interpreter")
    return _decode_tensor(immediate.tensor, value.type.tensorType)


def _decode_tensor(tensor, tensor_type) -> np.ndarray:
    name = dtype_name(tensor_type.dataType)
    shape = tensor_shape(tensor_type)
    field = tensor.WhichOneof("value")
    if field is None:  # an empty tensor
        values = np.zeros(0, dtype=memory_dtype(name))
    elif field == "bytes":
        # Packed little-endian storage (fp16 and narrow integers are written this way).
        storage = _FLOAT_TYPES.get(name) or _INT_TYPES.get(name)
        if storage is None:
            raise ModelError(f"MIL bytes tensor of type {name} is not supported by the numpy interpreter")
        values = np.frombuffer(tensor.bytes.values, dtype=np.dtype(storage).newbyteorder("<"))
    else:
        values = np.asarray(list(getattr(tensor, field).values))
    values = values.astype(memory_dtype(name))
    return values.reshape(shape) if shape is not None else values
