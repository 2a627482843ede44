"""SavedModel -> ONNX (fp32, fp16 or int8 dynamic-range) through tf2onnx, one route for every size.

The route: the serving graph with its weights as placeholders (exporters/tfgraph.py) goes through
tf2onnx, then the weights are attached as initializers. It never freezes the graph, which is what
kills tf2onnx's own loaders past 20 GiB at ViT-L/32 scale; on the tiny model it gives the same
outputs as the frozen route (max diff 0.0). Weight-only reshapes/transposes that a frozen graph
would have folded are folded here, so both routes give the same graph.

tf2onnx keeps going after an op it cannot convert and still says "Successfully converted"; here
any error it logs, and any node that is not a standard ONNX op, fails the export.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from edgevit.compat import ONNX_DOMAIN, ONNX_ML_DOMAIN, ONNXRUNTIME_RELEASES, ONNXRUNTIME_RELEASES_SOURCE, oldest_onnxruntime
from edgevit.errors import ExportError
from edgevit.exporters.common import Built, write_artifact
from edgevit.exporters.options import OnnxOptions, default_name, make_options, parity_note
from edgevit.formats import Format, OnnxQuantization, find_mode
from edgevit.savedmodel.graph import ServingGraph, load_serving_graph
from edgevit.savedmodel.source import open_source

logger = logging.getLogger(__name__)

MAIN_FILE = "model.onnx"
EXTERNAL_DATA_FILE = f"{MAIN_FILE}.data"
# A protobuf message cannot exceed 2 GiB; above this the weights go to EXTERNAL_DATA_FILE.
EXTERNAL_DATA_THRESHOLD = 1_800_000_000
ROUTE = "tf2onnx on the inlined serving graph with weights as placeholders, attached as initializers"
# Ops whose output is their input rearranged: safe and cheap to fold when every input is a weight.
_FOLDABLE = ("Reshape", "Transpose", "Squeeze", "Unsqueeze", "Identity")


def export_onnx(*, saved_model: Path, out_dir: Path, name: str | None = None, **options) -> Path:
    """Export the SavedModel to `out_dir/<name>/model.onnx` (+ model.onnx.data past 2 GB); return the artifact folder."""
    opts: OnnxOptions = make_options("onnx", options)
    source = open_source(saved_model)
    input_name, output_name = source.manifest["input"]["name"], source.manifest["output"]["name"]
    note = parity_note(opts)
    if note:
        logger.info(f"onnx {opts.quantization.value}: {note}")

    def convert(folder: Path) -> Built:
        graph = load_serving_graph(source)
        model = to_onnx(graph, opset=opts.opset, input_name=input_name, output_name=output_name)
        num_params = graph.num_params
        del graph  # the weights now live in the ONNX model only
        path, excluded = _write_quantized(model, folder, opts.quantization, opts.float_layers)
        check_onnx(path)
        details = _details(path, opset=opts.opset, quantization=opts.quantization, num_params=num_params)
        if opts.float_layers:  # the per-layer precision plan
            details["float_layers"] = list(opts.float_layers)
            details["float_nodes"] = excluded
        # Input and output as in the SavedModel: float32, batch dimension dynamic (named "batch" in the graph).
        return Built(main_file=MAIN_FILE, details=details, runtime_support=runtime_support(path))

    _import_converter()
    return write_artifact(
        source=source, out_dir=out_dir, name=name or default_name(opts), fmt="onnx", quantization=opts.quantization.value, convert=convert
    )


def _import_converter() -> None:
    """Import the converters before write_artifact starts its clock: conversion.seconds times the conversion, not imports."""
    import onnxruntime  # noqa: F401
    import tf2onnx  # noqa: F401


def to_onnx(graph: ServingGraph, *, opset: int, input_name: str, output_name: str):
    """The fp32 ONNX ModelProto: tf2onnx on the placeholder graph, weights attached, weight-only ops folded."""
    import tf2onnx

    weight_inputs = [f"{name}:0" for name in graph.weights]
    with _tf2onnx_errors() as errors:
        model, _ = tf2onnx.convert.from_graph_def(
            graph.graph_def,
            input_names=[graph.input_name, *weight_inputs],
            output_names=[graph.output_name],
            opset=opset,
            tensors_to_rename={graph.input_name: input_name, graph.output_name: output_name},
        )
    if errors:
        raise ExportError(f"tf2onnx could not convert the graph: {errors[0]}" + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""))
    _attach_weights(model, {f"{name}:0": value for name, value in graph.weights.items()})
    _fold_weight_only_nodes(model)
    _name_batch_dimension(model)
    _reject_non_onnx_ops(model)
    return model


@contextlib.contextmanager
def _tf2onnx_errors():
    """Collect the error messages tf2onnx logs (it logs an unsupported op and carries on)."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage().splitlines()[0])

    handler = Collect(level=logging.ERROR)
    tf2onnx_logger = logging.getLogger("tf2onnx")
    tf2onnx_logger.addHandler(handler)
    try:
        yield messages
    finally:
        tf2onnx_logger.removeHandler(handler)


