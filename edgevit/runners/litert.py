"""TFLite artifacts through LiteRT (ai-edge-litert), XNNPACK on or off, quantized I/O handled.

A fully int8 model takes and returns int8 tensors: inputs are quantized with the input tensor's scale
and zero point and outputs dequantized with the output's, so callers always see float32.
"""

from __future__ import annotations

from importlib import metadata

import numpy as np

from edgevit.console import native_noise_filtered
from edgevit.errors import ModelError
from edgevit.artifact import Artifact
from edgevit.runners.base import RunnerInfo
from edgevit.runners.batching import check_images, first_line, predict_in_chunks
from edgevit.runners.options import RunnerOptions, RuntimeUnavailable


class LiteRTRunner:
    def __init__(self, artifact: Artifact, options: RunnerOptions):
        from ai_edge_litert import interpreter as litert

        if options.device == "gpu":
            raise RuntimeUnavailable("litert: the Python LiteRT runtime has no GPU delegate on this machine; use device cpu")

        resolver = litert.OpResolverType.AUTO if options.xnnpack else litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        try:
            with native_noise_filtered():  # LiteRT's C++ prints an XNNPACK banner on stderr as it loads
                self._interpreter = litert.Interpreter(
                    model_path=str(artifact.model_path), num_threads=options.threads, experimental_op_resolver_type=resolver
                )
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{artifact.model_path}: LiteRT cannot load it ({first_line(exc)}); re-export the artifact") from None
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"{artifact.model_path}: expected one input and one output, found {len(inputs)} and {len(outputs)}")
        self._input, self._output = inputs[0], outputs[0]
        shape = [int(d) for d in self._input["shape_signature"]]
        if len(shape) != 4 or shape[3] != 3:
            raise ModelError(f"{artifact.model_path}: input shape {shape} is not [N, H, W, 3]")
        self._height, self._width = shape[1], shape[2]
        # -1: dynamic batch, resized per call; otherwise the model's fixed batch.
        self._fixed_batch = shape[0] if shape[0] > 0 else None
        self._batch_size = self._fixed_batch or options.batch_size
        self._allocated_batch = int(self._input["shape"][0])
        self._num_classes = len(artifact.labels)
        self.info = RunnerInfo(
            runtime="litert",
            version=metadata.version("ai-edge-litert"),
            device="cpu",
            threads=options.threads,
            details={
                "xnnpack": options.xnnpack,
                "input_dtype": np.dtype(self._input["dtype"]).name,
                "output_dtype": np.dtype(self._output["dtype"]).name,
            },
        )

    def _run(self, batch: np.ndarray) -> np.ndarray:
        n = len(batch)
        if self._fixed_batch is None and n != self._allocated_batch:
            self._interpreter.resize_tensor_input(self._input["index"], [n, self._height, self._width, 3])
            self._interpreter.allocate_tensors()
            self._allocated_batch = n
        self._interpreter.set_tensor(self._input["index"], quantize(batch, self._input))
        self._interpreter.invoke()
        return dequantize(self._interpreter.get_tensor(self._output["index"]), self._output)

    def predict(self, images: np.ndarray) -> np.ndarray:
        images = check_images(images, self._height, self._width)
        return predict_in_chunks(
            images, self._batch_size, self._run, self._num_classes, fixed_batch=self._fixed_batch is not None
        )

    def close(self) -> None:
        self._interpreter = None


def quantize(values: np.ndarray, detail: dict) -> np.ndarray:
    """float32 -> the tensor's dtype; integer tensors use q = round(x / scale) + zero_point, clipped."""
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return values.astype(dtype)
    scale, zero_point = detail["quantization"]
    if not scale:
        raise ModelError(f"input tensor {detail['name']} is {dtype.name} without quantization parameters")
    info = np.iinfo(dtype)
    return np.clip(np.round(values / scale) + zero_point, info.min, info.max).astype(dtype)


def dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return values.astype(np.float32)
    scale, zero_point = detail["quantization"]
    if not scale:
        raise ModelError(f"output tensor {detail['name']} is {dtype.name} without quantization parameters")
    return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)
