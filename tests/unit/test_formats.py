"""The formats table: every mode has a row with its numbers, lookups take plain strings, unknown names are usage errors."""

from __future__ import annotations

import importlib
import json

import pytest

from edgevit.errors import UsageError
from edgevit.exporters import EXPORTERS
from edgevit.exporters.options import OPTIONS, parse_format as parse_export_format
from edgevit.formats import (EXPORT_FORMATS, FORMATS, MODES, REFERENCE_FORMAT, RUNTIMES, Format, OnnxQuantization, Runtime,
                             default_runtime, find_mode, matmul_dtype, mode_names, packages, parse_format, parse_runtime,
                             runtimes_of)


def test_every_quantization_of_every_format_has_exactly_one_row():
    expected = {(fmt, q) for fmt, spec in FORMATS.items() for q in spec.quantization}
    assert set(MODES) == expected and list(FORMATS) == list(Format)
    assert all(key == (mode.format, mode.quantization) for key, mode in MODES.items())


def test_the_gates_and_device_bounds_per_mode():
    numbers = {name: (m.gate.limits(), m.device_max_abs_error)
               for name, m in zip(mode_names(), MODES.values())}
    assert numbers == {
        "savedmodel/fp32": ({"max_abs_error": 1e-4}, None),
        "tflite/fp32": ({"max_abs_error": 1e-4}, None),
        "tflite/fp16": ({"max_abs_error": 1e-2}, None),
        "tflite/dynamic": ({"min_agreement": 0.995, "max_accuracy_drop": 0.3}, 0.05),
        "tflite/int8": ({"min_agreement": 0.97, "max_accuracy_drop": 1.0}, 0.15),
        "onnx/fp32": ({"max_abs_error": 1e-4}, None),
        "onnx/fp16": ({"max_abs_error": 1e-2}, None),
        "onnx/int8-dynamic": ({"min_agreement": 0.90, "max_accuracy_drop": 3.0}, 0.15),
        "onnx/int8-weights": ({"min_agreement": 0.995, "max_accuracy_drop": 0.3}, 0.05),
        "onnx/int4-weights": ({"min_agreement": 0.95, "max_accuracy_drop": 2.0}, 0.15),
        "coreml/fp32": ({"max_abs_error": 1e-4}, None),
        "coreml/fp16": ({"max_abs_error": 1e-2}, None),
        "coreml/int8": ({"min_agreement": 0.99, "max_accuracy_drop": 0.5}, 0.05),
        "coreml/palettize6": ({"min_agreement": 0.98, "max_accuracy_drop": 1.0}, 0.05),
        "coreml/palettize4": ({"min_agreement": 0.95, "max_accuracy_drop": 2.0}, 0.15),
    }
    # Every mode a device can check has a probability bound: its float gate's, or its own.
    assert all((m.gate.max_abs_error is None) == (m.device_max_abs_error is not None) for m in MODES.values())


def test_lookups_take_the_strings_manifests_hold():
    mode = find_mode("onnx", "int8-dynamic")
    assert mode is MODES[(Format.ONNX, OnnxQuantization.INT8_DYNAMIC)]
    assert mode.artifact_name == "onnx-int8-dynamic" and mode.matmul_dtype == "int8"
    assert "verify" in mode.parity_note and mode.parity_risk.startswith("highest")
    assert find_mode("tflite", "fp8") is None and find_mode("tensorrt", "fp16") is None
    # Enum members print, compare and serialise as their values.
    assert f"{Format.TFLITE}" == "tflite" and json.dumps({"runtime": Runtime.LITERT}) == '{"runtime": "litert"}'


def test_matmul_dtype_is_int8_only_where_activations_are_quantized():
    int8 = sorted(name for name, m in zip(mode_names(), MODES.values()) if m.matmul_dtype == "int8")
    assert int8 == ["onnx/int8-dynamic", "tflite/dynamic", "tflite/int8"]
    # Core ML's int8 compresses weights only; the reference row of bench has no table quantization.
    assert matmul_dtype("coreml", "int8") == "float32" and matmul_dtype("savedmodel", "none") == "float32"


def test_unknown_names_are_usage_errors_listing_the_known_ones():
    assert parse_format("coreml") is Format.COREML
    with pytest.raises(UsageError, match="unknown format 'executorch'; known: savedmodel, tflite, onnx, coreml"):
        parse_format("executorch")
    # Exporting: the SavedModel is the source, not a target.
    with pytest.raises(UsageError, match="unknown format 'savedmodel'; known: tflite, onnx, coreml"):
        parse_export_format("savedmodel")
    assert parse_runtime("onnxruntime").format is Format.ONNX
    with pytest.raises(UsageError, match="unknown runtime 'tensorrt'; known: savedmodel, litert, onnxruntime, coreml, coreml-mil-numpy"):
        parse_runtime("tensorrt")
    with pytest.raises(UsageError, match="no runtime for artifact format 'executorch'; known formats: savedmodel, tflite, onnx, coreml"):
        default_runtime("executorch")
    assert runtimes_of("executorch") == ()


def test_default_runtime_is_the_first_that_runs_on_this_os():
    assert default_runtime("coreml", "Darwin") is Runtime.COREML
    assert default_runtime("coreml", "Linux") is Runtime.COREML_MIL_NUMPY
    assert default_runtime("tflite", "Linux") is Runtime.LITERT and default_runtime("savedmodel", "Windows") is Runtime.SAVEDMODEL
    assert [r.name for r in runtimes_of("coreml")] == ["coreml", "coreml-mil-numpy"]


def test_every_runner_and_exporter_the_table_names_exists():
    for runtime in RUNTIMES.values():
        module, cls = runtime.runner.split(":")
        assert hasattr(importlib.import_module(module), cls), runtime.runner
    assert set(EXPORTERS) == set(OPTIONS) == set(EXPORT_FORMATS) == set(Format) - {REFERENCE_FORMAT}


def test_packages_are_builders_then_runtimes_each_once():
    assert packages() == ("tensorflow-cpu", "ai-edge-quantizer", "tf2onnx", "onnx", "onnxruntime", "coremltools", "ai-edge-litert")
