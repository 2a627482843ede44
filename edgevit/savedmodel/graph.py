"""The SavedModel's serving function as one flat GraphDef that converters take without freezing.

Why not the converters' own loaders: tf2onnx and coremltools freeze the function with TF's
`convert_variables_to_constants_v2`, which alone peaks at 13.4 GiB for ViT-L/32 (1.2 GB of weights).
Here the function is inlined by grappler while its variables are still resource placeholders (no
weight data in the graph), each variable read becomes a float placeholder `weights/<i>`, and the
values are read once into numpy. ONNX converts that graph and attaches the values as initializers;
Core ML converts it with the placeholders as program inputs and then makes them MIL constants.

The graph is also rewritten so that no converter meets `Erfc` (exact GELU: 0.5·x·erfc(-x/√2)),
which neither tf2onnx nor coremltools supports: erfc(x) = 1 - erf(x), and `Erf` both support.
"""

from __future__ import annotations

import gc
from collections import Counter
from dataclasses import dataclass

import numpy as np

from edgevit.errors import ExportError
from edgevit.keras_backend import import_tf
from edgevit.savedmodel.load import load_serving_function
from edgevit.savedmodel.source import SavedModelSource

WEIGHT_PREFIX = "weights/"


@dataclass
class ServingGraph:
    """An inlined inference graph whose weights are placeholders, plus their values."""

    graph_def: object  # tf.compat.v1.GraphDef
    input_name: str  # tensor name, e.g. "images:0"
    output_name: str  # tensor name of the probabilities
    input_shape: list  # [None, H, W, 3]
    weights: dict[str, np.ndarray]  # placeholder node name -> value

    @property
    def weight_bytes(self) -> int:
        return sum(v.nbytes for v in self.weights.values())

    @property
    def num_params(self) -> int:
        return int(sum(v.size for v in self.weights.values()))

    def op_types(self) -> Counter:
        return Counter(node.op for node in self.graph_def.node)


def load_serving_graph(source: SavedModelSource) -> ServingGraph:
    """The SavedModel's serving signature as a ServingGraph."""
    loaded, function = load_serving_function(source)
    # `source` checked the signature (one image input, one output); the function's other inputs are its captures.
    input_tensor = function.inputs[0]
    output_tensor = function.outputs[0]
    inlined = _inline_functions(function.graph.as_graph_def(), [input_tensor.name, output_tensor.name])
    values = _captured_values(function)
    graph_def, weights = _reads_to_placeholders(inlined, values)
    _rewrite_erfc(graph_def)
    serving = ServingGraph(graph_def, input_tensor.name, output_tensor.name, input_tensor.shape.as_list(), weights)
    # The loaded SavedModel's objects hold reference cycles: collect them now, so its variables
    # (1.2 GB at ViT-L/32 scale) are freed before the converter allocates, not at some later gc pass.
    del loaded, function, input_tensor, output_tensor, values
    gc.collect()
    return serving


def _inline_functions(graph_def, fetches: list[str]):
    """Grappler's function inlining (plus constant folding of shape arithmetic); weights stay out of it."""
    tf = import_tf()
    from tensorflow.core.protobuf import config_pb2, meta_graph_pb2
    from tensorflow.python.grappler import tf_optimizer

    config = config_pb2.ConfigProto()
    config.graph_options.rewrite_options.optimizers[:] = ["function", "constfold", "dependency"]
    with tf.Graph().as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
        meta_graph = tf.compat.v1.train.export_meta_graph(graph_def=graph_def)
    fetch = meta_graph_pb2.CollectionDef()
    fetch.node_list.value.extend(fetches)
    meta_graph.collection_def["train_op"].CopyFrom(fetch)
    return tf_optimizer.OptimizeGraph(config, meta_graph)


def _captured_values(function) -> dict[str, np.ndarray]:
    """Placeholder node name inside the graph -> the value it stands for (a variable's or a captured constant's)."""
    tf = import_tf()
    values = {}
    for external, internal in function.graph.captures:
        if internal.dtype == tf.resource:
            dtype = _variable_dtype(external)
            value = tf.raw_ops.ReadVariableOp(resource=external, dtype=dtype).numpy()
        else:
            value = external.numpy()
        values[internal.op.name] = value
    return values


def _variable_dtype(handle):
    # The handle's shape-and-dtype metadata: the only place an eager resource tensor names its dtype.
    tf = import_tf()
    data = handle._handle_data  # noqa: SLF001 (no public accessor in TF 2.21)
    if data is None or not data.shape_and_type:
        raise ExportError("a captured resource of the serving function is not a variable; re-save the model with edgevit")
    return tf.dtypes.as_dtype(data.shape_and_type[0].dtype)


def _reads_to_placeholders(graph_def, values: dict[str, np.ndarray]):
    """Each captured tensor becomes a placeholder `weights/<i>` holding its value; each variable read an Identity of it."""
    tf = import_tf()
    renamed = {name: f"{WEIGHT_PREFIX}{i}" for i, name in enumerate(values)}
    weights = {renamed[name]: value for name, value in values.items()}
    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    for name, value in weights.items():
        _add_placeholder(out, name, value)
    resources = {n.name for n in graph_def.node if n.name in values and n.attr["dtype"].type == tf.resource.as_datatype_enum}
    for node in graph_def.node:
        if node.name in renamed:
            continue
        new = out.node.add()
        new.CopyFrom(node)
        for k, name in enumerate(node.input):
            control, base, port = _split_input(name)
            if base not in renamed:
                continue
            if base in resources and node.op != "ReadVariableOp" and not control:
                # An assignment or a lookup table on a resource has no static value to export.
                raise ExportError(f"graph node {node.name} ({node.op}) uses a resource, not a plain variable read; it cannot be exported")
            new.input[k] = f"{control}{renamed[base]}{port}"
        if node.op == "ReadVariableOp" and _split_input(node.input[0])[1] in renamed:
            new.op = "Identity"
            new.attr["T"].type = node.attr["dtype"].type
            del new.attr["dtype"]
    return out, weights


def _split_input(name: str) -> tuple[str, str, str]:
    """'^a/b:1' -> ('^', 'a/b', ':1')."""
    control = "^" if name.startswith("^") else ""
    base, sep, port = name.lstrip("^").partition(":")
    return control, base, f"{sep}{port}"


def _add_placeholder(graph_def, name: str, value: np.ndarray) -> None:
    tf = import_tf()
    node = graph_def.node.add(name=name, op="Placeholder")
    node.attr["dtype"].type = tf.dtypes.as_dtype(value.dtype).as_datatype_enum
    node.attr["shape"].shape.CopyFrom(tf.TensorShape(value.shape).as_proto())


def _rewrite_erfc(graph_def) -> None:
    """erfc(x) -> 1 - erf(x), in place, keeping the node name so its consumers are untouched."""
    tf = import_tf()
    for node in list(graph_def.node):
        if node.op != "Erfc":
            continue
        dtype = node.attr["T"].type
        erf = graph_def.node.add(name=f"{node.name}/erf", op="Erf", input=list(node.input))
        erf.attr["T"].type = dtype
        one = graph_def.node.add(name=f"{node.name}/one", op="Const")
        one.attr["dtype"].type = dtype
        one.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(1.0, dtype=tf.dtypes.as_dtype(dtype)))
        node.op = "Sub"
        node.ClearField("input")
        node.input.extend([one.name, erf.name])
