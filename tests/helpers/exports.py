"""Shared by the exporter tests: per-option tolerances (data, not literals in tests), the reference
predictions of the tiny SavedModel on its test split, and SavedModels that are wrong on purpose."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    max_abs_error: float  # largest |p_artifact - p_savedmodel| over every probability of the test split
    min_agreement: float  # top-1 agreement with the SavedModel


# Measured on the tiny model (4 classes, 48 test images; its probabilities are close to ties, so
# agreement of quantized options is looser than it would be on a confident model), with headroom.
TOLERANCES: dict[tuple[str, str], Tolerance] = {
    ("tflite", "fp32"): Tolerance(1e-5, 1.0),
    ("tflite", "fp16"): Tolerance(2e-3, 0.95),
    ("tflite", "dynamic"): Tolerance(0.03, 0.9),  # measured 0.0055
    ("tflite", "int8"): Tolerance(0.3, 0.75),  # measured 0.14, 94%
    ("onnx", "fp32"): Tolerance(1e-5, 1.0),
    ("onnx", "fp16"): Tolerance(2e-3, 0.95),  # measured 2.6e-4
    ("onnx", "int8-dynamic"): Tolerance(0.3, 0.75),  # measured 0.10, 88%: the riskiest option
    ("onnx", "int8-weights"): Tolerance(0.03, 0.9),  # weight-only int8: as tflite dynamic (random tiny model: 0.0094, 100%)
    ("onnx", "int4-weights"): Tolerance(0.3, 0.75),  # 16 weight levels (random tiny model: 0.24, 83%)
}

# Core ML has no runtime on Linux: its compressed weights are decompressed and compared with the
# fp16 package's, as relative RMS error ||w - w_fp16|| / ||w_fp16|| per weight (largest over weights).
COREML_WEIGHT_ERROR: dict[str, float] = {
    "int8": 0.02,  # measured 0.008
    "palettize6": 0.05,  # measured 0.024
    "palettize4": 0.15,  # measured 0.094
}


@dataclass(frozen=True)
class Reference:
    images: np.ndarray  # preprocessed test split, (N, H, W, 3) float32
    probabilities: np.ndarray  # the SavedModel's, (N, C)
    labels: list[str]


def reference_predictions(tiny_run) -> Reference:
    from edgevit.data.folders import load_image_folders
    from edgevit.data.preprocess import preprocess
    from edgevit.manifest import preprocessing_of
    from edgevit.savedmodel.load import LoadedSavedModel

    model = LoadedSavedModel(tiny_run.saved_model)
    spec = preprocessing_of(model.manifest)
    paths = load_image_folders(tiny_run.data_root, splits=("test",)).split("test").paths
    images = np.stack([preprocess(p, spec) for p in paths])
    return Reference(images, model.predict(images), list(model.manifest["labels"]))


def compare(outputs: np.ndarray, reference: Reference) -> tuple[float, float]:
    """(max abs error, top-1 agreement) against the SavedModel."""
    assert outputs.shape == reference.probabilities.shape
    error = float(np.abs(outputs - reference.probabilities).max())
    agreement = float((outputs.argmax(1) == reference.probabilities.argmax(1)).mean())
    return error, agreement


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


@contextlib.contextmanager
def logged_lines(logger_name: str):
    """The messages `logger_name` logs at INFO and up while the block runs (a module-scoped fixture cannot use caplog)."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger, handler = logging.getLogger(logger_name), Collect(level=logging.INFO)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def copy_manifest_only(tiny_run, folder: Path) -> None:
    """A manifest.json beside a hand-made saved_model.pb, so only the SavedModel itself is wrong."""
    shutil.copy(tiny_run.saved_model / "manifest.json", folder / "manifest.json")


def save_module(folder: Path, signatures: dict) -> Path:
    """tf.saved_model.save of a module with one variable and the given {key: input TensorSpec} signatures."""
    import tensorflow as tf

    class Module(tf.Module):
        def __init__(self):
            super().__init__()
            self.scale = tf.Variable(2.0)

    module = Module()
    functions = {}
    for key, spec in signatures.items():
        functions[key] = tf.function(lambda images: {"probabilities": tf.reduce_mean(images, axis=[1, 2]) * module.scale},
                                     input_signature=[spec])
    tf.saved_model.save(module, str(folder), signatures=functions)
    return folder
