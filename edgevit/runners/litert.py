"""TFLite artifacts through LiteRT (ai-edge-litert), XNNPACK on or off, quantized I/O handled.

A fully int8 model takes and returns int8 tensors: inputs are quantized with the input tensor's scale
and zero point and outputs dequantized with the output's, so callers always see float32. That
interpreter handling is the device harness's (edgevit.portable.runtimes.TFLiteIO), so the host and a
device feed a model the same way; this runner adds the options, the checks and the batching of verify and bench.
"""

from __future__ import annotations

from importlib import metadata

import numpy as np

from edgevit.console import native_noise_filtered
from edgevit.artifact import Artifact
from edgevit.errors import ModelError, UsageError
from edgevit.portable.errors import HarnessError
from edgevit.portable.runtimes import TFLiteIO
from edgevit.runners.base import RunnerInfo
from edgevit.runners.batching import check_images, first_line, predict_in_chunks
from edgevit.runners.options import RunnerOptions, RuntimeUnavailable


class LiteRTRunner:
    def __init__(self, artifact: Artifact, options: RunnerOptions):
        from ai_edge_litert import interpreter as litert

        if options.device == "gpu":
            raise RuntimeUnavailable("litert: the Python LiteRT runtime has no GPU delegate on this machine; use device cpu")

        self._num_classes = len(artifact.labels)
        if options.weight_cache:
            self._open_with_weight_cache(artifact, options)
            return
        resolver = litert.OpResolverType.AUTO if options.xnnpack else litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        try:
            with native_noise_filtered():  # LiteRT's C++ prints an XNNPACK banner on stderr as it loads
                interpreter = litert.Interpreter(
                    model_path=str(artifact.model_path), num_threads=options.threads, experimental_op_resolver_type=resolver,
                    experimental_default_delegate_latest_features=options.xnnpack_latest,
                )
                interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{artifact.model_path}: LiteRT cannot load it ({first_line(exc)}); re-export the artifact") from None
        try:
            self._io = TFLiteIO(interpreter, name=str(artifact.model_path))
        except HarnessError as exc:
            raise ModelError(str(exc)) from None
        self._height, self._width = _image_size(artifact, [int(d) for d in self._io.input["shape_signature"]])
        # A fixed batch is fed exactly that many images per call; a dynamic one is resized per chunk.
        self._fixed_batch = None if self._io.dynamic_batch else self._io.batch
        self._batch_size = self._fixed_batch or options.batch_size
        self.info = RunnerInfo(
            runtime="litert",
            version=metadata.version("ai-edge-litert"),
            device="cpu",
            threads=options.threads,
            details={
                "xnnpack": options.xnnpack,
                **({"xnnpack_latest": True} if options.xnnpack_latest else {}),
                "input_dtype": np.dtype(self._io.input["dtype"]).name,
                "output_dtype": np.dtype(self._io.output["dtype"]).name,
            },
        )

    def _open_with_weight_cache(self, artifact: Artifact, options: RunnerOptions) -> None:
        """LiteRT's CompiledModel with XNNPACK's weight cache (edgevit.runners.litert_weight_cache): one model batch
        per call, float32 I/O only."""
        from edgevit.runners.litert_weight_cache import WeightCacheIO

        if not options.xnnpack:
            raise UsageError("litert: weight_cache is XNNPACK's; it cannot be combined with xnnpack=false")
        with native_noise_filtered():
            self._io = WeightCacheIO(artifact.model_path, threads=options.threads)
        try:
            self._height, self._width = _image_size(artifact, self._io.shape)
        except ModelError:
            self.close()
            raise
        self._fixed_batch = self._batch_size = self._io.batch
        self.info = RunnerInfo(
            runtime="litert",
            version=metadata.version("ai-edge-litert"),
            device="cpu",
            threads=options.threads,
            details={"xnnpack": True, "weight_cache": True, "api": "CompiledModel", "batch_per_call": self._io.batch,
                     "input_dtype": "float32", "output_dtype": "float32"},
        )

    def predict(self, images: np.ndarray) -> np.ndarray:
        images = check_images(images, self._height, self._width)
        return predict_in_chunks(images, self._batch_size, self._io.run, self._num_classes, fixed_batch=self._fixed_batch is not None)

    def close(self) -> None:
        if hasattr(self._io, "close"):
            self._io.close()
        self._io = None


def _image_size(artifact: Artifact, shape: list[int]) -> tuple[int, int]:
    """(height, width) of an [N, H, W, 3] input; ModelError for any other shape."""
    if len(shape) != 4 or shape[3] != 3:
        raise ModelError(f"{artifact.model_path}: input shape {shape} is not [N, H, W, 3]")
    return shape[1], shape[2]
