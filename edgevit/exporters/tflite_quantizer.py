"""Per-layer precision for TFLite: AI Edge Quantizer (`ai-edge-quantizer`) on the float .tflite.

    model, details = quantize_dynamic(float_model, float_layers=("Transformer_encoderblock_3",))

The TFLite converter has one switch for the whole model; AI Edge Quantizer takes a recipe of
(regex over op names, op type, algorithm) entries instead. The recipe here is its dynamic_wi8_afp32
over every op it supports (int8 weights, one scale per output channel; float activations, which the
kernel quantizes per call: what the converter's dynamic range does), then one NO_QUANTIZE entry per
float layer whose regex is that layer's name scope (edgevit.layer_names: the names `edgevit debug
layers` maps boundaries by). AI Edge Quantizer applies the last entry whose regex matches an op's
scope (its output tensor names joined by ';'), so the ops of those layers stay float.
"""

from __future__ import annotations

import contextlib
import io
from importlib.metadata import version

from edgevit.errors import ExportError, UsageError
from edgevit.exporters.tflite_file import Operator, operators
from edgevit.layer_names import FUSED_SEPARATOR, scope_pattern

QUANTIZER = "ai-edge-quantizer"
DYNAMIC_RECIPE = "dynamic_wi8_afp32"


def op_scope(op: Operator) -> str:
    """What AI Edge Quantizer matches a recipe's regex against: the op's output tensor names, each followed by ';'
    (ai_edge_quantizer.utils.tfl_flatbuffer_utils.get_op_scope)."""
    return "".join(name + FUSED_SEPARATOR for name in op.outputs if name)


def ops_in_layers(model: bytes, layers: tuple[str, ...]) -> list[str]:
    """The scopes of the ops inside the Keras layers `layers`, in model order (UsageError naming a layer with none)."""
    scopes = [op_scope(op) for op in operators(model)]
    inside: set[str] = set()
    for layer in layers:
        pattern = scope_pattern(layer)
        found = {scope for scope in scopes if pattern.search(scope)}
        if not found:
            raise UsageError(f"float layer {layer!r} is not a layer of this model (no TFLite op is named under it); "
                             "name Keras layers as `edgevit debug layers` reports them, e.g. Transformer_encoderblock_0")
        inside |= found
    return [scope for scope in scopes if scope in inside]


def quantize_dynamic(float_model: bytes, float_layers: tuple[str, ...] = ()) -> tuple[bytes, dict]:
    """The float .tflite with int8 weights in every op AI Edge Quantizer supports except those of `float_layers`;
    and the plan for the manifest's conversion details."""
    from ai_edge_quantizer import quantizer, recipe
    from ai_edge_quantizer.algorithm_manager import AlgorithmName
    from ai_edge_quantizer.qtyping import TFLOperationName

    float_ops = ops_in_layers(float_model, float_layers)
    job = quantizer.Quantizer(float_model, getattr(recipe, DYNAMIC_RECIPE)())
    for layer in float_layers:
        job.update_quantization_recipe(regex=scope_pattern(layer).pattern, operation_name=TFLOperationName.ALL_SUPPORTED,
                                       algorithm_key=AlgorithmName.NO_QUANTIZE)
    try:
        # Library code prints nothing: its tensor transformations draw a tqdm bar on stderr past 100 tensors
        # whatever enable_progress_bar says (0.10.0 passes it to parameter generation only).
        with contextlib.redirect_stderr(io.StringIO()):
            result = job.quantize(enable_progress_bar=False, enable_progress_report=False)
    except (ValueError, RuntimeError, KeyError) as exc:  # what it raises for a model or recipe it cannot handle
        text = str(exc).strip().splitlines()
        raise ExportError(f"AI Edge Quantizer failed: {text[0] if text else type(exc).__name__}") from None
    details = {
        "quantizer": {"name": QUANTIZER, "version": version(QUANTIZER), "recipe_name": DYNAMIC_RECIPE,
                      "recipe": job.get_quantization_recipe()},
    }
    if float_layers:  # the per-layer precision plan
        details["float_layers"] = list(float_layers)
        details["float_ops"] = float_ops
    return bytes(result.quantized_model), details
