"""SavedModel -> Core ML mlprogram (.mlpackage) classifier, fp16 or fp32, optionally with compressed weights.

The route, lean enough for ViT-L/32 on a 24 GiB machine:
1. The serving graph is inlined with its weights as placeholders (exporters/tfgraph.py, which also
   rewrites exact GELU's `Erfc` into 1 - Erf, an op coremltools lacks).
2. coremltools' TF frontend converts that small graph to a MIL program in which each weight is a
   function input (no pass pipeline yet).
3. Each weight input is replaced by a MIL constant holding its value, and the program goes through
   coremltools' default pass pipeline (fp16 cast, constant folding, fusions) plus, when asked, a
   weight-compression pass at its end, then to an mlprogram.
Why not hand coremltools a GraphDef with the weights as constants (what its own SavedModel loader
does after `convert_variables_to_constants_v2`)? Its TF frontend then holds the weights five times
over (the GraphDef, a tf.Graph, NodeDef copies, numpy values, and a TF session that re-evaluates
every constant), and it formats the whole GraphDef into a log string: 12.3 GiB peak and ~4 minutes
lost at ViT-L/32 scale. This route gives the same program (the same non-constant op sequence and
bitwise-equal weights, on the tiny model in tests/unit/exporters/test_export_coreml.py and on ViT-L/32) with the
weights held by MIL only: 3.2 GiB peak for ViT-L/32 fp16 (benchmarks/results/export-vit-l32-*.md).

Per-layer precision (`float_layers`, chosen by `edgevit export --fit-gate`): the compression pass gets
`OptimizationConfig(op_name_configs={const op: None, ...})`, coremltools' own per-op switch, for every weight
constant read by a serving-graph node inside those Keras layers' name scopes (edgevit.layer_names: the mapping
edgevit debug layers reads Core ML tensors by), so those weights stay fp16 constants. The manifest's conversion
block lists the layers and the constant ops that stayed uncompressed (`float_ops`).

The model is a classifier (Vision's VNCoreMLRequest returns labels): its outputs are `classLabel`
(the top label) and `classLabel_probs` (label -> softmax probability). The input is fixed at batch 1:
Core ML conversion fails with a dynamic batch.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from pathlib import Path

import numpy as np

from edgevit.errors import ExportError, UsageError
from edgevit.exporters.common import Built, write_artifact
from edgevit.exporters.options import CoreMLOptions, default_name, make_options
from edgevit.layer_names import in_layer, mil_name
from edgevit.savedmodel.graph import ServingGraph, load_serving_graph
from edgevit.savedmodel.source import open_source

MAIN_FILE = "model.mlpackage"
INPUT_NAME = "images"
LABEL_OUTPUT = "classLabel"
PROBABILITIES_OUTPUT = f"{LABEL_OUTPUT}_probs"  # the name coremltools gives the classifier's dictionary output
# Weights with fewer elements than this (biases, norms) stay float: compressing them saves nothing.
WEIGHT_THRESHOLD = 2048
FP16_CONST_SUFFIX = "_to_fp16"  # coremltools' fp16 pass renames each float32 constant it casts
ROUTE = ("coremltools TF frontend on the inlined serving graph with weights as inputs, then weights as MIL constants; "
         "Erfc rewritten to 1 - Erf")


def export_coreml(*, saved_model: Path, out_dir: Path, name: str | None = None, **options) -> Path:
    """Export the SavedModel to `out_dir/<name>/model.mlpackage`; return the artifact folder."""
    opts: CoreMLOptions = make_options("coreml", options)
    source = open_source(saved_model)
    labels = list(source.manifest["labels"])
    precision, compression = opts.compute_precision, opts.compression

    def convert(folder: Path) -> Built:
        graph = load_serving_graph(source)
        height, width = graph.input_shape[1], graph.input_shape[2]
        shape = (1, height, width, 3)
        num_params = graph.num_params
        keep_float = float_weight_names(graph, opts.float_layers)  # per layer
        program = mil_program(graph, shape=shape, minimum_ios=opts.minimum_ios)  # consumes graph.weights
        del graph
        path = folder / MAIN_FILE
        _to_mlpackage(program, path, labels=labels, precision=precision, compression=compression, minimum_ios=opts.minimum_ios,
                      keep_float=frozenset().union(*keep_float.values()))
        del program
        spec = check_mlpackage(path, labels=labels, shape=shape)
        details = _details(spec, precision=precision, compression=compression, minimum_ios=opts.minimum_ios, num_params=num_params)
        if opts.float_layers:  # the per-layer precision plan
            details["float_layers"] = list(opts.float_layers)
            details["float_ops"] = _matched_ops(spec, keep_float)
        return Built(
            runtime_support=runtime_support(spec.specificationVersion),
            main_file=MAIN_FILE,
            details=details,
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

    from edgevit.keras_backend import import_tf

    import_tf()


def mil_program(graph: ServingGraph, *, shape: tuple, minimum_ios: int):
    """The serving graph as a MIL program whose weights are constants; empties `graph.weights` as it goes."""
    import coremltools as ct

    _name_output(graph.graph_def, "probabilities")
    inputs = [ct.TensorType(name=INPUT_NAME, shape=shape, dtype=np.float32)]
    inputs += [ct.TensorType(name=name, shape=value.shape, dtype=value.dtype) for name, value in graph.weights.items()]
    with _conversion_errors():
        program = ct.convert(
            graph.graph_def,
            source="tensorflow",
            inputs=inputs,
            convert_to="milinternal",
            pass_pipeline=ct.PassPipeline.EMPTY,  # the real pipeline runs once the weights are constants
            compute_precision=ct.precision.FLOAT32,
            minimum_deployment_target=getattr(ct.target, f"iOS{minimum_ios}"),
        )
    _weights_as_constants(program, graph.weights)
    return program


def _weights_as_constants(program, weights: dict[str, np.ndarray]) -> None:
    """Replace each weight input of the main function by a constant with its value (popped from `weights`)."""
    from coremltools.converters.mil.mil import Builder as mb

    main = program.functions["main"]
    first = main.operations[0]
    with main:
        for name in list(weights):
            placeholder = main.inputs[name]
            constant = mb.const(val=weights.pop(name), name=const_name(name), before_op=first)
            main.replace_uses_of_var_after_op(anchor_op=None, old_var=placeholder, new_var=constant)
            # MIL has no public call to drop a function input; these two maps are where Function keeps them.
            del main._input_dict[name]  # noqa: SLF001
            del main.placeholder_inputs[name]
    if main.input_types:
        main.input_types = [t for t in main.input_types if t.name == INPUT_NAME]
    if list(main.inputs) != [INPUT_NAME]:
        raise ExportError(f"the Core ML program kept inputs {list(main.inputs)}; this is an exporter bug, report it")


def _to_mlpackage(program, path: Path, *, labels, precision, compression, minimum_ios, keep_float: frozenset[str] = frozenset()) -> None:
    import coremltools as ct

    with _conversion_errors():
        model = ct.convert(
            program,
            convert_to="mlprogram",
            classifier_config=ct.ClassifierConfig(labels, predicted_feature_name=LABEL_OUTPUT),
            compute_precision=ct.precision.FLOAT16 if precision == "fp16" else ct.precision.FLOAT32,
            minimum_deployment_target=getattr(ct.target, f"iOS{minimum_ios}"),
            pass_pipeline=_pipeline(compression, keep_float),
        )
    model.save(str(path))


@contextlib.contextmanager
def _conversion_errors():
    """coremltools raises NotImplementedError for a TF op it cannot convert, the others for bad graphs: one line each."""
    try:
        yield
    except (NotImplementedError, ValueError, TypeError, RuntimeError, AssertionError) as exc:
        text = str(exc).strip().splitlines()
        raise ExportError(f"coremltools could not convert the model: {text[0] if text else type(exc).__name__}") from None


def _name_output(graph_def, name: str) -> None:
    """Rename the graph's one sink (the serving function's output Identity) so the MIL program says what it is."""
    consumed = {i.lstrip("^").split(":")[0] for node in graph_def.node for i in node.input}
    # An unused weight placeholder is not an output: it is dropped with the other weight inputs.
    sinks = [n for n in graph_def.node if n.name not in consumed and n.op != "Placeholder"]
    if len(sinks) != 1 or sinks[0].op != "Identity":
        found = ", ".join(f"{n.name} ({n.op})" for n in sinks[:3])
        raise ExportError(f"expected the serving graph to end in one output, found {len(sinks)}: {found}; re-save the model with edgevit")
    sinks[0].name = name


def const_name(weight: str) -> str:
    """The MIL constant a serving-graph weight placeholder becomes (_weights_as_constants names it)."""
    return mil_name(weight)


def float_weight_names(graph: ServingGraph, layers: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """Per Keras layer of `layers`: the MIL constants holding the weights compression would take (WEIGHT_THRESHOLD
    elements or more) read inside it, under both names they can have when the compression pass meets them (as made,
    and after the fp16 pass). A weight belongs to a layer when a serving-graph node inside the layer's name scope reads
    it (edgevit.layer_names.in_layer, the mapping edgevit debug layers finds Core ML tensors by). UsageError for a
    layer that reads no weight at all: a typo, or another model's layer."""
    by_layer: dict[str, frozenset[str]] = {}
    for layer in layers:
        read = {name.split(":")[0] for node in graph.graph_def.node if in_layer(node.name, layer) for name in node.input}
        weights = sorted(read & graph.weights.keys())
        if not weights:
            raise UsageError(f"float layer {layer!r} is not a layer of this model (no Core ML op inside it reads a weight); "
                             "name Keras layers such as Transformer_encoderblock_0")
        large = [w for w in weights if np.size(graph.weights[w]) >= WEIGHT_THRESHOLD]
        by_layer[layer] = frozenset(const_name(w) + suffix for w in large for suffix in ("", FP16_CONST_SUFFIX))
    return by_layer


