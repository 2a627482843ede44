"""How a Keras layer's name appears in a converted graph: under a TF name scope of its name.

Keras 3 calls each layer inside a name scope of its name plus a `_<n>` uniquifier, so every op of the
layer `Transformer_encoderblock_3/MlpBlock_3` sits under `.../Transformer_encoderblock_3_1/MlpBlock_3_1/`,
and tf2onnx, LiteRT and coremltools keep those names. Layer-wise parity (edgevit.verify.layers) finds
boundaries this way; per-layer precision (ONNX `nodes_to_exclude`) picks a layer's nodes this way.
"""

from __future__ import annotations

import re


def scope_pattern(layer_path: str) -> re.Pattern:
    """A regex that finds the name scope of `layer_path` (parts joined by '/') inside a node name."""
    scope = "/".join(re.escape(part) + r"(?:_\d+)?" for part in layer_path.split("/"))
    return re.compile(r"(?:^|/)" + scope + "/")


def in_layer(node_name: str, layer_path: str) -> bool:
    return scope_pattern(layer_path).search(node_name) is not None
