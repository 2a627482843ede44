"""How a Keras layer's name appears in a converted graph: under a TF name scope of its name.

Keras 3 calls each layer inside a name scope of its name plus a `_<n>` uniquifier, so every op of the
layer `Transformer_encoderblock_3/MlpBlock_3` sits under `.../Transformer_encoderblock_3_1/MlpBlock_3_1/`,
and tf2onnx, LiteRT and coremltools keep those names (coremltools with every non-word character made `_`:
`mil_name`). The TFLite converter names a tensor computed by several fused TF ops after all of them, joined
by ';' (`.../Dense_0_1/MatMul;.../Dense_0_1/BiasAdd`). Layer-wise parity (edgevit.verify.layers) finds
boundaries this way; per-layer precision picks a layer's ops this way (ONNX `nodes_to_exclude`, the TFLite
ops an AI Edge Quantizer recipe leaves in float, Core ML `op_name_configs` over the weights those nodes read).
"""

from __future__ import annotations

import re

FUSED_SEPARATOR = ";"


def scope_pattern(layer_path: str) -> re.Pattern:
    """A regex that finds the name scope of `layer_path` (parts joined by '/') inside a node name, or inside
    any one of the fused names of a TFLite tensor (a match never spans a ';')."""
    scope = "/".join(re.escape(part) + r"(?:_\d+)?" for part in layer_path.split("/"))
    return re.compile(r"(?:^|[/" + FUSED_SEPARATOR + r"])" + scope + "/")


def in_layer(node_name: str, layer_path: str) -> bool:
    return scope_pattern(layer_path).search(node_name) is not None


def fused_names(tensor_name: str) -> list[str]:
    """The TF node names a TFLite tensor name carries (one, or several joined by ';' for fused ops)."""
    return tensor_name.split(FUSED_SEPARATOR)


# coremltools' fp16 pass renames an op whose output it casts to fp16.
MIL_FP16_SUFFIX = "_cast_fp16"


def mil_name(node_name: str) -> str:
    """The name the MIL op (and its output) converted from the TF node `node_name` has in a saved .mlpackage
    (coremltools makes every non-word character `_` when it writes the program)."""
    return re.sub(r"\W", "_", node_name)
