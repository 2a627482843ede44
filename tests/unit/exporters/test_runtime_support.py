"""Every artifact's manifest says which runtimes load it, and `--min-runtime` builds a .tflite an older
runtime loads, or fails naming the op that needs a newer one (the cheap half of the old-runtime checks;
tests/integration/test_old_tflite_runtime.py loads the files in a real old runtime)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.exports import TOLERANCES, compare, read_json

from edgevit.cli import main
from edgevit.compat import is_newer
from edgevit.errors import ExportError, UsageError
from edgevit.exporters import export
from edgevit.exporters.options import make_options
from edgevit.exporters.tflite_file import min_runtime_version, op_versions

PER_CHANNEL_DENSE = "_experimental_disable_per_channel_quantization_for_dense_layers"


@pytest.fixture(scope="module")
def tflite(tiny_tflite_for_old_runtimes) -> dict[str, Path]:
    return tiny_tflite_for_old_runtimes


def _support(folder: Path) -> dict:
    return read_json(folder / "manifest.json")["runtime_support"]


def test_the_manifest_states_the_model_files_own_minimum_runtime_and_op_versions(tflite):
    for folder in tflite.values():
        support, model = _support(folder), (folder / "model.tflite").read_bytes()
        assert support["min_runtime_version"] == min_runtime_version(model)
        assert [(o["op"], o["version"]) for o in support["ops"]] == op_versions(model)
        assert support["summary"] == f"TFLite {support['min_runtime_version']}+"
        # No op needs a runtime newer than the model's own metadata says.
        assert not [o for o in support["ops"] if o["min_runtime_version"] and is_newer(o["min_runtime_version"], support["min_runtime_version"])]
    # The default weight-quantized export needs the newest runtime: dense layers with per-channel int8 weights.
    dynamic = _support(tflite["dynamic"])
    assert dynamic["min_runtime_version"] == "2.17.0" and {"op": "FULLY_CONNECTED", "version": 12, "min_runtime_version": "2.17.0"} in dynamic["ops"]
    assert dynamic["requested_min_runtime"] is None and dynamic["converter_settings"] == {}
    assert _support(tflite["fp16"])["min_runtime_version"] == "2.9.0"  # GELU


def test_min_runtime_keeps_older_op_versions_and_parity(tflite, tiny_reference):
    from ai_edge_litert.interpreter import Interpreter

    folder = tflite["dynamic-rt2.14"]
    support = _support(folder)
    assert support["requested_min_runtime"] == "2.14" and support["converter_settings"] == {PER_CHANNEL_DENSE: True}
    assert support["min_runtime_version"] == "2.9.0"
    assert ("FULLY_CONNECTED", 9) in op_versions((folder / "model.tflite").read_bytes())
    assert read_json(folder / "manifest.json")["quantization"] == "dynamic"  # still weight-quantized
    assert (folder / "model.tflite").stat().st_size < 1.1 * (tflite["dynamic"] / "model.tflite").stat().st_size
    manifest = read_json(folder / "manifest.json")
    runner = Interpreter(model_path=str(folder / "model.tflite")).get_signature_runner(manifest["input"]["signature"])
    outputs = runner(**{manifest["input"]["signature_key"]: tiny_reference.images})[manifest["output"]["signature_key"]]
    error, agreement = compare(outputs, tiny_reference)
    tolerance = TOLERANCES[("tflite", "dynamic")]  # the same tolerance as the default dynamic export
    assert error <= tolerance.max_abs_error and agreement >= tolerance.min_agreement, (error, agreement)


def test_an_unreachable_runtime_fails_in_one_line_naming_the_op(tiny_run, tmp_path):
    # In this process (the CLI adds the artifact's name in front and exits 5, ExportError's code, as for any failed export).
    with pytest.raises(ExportError) as caught:
        export("tflite", saved_model=tiny_run.saved_model, out_dir=tmp_path / "out", quantization="dynamic", min_runtime="2.8")
    message = str(caught.value)
    assert "\n" not in message and caught.value.exit_code == 5
    assert message.startswith("TFLite 2.8 cannot load this model: GELU version 1 needs TFLite 2.9.0") and "--min-runtime 2.9.0" in message
    assert not (tmp_path / "out" / "tflite-dynamic-rt2.8").exists()


def test_min_runtime_is_checked_before_any_work(tiny_run, tmp_path, capsys):
    assert main(["export", str(tiny_run.saved_model), "--out", str(tmp_path / "a"), "--min-runtime", "2.x"]) == 2
    assert "--min-runtime '2.x' is not a version like 2.14 or 2.14.0" in capsys.readouterr().err
    assert main(["export", str(tiny_run.saved_model), "--out", str(tmp_path / "b"), "--format", "onnx", "--min-runtime", "2.14"]) == 2
    assert "--min-runtime is a tflite option" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    with pytest.raises(UsageError, match="in quotes"):  # a recipe's TOML number: 2.10 would read as 2.1
        make_options("tflite", {"min_runtime": 2.10})


def test_onnx_support_from_ir_version_and_the_opsets_its_nodes_use(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from edgevit.exporters.onnx import runtime_support

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 2), helper.make_opsetid("com.microsoft", 1)]
    onnx.save(helper.make_model(graph, opset_imports=opsets, ir_version=8), tmp_path / "m.onnx")
    support = runtime_support(tmp_path / "m.onnx")
    assert support["ir_version"] == 8 and support["opsets"] == {"ai.onnx": 17}  # declared but unused domains do not count
    assert support["declared_opsets"] == {"ai.onnx": 17, "ai.onnx.ml": 2, "com.microsoft": 1}
    assert support["min_onnxruntime"] == "1.12" and support["summary"] == "ONNX Runtime 1.12+"
    onnx.save(helper.make_model(graph, opset_imports=opsets[:1], ir_version=11), tmp_path / "new.onnx")
    assert runtime_support(tmp_path / "new.onnx")["min_onnxruntime"] is None
    assert "newer than 1.20" in runtime_support(tmp_path / "new.onnx")["summary"]


def test_coreml_support_from_the_spec_version():
    from edgevit.exporters.coreml import runtime_support

    support = runtime_support(7)  # what minimum_ios=16 (the default) writes
    assert support["minimum_os"]["iOS"] == "16" and support["minimum_os"]["macOS"] == "13"
    assert support["summary"] == "Core ML spec 7: iOS 16+, macOS 13+"
    assert runtime_support(8)["minimum_os"]["iOS"] == "17" and runtime_support(4)["minimum_os"]["macOS"] == "10.15"


def test_the_op_table_knows_every_op_the_tiny_vit_converts_to(tflite):
    from edgevit.compat import ops_not_in_table

    for folder in tflite.values():
        assert ops_not_in_table(op_versions((folder / "model.tflite").read_bytes())) == [], folder.name


def test_older_op_settings_only_touch_the_mode_that_needs_them():
    from edgevit.exporters.tflite import older_op_settings
    from edgevit.formats import TFLiteQuantization

    assert older_op_settings("2.14", TFLiteQuantization.DYNAMIC) == {PER_CHANNEL_DENSE: True}
    assert older_op_settings("2.17", TFLiteQuantization.DYNAMIC) == {} == older_op_settings(None, TFLiteQuantization.DYNAMIC)
    # fp32, fp16 and int8 already load in 2.9.0 (measured): their weights keep their per-channel scales.
    for mode in (TFLiteQuantization.FP32, TFLiteQuantization.FP16, TFLiteQuantization.INT8):
        assert older_op_settings("2.14", mode) == {}
