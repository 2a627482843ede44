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

from .errors import EXIT_BUNDLE, EXIT_USAGE, HarnessError


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


class TFLiteModel:
    """ai-edge-litert's (or tflite_runtime's: the same API) Interpreter with one input and one output."""

    def __init__(self, path: Path, *, threads: int, module, runtime: str, distribution: str):
        self.interpreter = module.Interpreter(model_path=str(path), num_threads=threads)
        self.interpreter.allocate_tensors()
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise HarnessError(f"{path.name}: expected 1 input and 1 output, found {len(inputs)} and {len(outputs)}", exit_code=EXIT_BUNDLE)
        self._input, self._output = inputs[0], outputs[0]
        signature = self._input.get("shape_signature")
        # -1 in the batch dimension of the signature: the interpreter may be resized to any batch.
        self.dynamic_batch = signature is not None and len(signature) > 0 and int(signature[0]) == -1
        self.info = RuntimeInfo(
            name=runtime,
            version=_version(distribution, module),
            threads=threads,
            details={"api": f"{module.__name__}.Interpreter", "input_dtype": np.dtype(self._input["dtype"]).name,
                     "dynamic_batch": self.dynamic_batch, "default_delegates": "runtime default (XNNPACK where built in)"},
        )

    def _ensure_batch(self, batch: int) -> None:
        if int(self._input["shape"][0]) == batch:
            return
        if not self.dynamic_batch:
            raise BatchNotSupported(f"the model has a fixed batch of {int(self._input['shape'][0])}")
        shape = [batch, *[int(v) for v in self._input["shape"][1:]]]
        self.interpreter.resize_tensor_input(self._input["index"], shape)
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]

    def predict(self, images: np.ndarray) -> np.ndarray:
        self._ensure_batch(len(images))
        self.interpreter.set_tensor(self._input["index"], _quantize(images, self._input))
        self.interpreter.invoke()
        return _dequantize(self.interpreter.get_tensor(self._output["index"]), self._output)

    def close(self) -> None:
        self.interpreter = None


def _quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return np.ascontiguousarray(x, dtype=np.float32)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(dtype)


def _dequantize(y: np.ndarray, detail: dict) -> np.ndarray:
    if np.dtype(detail["dtype"]) == np.float32:
        return np.array(y, dtype=np.float32)
    scale, zero_point = detail["quantization"]
    return ((y.astype(np.float32) - zero_point) * scale).astype(np.float32)


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