def _attach_weights(model, values: dict[str, np.ndarray]) -> None:
    """Graph inputs that are weights become initializers (the values are moved, not copied twice)."""
    from onnx import numpy_helper

    kept = [i for i in model.graph.input if i.name not in values]
    used = {i.name for i in model.graph.input} & set(values)
    for tensor_name in used:
        model.graph.initializer.append(numpy_helper.from_array(values[tensor_name], tensor_name))
    del model.graph.input[:]
    model.graph.input.extend(kept)


def _fold_weight_only_nodes(model) -> None:
    """Replace each rearranging op whose inputs are all initializers by its result (what freezing would have done)."""
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    kept = []
    for node in model.graph.node:
        if node.op_type in _FOLDABLE and node.input and all(i in inits for i in node.input if i):
            args = [numpy_helper.to_array(inits[i]) for i in node.input if i]
            result = _fold(node, args)
            inits[node.output[0]] = numpy_helper.from_array(result, node.output[0])
        else:
            kept.append(node)
    used = {i for node in kept for i in node.input} | {o.name for o in model.graph.output}
    del model.graph.node[:]
    model.graph.node.extend(kept)
    del model.graph.initializer[:]
    model.graph.initializer.extend(t for name, t in inits.items() if name in used)


def _fold(node, args: list[np.ndarray]) -> np.ndarray:
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    data = args[0]
    if node.op_type == "Reshape":
        shape = [d if d != 0 or attrs.get("allowzero") else data.shape[k] for k, d in enumerate(args[1].tolist())]
        return data.reshape(shape)
    if node.op_type == "Transpose":
        return data.transpose(attrs.get("perm"))
    if node.op_type == "Squeeze":
        axes = args[1].tolist() if len(args) > 1 else attrs.get("axes")
        return np.squeeze(data, axis=tuple(axes) if axes is not None else None)
    if node.op_type == "Unsqueeze":
        axes = args[1].tolist() if len(args) > 1 else attrs["axes"]
        return np.expand_dims(data, axis=tuple(axes))
    return data  # Identity


