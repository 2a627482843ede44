"""One small adapter per runtime: load a model file, predict a float32 NHWC batch -> probabilities.

Each runtime module is imported only when asked for, so a device needs just the one it uses.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import EXIT_BUNDLE, EXIT_MODEL, EXIT_USAGE, HarnessError


class BatchNotSupported(Exception):
    """The model has a fixed batch size and cannot run the batch asked for."""


@dataclass
class RuntimeInfo:
    name: str
    version: str | None
    threads: int | None
    details: dict = field(default_factory=dict)


def _version(distribution: str, module) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return getattr(module, "__version__", None)


class TFLiteIO:
    """An allocated LiteRT/TFLite interpreter with one input and one output, fed float32 and read as float32.

    The interpreter handling the device harness and edgevit's LiteRT runner share: the tensor details,
    int8 input/output (quantized and dequantized with each tensor's own scale and zero point) and
    resizing the batch where the model's signature allows it (-1 in its batch dimension).
    """

    def __init__(self, interpreter, *, name: str):
        self.interpreter = interpreter
        inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise HarnessError(f"{name}: expected 1 input and 1 output, found {len(inputs)} and {len(outputs)}", exit_code=EXIT_MODEL)
        self.input, self.output = inputs[0], outputs[0]
        for detail in (self.input, self.output):
            _check_quantization(detail)
        signature = self.input.get("shape_signature")
        self.dynamic_batch = signature is not None and len(signature) > 0 and int(signature[0]) == -1

    @property
    def batch(self) -> int:
        """The batch the interpreter is allocated for now."""
        return int(self.input["shape"][0])

    def _ensure_batch(self, batch: int) -> None:
        if self.batch == batch:
            return
        if not self.dynamic_batch:
            raise BatchNotSupported(f"the model has a fixed batch of {self.batch}")
        shape = [batch, *[int(v) for v in self.input["shape"][1:]]]
        self.interpreter.resize_tensor_input(self.input["index"], shape)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    def run(self, images: np.ndarray) -> np.ndarray:
        """float32 NHWC images -> the output tensor as float32; BatchNotSupported for a batch a fixed model cannot take."""
        self._ensure_batch(len(images))
        self.interpreter.set_tensor(self.input["index"], quantize(images, self.input))
        self.interpreter.invoke()
        return dequantize(self.interpreter.get_tensor(self.output["index"]), self.output)


def _check_quantization(detail: dict) -> None:
    if np.dtype(detail["dtype"]).kind != "f" and not detail["quantization"][0]:
        raise HarnessError(f"tensor {detail['name']} is {np.dtype(detail['dtype']).name} without quantization parameters",
                           exit_code=EXIT_MODEL)


def quantize(values: np.ndarray, detail: dict) -> np.ndarray:
    """float32 -> the tensor's dtype; integer tensors use q = round(x / scale) + zero_point, clipped."""
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return np.ascontiguousarray(values, dtype=dtype)
    _check_quantization(detail)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(values / scale) + zero_point, info.min, info.max).astype(dtype)


def dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    """The tensor's dtype -> float32; integer tensors use x = (q - zero_point) * scale."""
    if np.dtype(detail["dtype"]).kind == "f":
        return np.array(values, dtype=np.float32)
    _check_quantization(detail)
    scale, zero_point = detail["quantization"]
    return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)


class TFLiteModel:
    """ai-edge-litert's (or tflite_runtime's: the same API) Interpreter, for the device harness."""

    def __init__(self, path: Path, *, threads: int, module, runtime: str, distribution: str):
        interpreter = module.Interpreter(model_path=str(path), num_threads=threads)
        interpreter.allocate_tensors()
        self.io = TFLiteIO(interpreter, name=path.name)
        self.dynamic_batch = self.io.dynamic_batch
        self.info = RuntimeInfo(
            name=runtime,
            version=_version(distribution, module),
            threads=threads,
            details={"api": f"{module.__name__}.Interpreter", "input_dtype": np.dtype(self.io.input["dtype"]).name,
                     "dynamic_batch": self.dynamic_batch, "default_delegates": "runtime default (XNNPACK where built in)"},
        )

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.io.run(images)

    def close(self) -> None:
        self.io = None


