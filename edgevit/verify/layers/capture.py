"""Each runtime's values at named serving-graph nodes, per image: the artifact's side of the comparison.

- TFLite: LiteRT with `experimental_preserve_all_tensors=True`; a tensor is an operator output whose
  name (converters join fused ops' names with ';') holds the node's name. int8 tensors are dequantized
  with their own scale and zero point.
- ONNX: a copy of the model with the node's output (tf2onnx names it `<node>:0`) added as graph outputs.
- Core ML: the numpy MIL interpreter keeping the variables named after the node (non-word characters
  made `_`, an optional `_cast_fp16` from the fp16 pass).
A node found nowhere is reported missing with the reason, by the caller.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from edgevit.artifact import Artifact
from edgevit.errors import ModelError
from edgevit.formats import Format
from edgevit.layer_names import MIL_FP16_SUFFIX, fused_names
from edgevit.layer_names import mil_name as tf_to_mil
from edgevit.verify.layers.boundaries import core_name


class Capture:
    """found: node -> the artifact's own name for it; run(image batch of 1) -> node -> value."""

    found: dict[str, str]

    def run(self, image: np.ndarray) -> dict[str, np.ndarray]: ...

    def close(self) -> None: ...


def open_capture(artifact: Artifact, nodes: list[str]) -> Capture:
    openers = {Format.TFLITE: LiteRTCapture, Format.ONNX: OnnxCapture, Format.COREML: MilCapture}
    if artifact.format not in openers:
        raise ModelError(f"layer-wise parity has no capture for format {artifact.format}")
    return openers[artifact.format](artifact, nodes)


class LiteRTCapture:
    def __init__(self, artifact: Artifact, nodes: list[str]):
        from ai_edge_litert import interpreter as litert

        from edgevit.console import native_noise_filtered

        import warnings

        with native_noise_filtered(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "preserve_all_tensors is for debugging": it is, here
            self._interpreter = litert.Interpreter(model_path=str(artifact.model_path), experimental_preserve_all_tensors=True,
                                                   experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        it = self._interpreter
        self._input = it.get_input_details()[0]
        it.resize_tensor_input(self._input["index"], [1, *self._input["shape"][1:]])
        it.allocate_tensors()
        produced = {i for op in it._get_ops_details() for i in op["outputs"]}  # noqa: SLF001 (no public op list)
        details = [d for d in it.get_tensor_details() if d["index"] in produced]
        self.found: dict[str, str] = {}
        self._index: dict[str, list[int]] = {}
        for node in nodes:
            core = core_name(node)
            hits = [d for d in details if any(part == core or part.endswith("/" + core) for part in fused_names(d["name"]))]
            if hits:
                self._index[node] = [d["index"] for d in hits]
                self.found[node] = hits[-1]["name"]
        self._details = {d["index"]: d for d in details}

    def _value(self, index: int) -> np.ndarray:
        detail = self._details[index]
        value = self._interpreter.get_tensor(index)
        scale, zero_point = detail["quantization"]
        if np.issubdtype(value.dtype, np.integer) and scale:
            return (value.astype(np.float32) - zero_point) * scale
        return value.astype(np.float32)

    def run(self, image: np.ndarray) -> dict[str, np.ndarray]:
        it = self._interpreter
        data = image
        scale, zero_point = self._input["quantization"]
        if np.issubdtype(self._input["dtype"], np.integer) and scale:
            info = np.iinfo(self._input["dtype"])
            data = np.clip(np.round(image / scale) + zero_point, info.min, info.max).astype(self._input["dtype"])
        it.set_tensor(self._input["index"], data)
        it.invoke()
        # Several operator outputs may carry one node's name (a fused op and its reshaped copy): the last one.
        return {node: self._value(indices[-1]) for node, indices in self._index.items()}

    def close(self) -> None:
        self._interpreter = None


class OnnxCapture:
    def __init__(self, artifact: Artifact, nodes: list[str]):
        import onnx
        import onnxruntime as ort

        model = onnx.load(str(artifact.model_path))
        produced = [out for node in model.graph.node for out in node.output]
        self.found = {}
        for node in nodes:
            core = core_name(node)
            hits = [name for name in produced if name == f"{core}:0" or name.endswith(f"/{core}:0")]
            if hits:
                self.found[node] = hits[-1]
        existing = {o.name for o in model.graph.output}
        for name in self.found.values():
            if name not in existing:
                model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
        self._output = model.graph.output[0].name
        with tempfile.TemporaryDirectory() as tmp:  # ORT reads external data relative to the model file
            path = Path(tmp) / "model.onnx"
            onnx.save_model(model, str(path), save_as_external_data=bool(_has_external_data(artifact)),
                            all_tensors_to_one_file=True, location="model.onnx.data")
            self._session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def run(self, image: np.ndarray) -> dict[str, np.ndarray]:
        names = list(self.found.values())
        values = self._session.run(names, {self._input: image})
        by_name = dict(zip(names, values))
        return {node: np.asarray(by_name[name], np.float32) for node, name in self.found.items()}

    def close(self) -> None:
        self._session = None


def _has_external_data(artifact: Artifact) -> bool:
    return any(p.name.endswith(".data") for p in Path(artifact.model_path).parent.iterdir())


def mil_name(node: str) -> str:
    return tf_to_mil(core_name(node))


class MilCapture:
    def __init__(self, artifact: Artifact, nodes: list[str]):
        from edgevit.runners.mil import MilInterpreter, load_program

        program = load_program(artifact.model_path)
        self._interpreter = MilInterpreter(program)
        self._input = program.inputs[0].name
        variables = [spec.name for op in program.operations if op.type != "const" for spec in op.outputs]
        self.found = {}
        for node in nodes:
            core = mil_name(node)
            hits = [v for v in variables for suffix in ("", MIL_FP16_SUFFIX)
                    if v.endswith(core + suffix) and (len(v) == len(core + suffix) or v[-len(core + suffix) - 1] == "_")]
            if hits:
                self.found[node] = hits[-1]

    def run(self, image: np.ndarray) -> dict[str, np.ndarray]:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            _, kept = self._interpreter.run_keeping({self._input: image}, set(self.found.values()))
        return {node: np.asarray(kept[name], np.float32) for node, name in self.found.items()}

    def close(self) -> None:
        self._interpreter = None