def _matched_ops(spec, keep_float: dict[str, frozenset[str]]) -> list[str]:
    """The weight constants of the saved program that `keep_float` named and that stayed uncompressed (plain `const`
    ops of WEIGHT_THRESHOLD elements or more: the ones compression would have taken). ExportError naming a layer with
    weights compression would take of which none stayed uncompressed: the program renamed them out of reach."""
    plain = {op.outputs[0].name for op in mil_operations(spec)
             if op.type == "const" and _elements(op.outputs[0].type) >= WEIGHT_THRESHOLD}
    missed = [layer for layer, names in keep_float.items() if names and not names & plain]
    if missed:
        raise ExportError(f"the weights of float layer(s) {', '.join(missed)} were compressed anyway: the Core ML program "
                          "holds them under names that no longer carry the layer (e.g. a folded convolution weight)")
    return sorted(plain & frozenset().union(*keep_float.values()))


def _elements(value_type) -> int:
    dims = value_type.tensorType.dimensions
    return int(np.prod([d.constant.size for d in dims])) if value_type.WhichOneof("type") == "tensorType" else 0


def _pipeline(compression: str, keep_float: frozenset[str] = frozenset()):
    """The default pipeline plus, when asked, a weight-compression pass at its end (after the fp16 cast). The constants
    named in `keep_float` stay uncompressed: op_name_configs None, coremltools' own per-op switch. They are named by
    constant rather than by the op reading them: coremltools refuses a constant whose readers disagree, and at random
    init equal biases of different layers are deduplicated into one constant."""
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
    config = cto.OptimizationConfig(global_config=op_config, op_name_configs={name: None for name in sorted(keep_float)})
    pipeline.set_options(pass_name, {"config": config})
    return pipeline


