"""SavedModel -> Core ML mlprogram (.mlpackage) classifier, fp16 or fp32, optionally with compressed weights.

The route: coremltools' TF frontend takes a GraphDef. Its own SavedModel loader freezes the function
with TF's `convert_variables_to_constants_v2` (killed past 20 GiB at ViT-L/32 scale); here the
serving graph is inlined with its weights as placeholders (exporters/tfgraph.py), which also rewrites
exact GELU's `Erfc` into 1 - Erf, and the placeholders become constants just before conversion.

Weight compression runs as one more pass in the conversion pipeline rather than on the converted
model afterwards, so the program is never held twice in memory.

The model is a classifier (Vision's VNCoreMLRequest returns labels): its outputs are `classLabel`
(the top label) and `classLabel_probs` (label -> softmax probability). The input is fixed at batch 1:
Core ML conversion fails with a dynamic batch.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from edgevit.errors import ExportError
from edgevit.exporters.common import Built, open_source, write_artifact
from edgevit.exporters.options import CoreMLOptions, default_name, make_options
from edgevit.exporters.tfgraph import load_serving_graph, weights_as_constants

MAIN_FILE = "model.mlpackage"
LABEL_OUTPUT = "classLabel"
PROBABILITIES_OUTPUT = f"{LABEL_OUTPUT}_probs"  # the name coremltools gives the classifier's dictionary output
# Weights with fewer elements than this (biases, norms) stay float: compressing them saves nothing.
WEIGHT_THRESHOLD = 2048


def export_coreml(*, saved_model: Path, out_dir: Path, name: str | None = None, **options) -> Path:
    """Export the SavedModel to `out_dir/<name>/model.mlpackage`; return the artifact folder."""
    opts: CoreMLOptions = make_options("coreml", options)
    source = open_source(saved_model)
    labels = list(source.manifest["labels"])
    precision, compression = opts.compute_precision, opts.compression

    def convert(folder: Path) -> Built:
        graph = load_serving_graph(source.folder)
        height, width = graph.input_shape[1], graph.input_shape[2]
        num_params = graph.num_params
        graph_def = weights_as_constants(graph)  # consumes graph.weights: held once
        del graph
        path = folder / MAIN_FILE
        _convert(graph_def, path, shape=(1, height, width, 3), labels=labels,
                 precision=precision, compression=compression, minimum_ios=opts.minimum_ios)
        del graph_def
        spec = check_mlpackage(path, labels=labels, shape=(1, height, width, 3))
        return Built(
            main_file=MAIN_FILE,
            details=_details(spec, precision=precision, compression=compression, minimum_ios=opts.minimum_ios, num_params=num_params),
            input_spec=_input_spec(source.manifest, height, width),
            output_spec=_output_spec(len(labels)),
        )

    _import_converter()
    return write_artifact(
        source=source, out_dir=out_dir, name=name or default_name(opts), fmt="coreml", quantization=opts.quantization.value, convert=convert
    )

def _import_converter() -> None:
    """Import the converter before write_artifact starts its clock: conversion.seconds times the conversion, not imports."""
    import coremltools  # noqa: F401

    from edgevit.keras_env import import_tf

    import_tf()



def _convert(graph_def, path: Path, *, shape, labels, precision, compression, minimum_ios) -> None:
    import coremltools as ct

    _name_output(graph_def, "probabilities")
    try:
        model = ct.convert(
            graph_def,
            source="tensorflow",
            inputs=[ct.TensorType(name="images", shape=shape, dtype=np.float32)],
            # No `outputs=`: given one, coremltools copies the whole GraphDef (extract_sub_graph), +1.2 GB at
            # ViT-L/32 scale; the graph's only sink is the output (checked by _name_output).
            classifier_config=ct.ClassifierConfig(labels, predicted_feature_name=LABEL_OUTPUT),
            convert_to="mlprogram",
            compute_precision=ct.precision.FLOAT16 if precision == "fp16" else ct.precision.FLOAT32,
            minimum_deployment_target=getattr(ct.target, f"iOS{minimum_ios}"),
            pass_pipeline=_pipeline(compression),
        )
    except (NotImplementedError, ValueError, TypeError, RuntimeError, AssertionError) as exc:
        # coremltools raises NotImplementedError for a TF op it cannot convert, the others for bad graphs.
        text = str(exc).strip().splitlines()
        raise ExportError(f"coremltools could not convert the model: {text[0] if text else type(exc).__name__}") from None
    model.save(str(path))


def _name_output(graph_def, name: str) -> None:
    """Rename the graph's one sink (the serving function's output Identity) so the MIL program says what it is."""
    consumed = {i.lstrip("^").split(":")[0] for node in graph_def.node for i in node.input}
    sinks = [n for n in graph_def.node if n.name not in consumed]
    if len(sinks) != 1 or sinks[0].op != "Identity":
        found = ", ".join(f"{n.name} ({n.op})" for n in sinks[:3])
        raise ExportError(f"expected the serving graph to end in one output, found {len(sinks)}: {found}; re-save the model with edgevit")
    sinks[0].name = name


def _pipeline(compression: str):
    """The default pipeline plus, when asked, a weight-compression pass at its end (after the fp16 cast)."""
    import coremltools as ct
    import coremltools.optimize.coreml as cto

    pipeline = ct.PassPipeline.DEFAULT
    if compression == "none":
        return pipeline
    if compression == "int8":
        pass_name = "compression::linear_quantize_weights"
        op_config = cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8", weight_threshold=WEIGHT_THRESHOLD)
    else:
        pass_name = "compression::palettize_weights"
        nbits = int(compression.removeprefix("palettize"))
        # k-means (scikit-learn) keeps the weight distribution better than a uniform grid at 4-6 bits.
        op_config = cto.OpPalettizerConfig(mode="kmeans", nbits=nbits, weight_threshold=WEIGHT_THRESHOLD)
    pipeline.append_pass(pass_name)
    pipeline.set_options(pass_name, {"config": cto.OptimizationConfig(global_config=op_config)})
    return pipeline


def check_mlpackage(path: Path, *, labels: list[str], shape: tuple) -> object:
    """Reload the package's spec (no Core ML runtime on Linux) and check input, outputs and labels; return the spec."""
    import coremltools as ct

    spec = ct.models.MLModel(str(path), skip_model_load=True).get_spec()
    desc = spec.description
    if [i.name for i in desc.input] != ["images"] or list(desc.input[0].type.multiArrayType.shape) != list(shape):
        raise ExportError(f"{path.name}: input is not images{list(shape)}; this is an exporter bug, report it")
    if {o.name for o in desc.output} != {LABEL_OUTPUT, PROBABILITIES_OUTPUT}:
        raise ExportError(f"{path.name}: outputs are {[o.name for o in desc.output]}, expected {LABEL_OUTPUT} and {PROBABILITIES_OUTPUT}")
    if class_labels(spec) != labels:
        raise ExportError(f"{path.name}: the classifier's labels differ from the manifest's; this is an exporter bug, report it")
    return spec


