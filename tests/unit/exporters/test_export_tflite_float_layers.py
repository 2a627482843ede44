"""TFLite dynamic with float_layers: AI Edge Quantizer quantizes the float .tflite of the tiny model and leaves
the named block's ops float; the plan is in the manifest; a name that is no layer is one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.exports import TOLERANCES, compare, read_json

from edgevit.errors import UsageError
from edgevit.exporters import export
from edgevit.exporters.options import TFLiteOptions
from edgevit.exporters.tflite_file import operators
from edgevit.exporters.tflite_quantizer import op_scope
from edgevit.layer_names import in_layer

FLOAT_BLOCK = "Transformer_encoderblock_2"
WEIGHT_OPS = ("FULLY_CONNECTED", "CONV_2D")  # the ops with weights in a ViT: what dynamic quantization rounds


@pytest.fixture(scope="module")
def built(tiny_run, tiny_artifacts, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("tflite-float-layers")
    fp32 = tiny_artifacts([("tflite", "fp32")]) / "tflite-fp32"
    return {
        "fp32": fp32,
        "mixed": export("tflite", saved_model=tiny_run.saved_model, out_dir=out, name="mixed", quantization="dynamic",
                        float_layers=[FLOAT_BLOCK]),
    }


def _weight_types(folder: Path) -> list[tuple[bool, str]]:
    """(inside FLOAT_BLOCK, weight tensor type) of every op with weights."""
    model = (folder / read_json(folder / "manifest.json")["file"]).read_bytes()
    return [(in_layer(op_scope(op), FLOAT_BLOCK), op.input_types[1]) for op in operators(model) if op.op in WEIGHT_OPS]


def test_the_named_blocks_ops_stay_float_and_every_other_weight_is_int8(built):
    weights = _weight_types(built["mixed"])
    inside = [dtype for is_inside, dtype in weights if is_inside]
    outside = [dtype for is_inside, dtype in weights if not is_inside]
    assert len(inside) == 6 and set(inside) == {"FLOAT32"}  # query, key, value, out and the MLP's two dense layers
    assert outside and set(outside) == {"INT8"}


def test_the_plan_is_in_the_manifest_and_the_file_is_smaller_than_fp32(built):
    manifest = read_json(built["mixed"] / "manifest.json")
    conversion = manifest["conversion"]
    model = (built["mixed"] / manifest["file"]).read_bytes()
    assert conversion["float_layers"] == [FLOAT_BLOCK]
    assert conversion["float_ops"] == [op_scope(op) for op in operators(model) if in_layer(op_scope(op), FLOAT_BLOCK)]
    assert conversion["quantizer"]["name"] == "ai-edge-quantizer" and conversion["quantizer"]["version"] == "0.10.0"
    assert conversion["quantizer"]["recipe_name"] == "dynamic_wi8_afp32"
    assert [entry["algorithm_key"] for entry in conversion["quantizer"]["recipe"]] == ["min_max_uniform_quantize", "no_quantize"]
    assert manifest["tool_versions"]["ai-edge-quantizer"] == "0.10.0"
    assert manifest["file_size"] < 0.6 * read_json(built["fp32"] / "manifest.json")["file_size"]


def test_int8_weight_ops_declare_the_op_versions_the_converter_gives_them_and_their_runtime(built, tiny_run, tmp_path):
    from edgevit.errors import ExportError
    from edgevit.exporters.tflite_file import min_runtime_version, op_versions

    manifest = read_json(built["mixed"] / "manifest.json")
    model = (built["mixed"] / manifest["file"]).read_bytes()
    # AI Edge Quantizer leaves them at version 1; the converter's dynamic range writes 12 and 5 (TFLite 2.17.0).
    assert {("FULLY_CONNECTED", 1), ("FULLY_CONNECTED", 12), ("CONV_2D", 5)} <= set(op_versions(model))
    assert ("CONV_2D", 1) not in op_versions(model)
    assert min_runtime_version(model) == "2.17.0" and manifest["runtime_support"]["summary"] == "TFLite 2.17.0+"
    with pytest.raises(ExportError, match="TFLite 2.14 cannot load this model: FULLY_CONNECTED version 12 needs TFLite 2.17.0"):
        export("tflite", saved_model=tiny_run.saved_model, out_dir=tmp_path, quantization="dynamic",
               float_layers=[FLOAT_BLOCK], min_runtime="2.14")
    assert not (tmp_path / "tflite-dynamic").exists()


def test_it_matches_the_savedmodel_as_closely_as_the_converters_dynamic_range(built, tiny_reference):
    from edgevit.runners import open_artifact, runner_for

    runner = runner_for(open_artifact(built["mixed"]))
    try:
        error, agreement = compare(runner.predict(tiny_reference.images), tiny_reference)
    finally:
        runner.close()
    tolerance = TOLERANCES[("tflite", "dynamic")]
    assert error <= tolerance.max_abs_error and agreement >= tolerance.min_agreement, (error, agreement)


def test_debug_layers_maps_every_boundary_of_the_ai_edge_quantizer_artifact(built, tiny_run):
    from edgevit.verify.layers.run import COMPARED, layer_parity

    report = layer_parity([built["mixed"]], saved_model=tiny_run.saved_model, data=tiny_run.data_root, max_images=2)
    result = report.results[0]
    assert result.status == "ok", result.reason
    assert len(result.boundaries) == 1 + 3 * 4 + 2  # embedding, 3 per block of 4, norm, head: none dropped
    assert [b.boundary.name for b in result.boundaries if b.status != COMPARED] == []


def test_a_float_layer_that_is_no_layer_of_the_model_is_one_line(tiny_run, tmp_path):
    with pytest.raises(UsageError) as error:
        export("tflite", saved_model=tiny_run.saved_model, out_dir=tmp_path, quantization="dynamic",
               float_layers=["Transformer_encoderblock_9"])
    assert "\n" not in str(error.value)
    assert "float layer 'Transformer_encoderblock_9' is not a layer of this model" in str(error.value)
    assert not (tmp_path / "tflite-dynamic").exists()


def test_float_layers_and_the_quantizer_option_are_checked_before_any_work():
    assert TFLiteOptions(float_layers=[FLOAT_BLOCK]).uses_ai_edge_quantizer
    assert TFLiteOptions(quantizer="ai-edge-quantizer").uses_ai_edge_quantizer
    assert not TFLiteOptions().uses_ai_edge_quantizer
    with pytest.raises(UsageError, match="fp16 has none to keep"):
        TFLiteOptions(quantization="fp16", float_layers=[FLOAT_BLOCK])
    with pytest.raises(UsageError, match="the TFLite converter quantizes the whole model or none of it"):
        TFLiteOptions(quantizer="converter", float_layers=[FLOAT_BLOCK])
    with pytest.raises(UsageError, match="unknown TFLite quantizer 'aeq'; known: converter, ai-edge-quantizer"):
        TFLiteOptions(quantizer="aeq")
    with pytest.raises(UsageError, match="int8 has one route"):
        TFLiteOptions(quantization="int8", quantizer="ai-edge-quantizer")
