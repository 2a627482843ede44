"""Which runtime versions can load an artifact: the published version tables, kept here and nowhere else.

Each exporter reads its model's own version stamps (a .tflite's op codes and `min_runtime_version`
metadata, an ONNX file's IR version and opsets, a Core ML spec version) and records them with what
these tables say in the artifact manifest's `runtime_support` block; ios-sync and the report read that
block. Nothing here imports a converter or a runtime: every layer above may ask it.

    tflite_op_runtime("FULLY_CONNECTED", 12)       -> "2.17.0"
    ops_needing_newer([("FULLY_CONNECTED", 12), ("GELU", 1)], "2.14") -> [("FULLY_CONNECTED", 12, "2.17.0")]
    oldest_onnxruntime(ir_version=8, opset=17)      -> "1.12"
"""

from __future__ import annotations

import re

from edgevit.errors import UsageError

_VERSION = re.compile(r"^(\d{1,3})(?:\.(\d{1,3}))?(?:\.(\d{1,3}))?$")


def parse_version(text: str, *, what: str = "runtime version") -> tuple[int, int, int]:
    """'2.14' or '2.14.0' -> (2, 14, 0), '16' -> (16, 0, 0); UsageError saying the expected form otherwise."""
    match = _VERSION.match(str(text).strip())
    if not match:
        raise UsageError(f"{what} {text!r} is not a version like 2.14 or 2.14.0")
    major, minor, patch = match.groups()
    if patch is not None and minor is None:
        raise UsageError(f"{what} {text!r} is not a version like 2.14 or 2.14.0")
    return int(major), int(minor or 0), int(patch or 0)


def version_text(version: tuple[int, int, int]) -> str:
    return ".".join(map(str, version))


def is_newer(version: str, than: str) -> bool:
    """Whether runtime `version` is newer than `than` (both 'X.Y' or 'X.Y.Z')."""
    return parse_version(version) > parse_version(than)


# ---------------------------------------------------------------------------------------------
# TFLite: the oldest TFLite runtime whose kernels implement each op version.
#
# Source: the converter's own table, FindMinimumRuntimeVersionForOp in TensorFlow's
# tensorflow/compiler/mlir/lite/tools/versioning/runtime_version.cc (commit 6ee57630, the table
# TF 2.21's converter uses to write a model's `min_runtime_version` metadata). Kept for the ops a
# vit-keras ViT converts to in edgevit's TFLite modes (measured on the tiny variant in fp32, fp16,
# dynamic and int8), plus their close relatives. The model's `min_runtime_version`
# metadata is the authority on the whole model; this table only says which op asks for that version.
# Op name -> the runtime each version needs, version 1 first.
TFLITE_OP_RUNTIMES: dict[str, tuple[str, ...]] = {
    "ADD": ("1.5.0", "1.14.0", "2.4.0", "2.6.0", "2.13.0"),
    "BATCH_MATMUL": ("2.3.0", "2.3.0", "2.4.0", "2.5.0"),
    "BROADCAST_TO": ("", "2.5.0", "2.5.0"),  # version 1 was rolled back and never shipped
    "CAST": ("1.5.0", "2.7.0", "2.8.0", "2.9.0", "2.12.0", "2.15.0"),
    "CONCATENATION": ("1.5.0", "1.14.0", "2.3.0", "2.14.0"),
    "CONV_2D": ("1.5.0", "1.14.0", "1.14.0", "2.3.0", "2.4.0", "2.9.0", "2.11.0", "2.15.0"),
    "DEQUANTIZE": ("1.13.1", "1.14.0", "1.15.0", "2.2.0", "2.7.0", "2.18.0"),
    "DIV": ("1.6.0", "2.3.0"),
    "EXPAND_DIMS": ("1.10.0",),
    "FULLY_CONNECTED": ("1.5.0", "1.10.0", "1.14.0", "1.14.0", "2.0.0", "2.1.0", "2.3.0", "2.3.0", "2.3.0", "2.11.0",
                        "2.15.0", "2.17.0", "2.18.0"),
    "GATHER": ("1.6.0", "1.14.0", "1.15.0", "2.4.0", "2.5.0", "2.13.0", "2.15.0"),
    "GELU": ("2.9.0", "2.9.0"),
    "MEAN": ("1.6.0", "1.14.0", "2.4.0"),
    "MUL": ("1.5.0", "1.14.0", "1.15.0", "2.3.0", "2.6.0", "2.11.0", "2.13.0"),
    "NEG": ("1.9.0",),
    "PACK": ("1.11.0", "1.14.0", "2.3.0", "2.13.0"),
    "QUANTIZE": ("1.14.0", "1.15.0", "2.7.0"),
    "REDUCE_PROD": ("1.11.0", "2.6.0"),
    "RESHAPE": ("1.5.0",),
    "RSQRT": ("1.10.0", "2.5.0", "2.15.0"),
    "SHAPE": ("1.10.0",),
    "SLICE": ("1.14.0", "1.14.0", "1.14.0", "2.4.0", "2.5.0", "2.14.0"),
    "SOFTMAX": ("1.5.0", "1.14.0", "2.3.0"),
    "SQUARED_DIFFERENCE": ("1.13.1", "2.5.0"),
    "STRIDED_SLICE": ("1.6.0", "1.14.0", "2.1.0", "2.2.0", "2.5.0", "2.6.0", "2.14.0", "2.14.0"),
    "SUB": ("1.6.0", "1.14.0", "2.3.0", "2.4.0", "2.4.0"),
    "SUM": ("1.10.0", "1.15.0"),
    "TANH": ("1.14.0", "1.14.0", "2.3.0"),
    "TILE": ("1.10.1", "2.2.0", "2.8.0"),
    "TRANSPOSE": ("1.6.0", "1.14.0", "1.15.0", "2.3.0", "2.4.0", "2.12.0"),
}
TFLITE_OP_RUNTIMES_SOURCE = ("TensorFlow tensorflow/compiler/mlir/lite/tools/versioning/runtime_version.cc "
                             "(FindMinimumRuntimeVersionForOp, commit 6ee57630)")


