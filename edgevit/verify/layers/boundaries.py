"""The named boundaries of the source Keras model, and the serving-graph node that carries each one.

Boundaries, in model order (vit-keras layer names; `edgevit.models.build_classifier`):
    embedding                                         the patch embedding (Conv2D)
    Transformer_encoderblock_<k>/MultiHeadDotProductAttention_1   attention output (before the residual add)
    Transformer_encoderblock_<k>/MlpBlock_3           MLP output (before the residual add)
    Transformer_encoderblock_<k>                      the block's output (residual stream)
    Transformer_encoder_norm                          the final LayerNorm
    head                                              the classifier's logits (before its softmax)

Keras 3 calls each layer inside a TF name scope of its name (plus a `_<n>` uniquifier), so every op of a
layer sits under `.../<name>_<n>/`. A layer's output is the op inside its scope whose value is used
outside it: found from the graph, not spelled per converter. tf2onnx, LiteRT and coremltools all keep
those TF node names (coremltools with non-word characters made `_`), which maps artifacts back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edgevit.errors import UsageError
from edgevit.layer_names import scope_pattern

EMBEDDING, ATTENTION, MLP, BLOCK, NORM, HEAD = "embedding", "attention", "mlp", "block", "norm", "head"
BLOCK_LAYER = "Transformer_encoderblock_{}"
_LAYER_NAMES = {EMBEDDING: "embedding", NORM: "Transformer_encoder_norm", HEAD: "head",
                ATTENTION: "MultiHeadDotProductAttention_1", MLP: "MlpBlock_3"}
# Op types that never carry a layer's activation out of its scope.
_NOT_ACTIVATIONS = {"Const", "Placeholder", "Shape", "StridedSlice", "Pack", "Identity", "StopGradient", "NoOp"}
_CALL_PREFIX = "StatefulPartitionedCall/"  # the serving function's call: absent from TFLite names


@dataclass(frozen=True)
class Boundary:
    name: str  # the Keras layer path, e.g. "Transformer_encoderblock_3/MlpBlock_3"
    kind: str  # embedding | attention | mlp | block | norm | head
    block: int | None = None

    @property
    def scope_pattern(self) -> re.Pattern:
        return scope_pattern(self.name)


def model_boundaries(num_layers: int) -> list[Boundary]:
    """Every boundary of a vit-keras classifier with `num_layers` transformer blocks, in model order."""
    found = [Boundary(_LAYER_NAMES[EMBEDDING], EMBEDDING)]
    for k in range(num_layers):
        block = BLOCK_LAYER.format(k)
        found += [Boundary(f"{block}/{_LAYER_NAMES[ATTENTION]}", ATTENTION, k), Boundary(f"{block}/{_LAYER_NAMES[MLP]}", MLP, k),
                  Boundary(block, BLOCK, k)]
    return found + [Boundary(_LAYER_NAMES[NORM], NORM), Boundary(_LAYER_NAMES[HEAD], HEAD)]


def select(boundaries: list[Boundary], names: list[str] | None) -> list[Boundary]:
    """The boundaries named (all when None); UsageError, with the known names, for one the model does not have."""
    if not names:
        return boundaries
    by_name = {b.name: b for b in boundaries}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        shown = ", ".join(b.name for b in boundaries[:4]) + f", ... ({len(boundaries)} in all)"
        raise UsageError(f"layer {unknown[0]!r} is not a boundary of this model; known: {shown}")
    wanted = set(names)
    return [b for b in boundaries if b.name in wanted]


def core_name(node_name: str) -> str:
    """A serving-graph node name without the serving function's call scope (what LiteRT names the tensor)."""
    return node_name.removeprefix(_CALL_PREFIX)


def locate(graph_def, boundaries: list[Boundary]) -> dict[str, str | None]:
    """Boundary name -> the serving-graph node whose output is that layer's output (None: not in the graph)."""
    nodes = list(graph_def.node)
    consumers: dict[str, list[str]] = {}
    for node in nodes:
        for name in node.input:
            if not name.startswith("^"):
                consumers.setdefault(name.split(":")[0], []).append(node.name)
    op_of = {node.name: node for node in nodes}
    located: dict[str, str | None] = {}
    for boundary in boundaries:
        pattern = boundary.scope_pattern
        candidates = []
        for position, node in enumerate(nodes):
            match = pattern.search(node.name)
            if match is None or node.op in _NOT_ACTIVATIONS or node.op.endswith("VariableOp"):
                continue
            scope = node.name[: match.end()]
            outside = [c for c in consumers.get(node.name, []) if not c.startswith(scope)]
            if outside:
                candidates.append((position, node.name))
        chosen = max(candidates)[1] if candidates else None  # the last such op: later ones consume earlier ones
        if chosen is not None and op_of[chosen].op == "Softmax":  # the head: its logits say more than probabilities
            chosen = op_of[chosen].input[0].split(":")[0]
        located[boundary.name] = chosen
    return located
