"""Mixed precision for training: float32, bfloat16 or float16 compute with float32 weights.

Keras' dtype policies do the casting: variables stay float32, layers compute in the policy's
dtype. The softmax head computes in float32 so the loss sees full-precision probabilities.
float16 has a narrow exponent, so small gradients underflow to zero: its loss is scaled up
before the backward pass and the gradients scaled back down (LossScaleOptimizer, a dynamic
scale that halves on overflow and grows while steps stay finite). bfloat16 has float32's
exponent and needs no scaling.
"""

from __future__ import annotations

import contextlib
import enum

from edgevit.errors import UsageError


class Precision(str, enum.Enum):
    FP32 = "fp32"
    BF16 = "bf16"
    FP16 = "fp16"


# Precision -> Keras dtype policy name.
POLICIES = {Precision.FP32: "float32", Precision.BF16: "mixed_bfloat16", Precision.FP16: "mixed_float16"}
# The dtype the matrix multiplies run in (what the accelerator's peak is measured for).
COMPUTE_DTYPES = {Precision.FP32: "float32", Precision.BF16: "bfloat16", Precision.FP16: "float16"}
# Layers that compute in float32 whatever the policy (names in edgevit.models.build_classifier).
FLOAT32_LAYERS = ("head",)


def parse_precision(name: str | Precision) -> Precision:
    try:
        return Precision(name)
    except ValueError:
        raise UsageError(f"unknown precision '{name}'; known: {', '.join(p.value for p in Precision)}") from None


@contextlib.contextmanager
def precision_policy(keras, precision: Precision):
    """Build models inside this block to get `precision`; the previous global policy comes back after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(POLICIES[precision])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def keep_float32_layers(model) -> None:
    """Run the output layers in float32 (their weights are float32 already; only the compute dtype changes)."""
    for name in FLOAT32_LAYERS:
        model.get_layer(name).dtype_policy = "float32"


def wrap_optimizer(keras, optimizer, precision: Precision):
    """float16 gets dynamic loss scaling; the other precisions train with the optimizer as it is."""
    if precision is Precision.FP16:
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