# The version TF's converter gives an op that computes on float activations with per-channel int8 weights
# (dynamic range): GetBuiltinOperatorVersion in tensorflow/compiler/mlir/lite/tools/versioning/op_version.cc,
# and what TF 2.21's converter wrote for the tiny ViT (tests/unit/exporters/test_export_tflite_float_layers.py).
# AI Edge Quantizer 0.10.0 leaves such ops at the float model's version 1, which understates the runtime they need.
TFLITE_HYBRID_OP_VERSIONS: dict[str, int] = {"FULLY_CONNECTED": 12, "CONV_2D": 5}


def tflite_op_runtime(op: str, version: int) -> str | None:
    """The oldest TFLite runtime with a kernel for `op` at `version`; None when the table does not know it."""
    versions = TFLITE_OP_RUNTIMES.get(op, ())
    return versions[version - 1] or None if 1 <= version <= len(versions) else None


def ops_needing_newer(ops, target: str) -> list[tuple[str, int, str]]:
    """(op, version, the runtime it needs) for each of `ops` ((op, version) pairs) that runtime `target` lacks."""
    return [(op, version, needs) for op, version in ops
            if (needs := tflite_op_runtime(op, version)) is not None and is_newer(needs, target)]


def ops_not_in_table(ops) -> list[tuple[str, int]]:
    """The (op, version) pairs this table cannot place (the model's metadata still covers them)."""
    return [(op, version) for op, version in ops if tflite_op_runtime(op, version) is None]


# ---------------------------------------------------------------------------------------------
# ONNX Runtime: each release and the newest ONNX opset, ONNX-ML opset and IR version it implements.
#
# Source: the version table of https://onnxruntime.ai/docs/reference/compatibility.html
# (microsoft/onnxruntime, gh-pages docs/reference/compatibility.md, commit 109c0baa). A release runs
# every model whose opsets and IR version are at most these (all releases run opsets from 7 up).
ONNXRUNTIME_RELEASES: tuple[tuple[str, int, int, int], ...] = (
    # (release, ai.onnx opset, ai.onnx.ml opset, IR version), oldest first
    ("1.0", 11, 2, 6), ("1.1", 11, 2, 6), ("1.2", 11, 2, 6),
    ("1.3", 12, 2, 7), ("1.4", 12, 2, 7), ("1.5", 12, 2, 7), ("1.6", 13, 2, 7), ("1.7", 13, 2, 7),
    ("1.8", 14, 2, 7), ("1.9", 15, 2, 8), ("1.10", 15, 2, 8), ("1.11", 16, 2, 8), ("1.12", 17, 3, 8),
    ("1.13", 17, 3, 8), ("1.14", 18, 3, 8), ("1.15", 19, 3, 8), ("1.16", 19, 3, 9), ("1.17", 20, 4, 9),
    ("1.18", 21, 4, 10), ("1.19", 21, 4, 10), ("1.20", 21, 4, 10),
)
ONNXRUNTIME_RELEASES_SOURCE = "https://onnxruntime.ai/docs/reference/compatibility.html (ONNX opset support table)"
ONNX_DOMAIN, ONNX_ML_DOMAIN = "ai.onnx", "ai.onnx.ml"


def oldest_onnxruntime(*, ir_version: int, opset: int, ml_opset: int | None = None) -> str | None:
    """The oldest ONNX Runtime release that implements the model's IR version and opsets; None when the
    table holds none (the model is newer than its newest row: say so rather than guess)."""
    for release, max_opset, max_ml_opset, max_ir in ONNXRUNTIME_RELEASES:
        if opset <= max_opset and ir_version <= max_ir and (ml_opset is None or ml_opset <= max_ml_opset):
            return release
    return None