def _name_batch_dimension(model) -> None:
    """tf2onnx names the dynamic batch dimension 'unk__<n>'; call it 'batch' on the input and output."""
    for value in (*model.graph.input, *model.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        if not dim.HasField("dim_value"):
            dim.dim_param = "batch"


def _reject_non_onnx_ops(model) -> None:
    import onnx

    # tf2onnx's output only: ORT's own fused and quantized ops (com.microsoft) come later, from ORT itself.
    unknown = sorted({n.op_type for n in model.graph.node if not onnx.defs.has(n.op_type, n.domain or "")})
    if unknown:
        raise ExportError(f"the ONNX graph still holds non-ONNX op(s) {', '.join(unknown)}; tf2onnx cannot convert them")


def _write_quantized(model, folder: Path, quantization: OnnxQuantization, float_layers: tuple[str, ...] = ()) -> tuple[Path, list[str]]:
    """The model file, and the nodes kept in float (int8-dynamic with float_layers)."""
    path = folder / MAIN_FILE
    excluded: list[str] = []
    if quantization is OnnxQuantization.FP16:
        model = _to_fp16(model)
    if quantization in WEIGHT_BITS:
        model = _quantize_weights(model, WEIGHT_BITS[quantization])
    if quantization is OnnxQuantization.INT8_DYNAMIC:
        excluded = _quantize_int8_dynamic(model, path, float_layers)
    else:
        save_onnx(model, path)
    return path, excluded


WEIGHT_BITS = {OnnxQuantization.INT8_WEIGHTS: 8, OnnxQuantization.INT4_WEIGHTS: 4}
WEIGHT_BLOCK = 32  # weights per scale: ORT's MatMulNBits block; 32 keeps the 4-bit error small


def _quantize_weights(model, bits: int):
    """Weight-only blockwise quantization of every MatMul with constant weights: ORT's MatMulNBits, symmetric,
    float32 activations and compute (accuracy level unset), so only the weights are rounded."""
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

    config = DefaultWeightOnlyQuantConfig(block_size=WEIGHT_BLOCK, is_symmetric=True, bits=bits)
    quantizer = MatMulNBitsQuantizer(model, bits=bits, block_size=WEIGHT_BLOCK, is_symmetric=True, algo_config=config)
    quantizer.process()
    return quantizer.model.model


def _to_fp16(model):
    import warnings

    from onnxconverter_common import float16

    with warnings.catch_warnings():
        # It warns once per weight rounded to fp16's range (thousands at ViT-L/32 scale): expected, not news.
        warnings.simplefilter("ignore", UserWarning)
        # keep_io_types: callers still feed float32 images and read float32 probabilities.
        return float16.convert_float_to_float16(model, keep_io_types=True)


def _quantize_int8_dynamic(model, path: Path, float_layers: tuple[str, ...] = ()) -> list[str]:
    """ORT basic optimisation first: its constant folding turns weight subgraphs into the initializers quantize_dynamic needs."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    large = _needs_external_data(model)
    # Scratch inside the artifact's temp folder: a killed export leaves one folder to clean, not two.
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".int8-scratch-") as scratch:
        fp32, folded = Path(scratch) / "fp32.onnx", Path(scratch) / "folded.onnx"
        save_onnx(model, fp32)
        del model
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        if large:
            options.add_session_config_entry("session.optimized_model_external_initializers_file_name", "folded.onnx.data")
        ort.InferenceSession(str(fp32), options, providers=["CPUExecutionProvider"])
        excluded = _nodes_in_layers(folded, float_layers)
        # Large models: quantize_dynamic writes the weights to "<model file>.data", i.e. EXTERNAL_DATA_FILE.
        quantize_dynamic(folded, path, weight_type=QuantType.QInt8, use_external_data_format=large, nodes_to_exclude=excluded)
    return excluded


def _nodes_in_layers(path: Path, layers: tuple[str, ...]) -> list[str]:
    """The names of the nodes inside the Keras layers `layers` (ExportError for a layer with none: a typo or another model)."""
    import onnx

    from edgevit.layer_names import in_layer

    if not layers:
        return []
    names = [node.name for node in onnx.load(str(path), load_external_data=False).graph.node]
    chosen = []
    for layer in layers:
        inside = [name for name in names if in_layer(name, layer)]
        if not inside:
            raise ExportError(f"float layer {layer!r} is not a layer of this model (no ONNX node inside it)")
        chosen += inside
    return sorted(set(chosen))


def _needs_external_data(model) -> bool:
    return sum(len(t.raw_data) for t in model.graph.initializer) > EXTERNAL_DATA_THRESHOLD


def save_onnx(model, path: Path) -> None:
    """One file, or model.onnx + one external data file when the weights would break the 2 GiB protobuf limit."""
    import onnx

    if _needs_external_data(model):
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=f"{path.name}.data")
    else:
        onnx.save_model(model, str(path))


def check_onnx(path: Path) -> None:
    """onnx.checker (path-based: works past 2 GB) and an onnxruntime session must both accept the file."""
    import onnx
    import onnxruntime as ort

    try:
        onnx.checker.check_model(str(path))
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"{path.name} fails onnx.checker ({_first_line(exc)}); this is an exporter bug, report it") from None
    try:
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types (Fail, InvalidGraph, ...)
        raise ExportError(f"onnxruntime refuses {path.name} ({_first_line(exc)}); this is an exporter bug, report it") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def runtime_support(path: Path) -> dict:
    """The manifest's `runtime_support` block: the file's IR version and opsets, and the oldest ONNX Runtime that
    implements them (edgevit.compat's copy of ONNX Runtime's published table)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    declared = {(entry.domain or ONNX_DOMAIN): int(entry.version) for entry in model.opset_import}
    # What a runtime must implement is the opsets of the domains the nodes use (ORT's optimizer declares
    # several more, unused, in the int8-dynamic file).
    used = {node.domain or ONNX_DOMAIN for node in model.graph.node} | {ONNX_DOMAIN}
    opsets = {domain: version for domain, version in sorted(declared.items()) if domain in used}
    oldest = oldest_onnxruntime(ir_version=int(model.ir_version), opset=opsets.get(ONNX_DOMAIN, 1),
                                ml_opset=opsets.get(ONNX_ML_DOMAIN))
    newest = ONNXRUNTIME_RELEASES[-1][0]
    return {
        "runtime": "ONNX Runtime",
        "ir_version": int(model.ir_version),
        "opsets": opsets,
        "declared_opsets": dict(sorted(declared.items())),
        "min_onnxruntime": oldest,
        "summary": f"ONNX Runtime {oldest}+" if oldest else f"ONNX Runtime newer than {newest} (IR {model.ir_version} / opsets {opsets} are past the table)",
        "sources": {"min_onnxruntime": ONNXRUNTIME_RELEASES_SOURCE},
    }


def _details(path: Path, *, opset: int, quantization: OnnxQuantization, num_params: int) -> dict:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    external = path.parent / EXTERNAL_DATA_FILE
    return {
        "opset": opset,
        "quantization": quantization.value,
        "route": ROUTE,
        "parameters": num_params,
        "nodes": len(model.graph.node),
        "op_types": dict(sorted(Counter(n.op_type for n in model.graph.node).items())),
        "external_data": EXTERNAL_DATA_FILE if external.exists() else None,
        "parity_risk": find_mode(Format.ONNX, quantization).parity_risk,
    }
