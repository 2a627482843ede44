"""Core ML export of the tiny model. No Core ML runtime exists on Linux, so each .mlpackage is loaded
with skip_model_load and checked through its spec and MIL program: input, classifier outputs and
labels, deployment target, the ops each compression leaves, and the decompressed weights' error
against the fp16 package within a tolerance per option."""

from __future__ import annotations

import re

import numpy as np
import pytest
from helpers.exports import COREML_WEIGHT_ERROR, read_json

from edgevit.exporters import export
from edgevit.exporters.coreml import class_labels, mil_operations

QUANTIZATIONS = ("fp16", "fp32", "int8", "palettize6", "palettize4")


@pytest.fixture(scope="module")
def artifacts(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("coreml")
    return {q: export("coreml", saved_model=tiny_run.saved_model, out_dir=out, quantization=q) for q in QUANTIZATIONS}


def load_spec(folder):
    import coremltools as ct

    return ct.models.MLModel(str(folder / "model.mlpackage"), skip_model_load=True).get_spec()


def test_each_package_is_an_mlprogram_classifier_with_the_labels(artifacts, tiny_run):
    source = read_json(tiny_run.saved_model / "manifest.json")
    size = source["input"]["shape"][1]
    for quantization, folder in artifacts.items():
        spec = load_spec(folder)
        assert spec.WhichOneof("Type") == "mlProgram"
        assert spec.specificationVersion == 7  # iOS 16, the default target
        (inp,) = spec.description.input
        assert inp.name == "images" and list(inp.type.multiArrayType.shape) == [1, size, size, 3]
        assert spec.description.predictedFeatureName == "classLabel"
        assert spec.description.predictedProbabilitiesName == "classLabel_probs"
        assert class_labels(spec) == source["labels"]
        manifest = read_json(folder / "manifest.json")
        assert manifest["quantization"] == quantization and manifest["labels"] == source["labels"]
        assert manifest["input"]["shape"] == [1, size, size, 3]
        assert manifest["conversion"]["precision"] == ("fp32" if quantization == "fp32" else "fp16")


def _op_types(folder) -> set[str]:
    return {op.type for op in mil_operations(load_spec(folder))}


def test_each_compression_leaves_its_own_ops(artifacts):
    ops = {q: _op_types(f) for q, f in artifacts.items()}
    for quantization in QUANTIZATIONS:
        assert "classify" in ops[quantization] and "softmax" in ops[quantization]
        assert "erf" in ops[quantization]  # exact GELU, from the rewritten Erfc
    assert "constexpr_affine_dequantize" in ops["int8"]
    assert "constexpr_lut_to_dense" in ops["palettize6"] and "constexpr_lut_to_dense" in ops["palettize4"]
    assert not any(op.startswith("constexpr") for op in ops["fp16"] | ops["fp32"])
    assert "cast" in ops["fp16"] and "cast" not in ops["fp32"]  # fp16 compute: float32 input cast once


def _weights(folder, *, decompress: bool) -> dict[str, np.ndarray]:
    import coremltools as ct
    from coremltools.optimize.coreml import decompress_weights, get_weights_metadata

    model = ct.models.MLModel(str(folder / "model.mlpackage"), skip_model_load=True)
    if decompress:
        model = decompress_weights(model)
    # The compression passes suffix the weight names; strip it to pair them with the fp16 package's.
    return {re.sub(r"_(quantized|palettized)$", "", name): meta.val.astype(np.float32)
            for name, meta in get_weights_metadata(model, weight_threshold=2048).items()}


@pytest.mark.parametrize("quantization", sorted(COREML_WEIGHT_ERROR))
def test_compressed_weights_stay_within_the_options_error(artifacts, quantization):
    reference = _weights(artifacts["fp16"], decompress=False)
    weights = _weights(artifacts[quantization], decompress=True)
    assert set(weights) == set(reference) and reference
    errors = {k: np.linalg.norm(weights[k] - reference[k]) / np.linalg.norm(reference[k]) for k in reference}
    worst = max(errors.values())
    assert 0 < worst <= COREML_WEIGHT_ERROR[quantization], f"{quantization}: worst relative RMS weight error {worst}"


def test_weight_files_shrink_with_the_bits(artifacts):
    def weight_bytes(folder):
        return sum(p.stat().st_size for p in (folder / "model.mlpackage").rglob("weight.bin"))

    size = {q: weight_bytes(f) for q, f in artifacts.items()}
    assert size["fp32"] > size["fp16"] > size["int8"] > size["palettize6"] > size["palettize4"]
    assert size["fp16"] < 0.55 * size["fp32"]
    manifest_sizes = {q: read_json(f / "manifest.json")["file_size"] for q, f in artifacts.items()}
    assert all(manifest_sizes[q] >= size[q] for q in QUANTIZATIONS)


def test_a_later_deployment_target_is_honoured(tiny_run, tmp_path):
    folder = export("coreml", saved_model=tiny_run.saved_model, out_dir=tmp_path, quantization="int8", minimum_ios=17)
    assert load_spec(folder).specificationVersion == 8  # iOS 17
    assert read_json(folder / "manifest.json")["conversion"]["minimum_deployment_target"] == "iOS17"


def _frozen_graph_def(graph):
    """The serving graph with every weight placeholder replaced by a Const: what a frozen graph gives coremltools."""
    import tensorflow as tf

    frozen = tf.compat.v1.GraphDef()
    frozen.versions.CopyFrom(graph.graph_def.versions)
    for node in graph.graph_def.node:
        if node.op == "Placeholder" and node.name in graph.weights:
            const = frozen.node.add(name=node.name, op="Const")
            const.attr["dtype"].type = node.attr["dtype"].type
            const.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(graph.weights[node.name]))
        else:
            frozen.node.add().CopyFrom(node)
    return frozen


def test_the_lean_route_gives_the_program_a_frozen_graph_gives(artifacts, tiny_run, tmp_path):
    """coremltools on a frozen GraphDef (its usual route, too heavy at ViT-L/32) and the exporter's route agree."""
    import coremltools as ct

    from edgevit.exporters.coreml import _name_output, _pipeline
    from edgevit.savedmodel.graph import load_serving_graph
    from edgevit.savedmodel.source import open_source

    source = read_json(tiny_run.saved_model / "manifest.json")
    frozen = _frozen_graph_def(load_serving_graph(open_source(tiny_run.saved_model)))
    _name_output(frozen, "probabilities")
    size = source["input"]["shape"][1]
    model = ct.convert(frozen, source="tensorflow", inputs=[ct.TensorType(name="images", shape=(1, size, size, 3), dtype=np.float32)],
                       classifier_config=ct.ClassifierConfig(source["labels"], predicted_feature_name="classLabel"),
                       convert_to="mlprogram", minimum_deployment_target=ct.target.iOS16, pass_pipeline=_pipeline("none"))
    model.save(str(tmp_path / "model.mlpackage"))
    ours, theirs = load_spec(artifacts["fp16"]), load_spec(tmp_path)
    # Constants may be placed (or shared) differently; every computing op must be the same, in order.
    computing = [[op.type for op in mil_operations(spec) if op.type != "const"] for spec in (ours, theirs)]
    assert computing[0] == computing[1] and len(computing[0]) > 100
    mine, frozen_weights = _weights(artifacts["fp16"], decompress=False), _weights(tmp_path, decompress=False)
    assert sorted((w.shape, w.tobytes()) for w in mine.values()) == sorted((w.shape, w.tobytes()) for w in frozen_weights.values())