def check_mlpackage(path: Path, *, labels: list[str], shape: tuple) -> object:
    """Reload the package's spec (no Core ML runtime on Linux) and check input, outputs and labels; return the spec."""
    import coremltools as ct

    spec = ct.models.MLModel(str(path), skip_model_load=True).get_spec()
    desc = spec.description
    if [i.name for i in desc.input] != [INPUT_NAME] or list(desc.input[0].type.multiArrayType.shape) != list(shape):
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


def runtime_support(specification_version: int) -> dict:
    """The manifest's `runtime_support` block: the Core ML specification version and the oldest OS releases that
    run it, from coremltools' own table of deployment targets (ct.target: iOS16 = macOS13 = ... = spec 7)."""
    import coremltools as ct

    oldest: dict[str, str] = {}
    for name, target in ct.target.__members__.items():  # aliases included; the last alias is the release's name
        if target.value == specification_version:
            system, version = re.match(r"^([A-Za-z]+?)(\d.*)$", name).groups()
            oldest[system] = version.replace("_", ".")
    summary = ", ".join(f"{system} {version}+" for system, version in oldest.items() if system in ("iOS", "macOS"))
    return {
        "runtime": "Core ML",
        "specification_version": specification_version,
        "minimum_os": oldest,
        "summary": f"Core ML spec {specification_version}: {summary}" if summary else f"Core ML spec {specification_version}",
        "sources": {"minimum_os": f"coremltools {ct.__version__} deployment targets (coremltools.target)"},
    }


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
        "route": ROUTE,
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
