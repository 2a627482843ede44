"""How a Keras layer's name appears in a converted graph: under a TF name scope of its name.

Keras 3 calls each layer inside a name scope of its name plus a `_<n>` uniquifier, so every op of the
layer `Transformer_encoderblock_3/MlpBlock_3` sits under `.../Transformer_encoderblock_3_1/MlpBlock_3_1/`,
and tf2onnx, LiteRT and coremltools keep those names (coremltools with every non-word character made `_`:
`mil_name`). Layer-wise parity (edgevit.verify.layers) finds boundaries this way; per-layer precision
(ONNX `nodes_to_exclude`, Core ML `op_name_configs` over the weights those nodes read) picks a layer this way.
"""

from __future__ import annotations

import re


def scope_pattern(layer_path: str) -> re.Pattern:
    """A regex that finds the name scope of `layer_path` (parts joined by '/') inside a node name."""
    scope = "/".join(re.escape(part) + r"(?:_\d+)?" for part in layer_path.split("/"))
    return re.compile(r"(?:^|/)" + scope + "/")


def in_layer(node_name: str, layer_path: str) -> bool:
    return scope_pattern(layer_path).search(node_name) is not None


# coremltools' fp16 pass renames an op whose output it casts to fp16.
MIL_FP16_SUFFIX = "_cast_fp16"


def mil_name(node_name: str) -> str:
    """The name the MIL op (and its output) converted from the TF node `node_name` has in a saved .mlpackage
    (coremltools makes every non-word character `_` when it writes the program)."""
    return re.sub(r"\W", "_", node_name)