def class_labels(spec) -> list[str]:
    """The class labels stored in an mlprogram classifier: the `classes` list given to its `classify` op."""
    for op in mil_operations(spec):
        if op.type == "classify":
            classes = op.inputs["classes"].arguments[0].value.immediateValue.list.values
            return [str(v.immediateValue.tensor.strings.values[0]) for v in classes]
    return []


def mil_operations(spec) -> list:
    """The operations of the main function's block, as stored in the spec."""
    function = spec.mlProgram.functions["main"]
    return list(function.block_specializations[function.opset].operations)


def _details(spec, *, precision: str, compression: str, minimum_ios: int, num_params: int) -> dict:
    ops = Counter(op.type for op in mil_operations(spec))
    return {
        "precision": precision,
        "compression": compression,
        "minimum_deployment_target": f"iOS{minimum_ios}",
        "specification_version": spec.specificationVersion,
        "mil_opset": spec.mlProgram.functions["main"].opset,
        "parameters": num_params,
        "mil_op_types": dict(sorted(ops.items())),
        "weight_threshold": WEIGHT_THRESHOLD if compression != "none" else None,
        "route": "coremltools TF frontend on the inlined serving graph, weights as constants; Erfc rewritten to 1 - Erf",
    }


def _input_spec(manifest: dict, height: int, width: int) -> dict:
    return {**manifest["input"], "shape": [1, height, width, 3]}


def _output_spec(num_classes: int) -> dict:
    return {
        "name": PROBABILITIES_OUTPUT,
        "kind": "classifier",
        "type": "dictionary",  # label -> probability, for every label of the manifest
        "dtype": "float64",
        "shape": [1, num_classes],
        "activation": "softmax",
        "label_output": LABEL_OUTPUT,
    }