class OnnxModel:
    def __init__(self, path: Path, *, threads: int, module, output_name: str | None):
        options = module.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = module.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1:
            raise HarnessError(f"{path.name}: expected 1 input, found {len(inputs)}", exit_code=EXIT_BUNDLE)
        self._input_name = inputs[0].name
        names = [o.name for o in outputs]
        self._output_name = output_name if output_name in names else names[0]
        batch = inputs[0].shape[0]
        self.dynamic_batch = not isinstance(batch, int)
        self._fixed_batch = batch if isinstance(batch, int) else None
        self.info = RuntimeInfo(
            name="onnxruntime",
            version=_version("onnxruntime", module),
            threads=threads,
            details={"providers": self.session.get_providers(), "dynamic_batch": self.dynamic_batch},
        )

    def predict(self, images: np.ndarray) -> np.ndarray:
        if self._fixed_batch is not None and len(images) != self._fixed_batch:
            raise BatchNotSupported(f"the model has a fixed batch of {self._fixed_batch}")
        x = np.ascontiguousarray(images, dtype=np.float32)
        return np.asarray(self.session.run([self._output_name], {self._input_name: x})[0], dtype=np.float32)

    def close(self) -> None:
        self.session = None


def _load_litert(path, threads, manifest):
    module = importlib.import_module("ai_edge_litert.interpreter")
    return TFLiteModel(path, threads=threads, module=module, runtime="litert", distribution="ai-edge-litert")


def _load_tflite_runtime(path, threads, manifest):
    module = importlib.import_module("tflite_runtime.interpreter")
    return TFLiteModel(path, threads=threads, module=module, runtime="tflite_runtime", distribution="tflite-runtime")


def _load_onnxruntime(path, threads, manifest):
    module = importlib.import_module("onnxruntime")
    return OnnxModel(path, threads=threads, module=module, output_name=(manifest.get("output") or {}).get("name"))


# The harness's own runtime table. It cannot import edgevit.formats (it is copied onto devices alone and
# reads an artifact's format from its manifest at run time), so this module, and only this one in the
# harness, names formats and runtimes by string (tests/unit/test_format_strings.py holds it to that).
# runtime name -> loader; tried in this order for a format when no runtime is named.
RUNTIMES: dict[str, Callable] = {
    "litert": _load_litert,
    "tflite_runtime": _load_tflite_runtime,
    "onnxruntime": _load_onnxruntime,
}
RUNTIMES_FOR_FORMAT: dict[str, tuple[str, ...]] = {
    "tflite": ("litert", "tflite_runtime"),
    "onnx": ("onnxruntime",),
}
PIP_NAMES = {"litert": "ai-edge-litert", "tflite_runtime": "tflite-runtime", "onnxruntime": "onnxruntime"}


def load_model(path: Path, manifest: dict, *, threads: int, runtime: str | None = None):
    """The first runtime for the artifact's format that imports here (or the one named); HarnessError if none."""
    fmt = manifest["format"]
    if fmt not in RUNTIMES_FOR_FORMAT:
        raise HarnessError(f"format {fmt!r} has no device runtime; known formats: {', '.join(RUNTIMES_FOR_FORMAT)}",
                           exit_code=EXIT_BUNDLE, status="not available")
    candidates = RUNTIMES_FOR_FORMAT[fmt]
    if runtime is not None:
        if runtime not in candidates:
            raise HarnessError(f"runtime {runtime!r} cannot run a {fmt} model; known for {fmt}: {', '.join(candidates)}",
                               exit_code=EXIT_USAGE)
        candidates = (runtime,)
    missing = []
    for name in candidates:
        try:
            return RUNTIMES[name](path, threads, manifest)
        except ImportError as exc:
            missing.append(f"{name} ({exc})")
        except HarnessError:
            raise
        except Exception as exc:  # runtimes raise RuntimeError/ValueError/their own types on a bad model
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise HarnessError(f"{name} cannot load {path.name}: {first}", exit_code=EXIT_BUNDLE) from None
    wanted = " or ".join(PIP_NAMES[n] for n in candidates)
    raise HarnessError(f"no runtime for {fmt} here: {'; '.join(missing)}; `pip install {wanted}`",
                       exit_code=EXIT_BUNDLE, status="not available")
