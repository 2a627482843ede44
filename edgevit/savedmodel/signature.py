"""The SavedModel's one serving signature: the names edgevit writes, and the check that a saved_model.pb has it.

The check reads the protobuf with `proto` (no TensorFlow import, no variables), so a bad input is
reported in a second even at ViT-L/32 scale; the TensorFlow load (`load`) then trusts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgevit.errors import ModelError
from edgevit.savedmodel.proto import ProtoError, read_signatures

SIGNATURE = "serving_default"
INPUT_NAME = "images"
OUTPUT_NAME = "probabilities"


@dataclass(frozen=True)
class ServingSignature:
    key: str  # e.g. "serving_default"
    input_name: str  # the signature's input key, e.g. "images"
    output_name: str  # the signature's output key, e.g. "probabilities"
    input_shape: tuple  # (None, H, W, 3)
    num_outputs: int | None = None  # the output's last dimension, the class count (None: the graph does not say)


def read_serving_signature(folder: Path) -> ServingSignature:
    """The only serving signature of `folder`/saved_model.pb: one image batch in, one tensor out; ModelError otherwise."""
    folder = Path(folder)
    try:
        graphs = read_signatures(folder / "saved_model.pb")
    except ProtoError:
        raise ModelError(f"{folder}/saved_model.pb: not a SavedModel protobuf; re-save it with `edgevit train`") from None
    if len(graphs) != 1:
        raise ModelError(f"{folder}: expected one MetaGraph, found {len(graphs)}; re-save it with `edgevit train`")
    # "__saved_model_init_op" and the like are TF's own entries, not serving signatures.
    signatures = {k: v for k, v in graphs[0].items() if not k.startswith("__")}
    if len(signatures) != 1:
        raise ModelError(
            f"{folder}: expected exactly one serving signature, found {len(signatures)} ({', '.join(sorted(signatures)) or 'none'}); "
            "re-save the model with one signature (`edgevit train` does)"
        )
    (key, signature), = signatures.items()
    if len(signature.inputs) != 1 or len(signature.outputs) != 1:
        raise ModelError(
            f"{folder}: signature {key!r} has {len(signature.inputs)} input(s) and {len(signature.outputs)} output(s); "
            "an image classifier takes one image batch and returns one probability tensor"
        )
    (input_name, tensor), = signature.inputs.items()
    (output_name, output), = signature.outputs.items()
    shape = tensor.shape
    if shape is None or len(shape) != 4 or shape[1] is None or shape[2] is None or shape[3] != 3:
        shown = "of unknown rank" if shape is None else list(shape)
        raise ModelError(
            f"{folder}: input {input_name!r} has shape {shown}, not a fixed (batch, H, W, 3) size; "
            "re-save the model with a fixed image size"
        )
    num_outputs = output.shape[-1] if output.shape else None
    return ServingSignature(key, input_name, output_name, (None, shape[1], shape[2], 3), num_outputs)
