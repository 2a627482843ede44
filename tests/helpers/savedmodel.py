"""A SavedModel folder without TensorFlow: a hand-encoded saved_model.pb that holds only its serving signature.

Enough for everything that opens a SavedModel through edgevit.savedmodel.source (the protobuf check,
the fingerprint, bench's reference row); nothing here can be loaded into TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path

from helpers.bench import IMAGE_SIZE, NUM_CLASSES, write_fake_artifact


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64s are ten-byte varints
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _message(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _tensor_info(name: str, dims: list[int]) -> bytes:
    shape = b"".join(_message(2, _varint(1 << 3) + _varint(d)) for d in dims)  # TensorShapeProto.dim.size
    return _message(1, name.encode()) + _varint(2 << 3) + _varint(1) + _message(3, shape)  # name, dtype float32, shape


def serving_signature_pb(height: int = IMAGE_SIZE, width: int = IMAGE_SIZE, num_classes: int = NUM_CLASSES) -> bytes:
    """A saved_model.pb holding only one "serving_default" signature, images (-1, H, W, 3) -> probabilities (-1, C)."""
    inputs = _message(1, _message(1, b"images") + _message(2, _tensor_info("serving_default_images:0", [-1, height, width, 3])))
    outputs = _message(2, _message(1, b"probabilities") + _message(2, _tensor_info("StatefulPartitionedCall:0", [-1, num_classes])))
    signature_def = _message(5, _message(1, b"serving_default") + _message(2, inputs + outputs))
    return _message(2, signature_def)


def write_fake_savedmodel(folder: Path, *, pb: bytes | None = None) -> Path:
    """A SavedModel folder: an artifact-like manifest of kind "savedmodel", saved_model.pb (`pb`) and a variables index."""
    write_fake_artifact(folder.parent, folder.name, model={"variant": "tiny", "image_size": 64, "num_classes": 3})
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(kind="savedmodel")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "saved_model.pb").write_bytes(serving_signature_pb() if pb is None else pb)
    (folder / "variables").mkdir()
    (folder / "variables" / "variables.index").write_bytes(b"index")
    return folder
