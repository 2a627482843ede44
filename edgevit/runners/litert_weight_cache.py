"""A .tflite through LiteRT's CompiledModel API with XNNPACK's weight cache: XNNPACK packs the weights into a
file and maps it from disk, instead of holding a packed copy in memory next to the model's own weights.

Why a second path: ai-edge-litert 2.3's Interpreter (edgevit.runners.litert) cannot reach the weight cache; its
CompiledModel API can (CpuOptions.xnnpack_weight_cache_path). Measured on the ViT-L/32 artifacts, each alone in
its own process (benchmarks/results/litert-weight-cache_*_2026-12-01.md): peak RSS 383 MiB instead of 657 MiB for
tflite-dynamic (a 294 MiB file) and 1,255 MiB instead of 2,393 MiB for tflite-fp32, at the same latency. The cache
file lives in a temporary folder for the runner's life.

Limits of this path, each stated where it applies:
- float32 input and output only: CompiledModel's tensor details carry no scale or zero point for int8 I/O;
- the model's own batch per call: resizing a CompiledModel's input, then running it, corrupted LiteRT 2.3's
  heap here, so a larger batch is fed in calls of that batch (`batch_per_call` in the runner's details).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from edgevit.errors import ModelError
from edgevit.runners.batching import first_line
from edgevit.runners.options import RuntimeUnavailable

CACHE_FILE = "xnnpack-weights.cache"


class WeightCacheIO:
    """One CompiledModel on the CPU with its weight cache file; `run` takes float32 NHWC images of its batch."""

    def __init__(self, model_path: Path, *, threads: int | None):
        try:
            from ai_edge_litert.compiled_model import CompiledModel, CpuOptions, HardwareAccelerator, Options
        except ImportError as exc:  # an ai-edge-litert without the CompiledModel API (before 2.x)
            raise RuntimeUnavailable(f"litert weight_cache needs ai-edge-litert's CompiledModel API ({first_line(exc)})") from None
        self._folder = Path(tempfile.mkdtemp(prefix="edgevit-xnnpack-cache-"))
        try:
            options = Options(hardware_accelerators=HardwareAccelerator.CPU,
                              cpu_options=CpuOptions(num_threads=threads or 0,
                                                     xnnpack_weight_cache_path=str(self._folder / CACHE_FILE)))
            try:
                self._model = CompiledModel.from_file(str(model_path), options=options)
            except (ValueError, RuntimeError) as exc:
                raise ModelError(f"{model_path}: LiteRT's CompiledModel cannot load it ({first_line(exc)}); re-export the "
                                 "artifact") from None
            signatures = self._model.get_signature_list()
            if len(signatures) != 1:
                raise ModelError(f"{model_path}: expected one signature, found {len(signatures)}")
            key = next(iter(signatures))
            inputs, outputs = self._model.get_input_tensor_details(key), self._model.get_output_tensor_details(key)
            if len(inputs) != 1 or len(outputs) != 1:
                raise ModelError(f"{model_path}: expected 1 input and 1 output, found {len(inputs)} and {len(outputs)}")
            self.input, self.output = next(iter(inputs.values())), next(iter(outputs.values()))
            dtypes = {np.dtype(self.input["dtype"]).name, np.dtype(self.output["dtype"]).name}
            if dtypes != {"float32"}:
                raise RuntimeUnavailable(f"litert weight_cache: the model's input/output is {'/'.join(sorted(dtypes))}, and "
                                         "LiteRT's CompiledModel gives no scale or zero point for it; only float32 I/O runs here")
            self._inputs, self._outputs = self._model.create_input_buffers(0), self._model.create_output_buffers(0)
            self._output_size = int(np.prod(self.output["shape"]))
        except BaseException:
            self.close()
            raise

    @property
    def shape(self) -> list[int]:
        return [int(d) for d in self.input["shape"]]

    @property
    def batch(self) -> int:
        return self.shape[0]

    def run(self, images: np.ndarray) -> np.ndarray:
        if list(images.shape) != self.shape:
            raise ModelError(f"the weight-cache path runs batches of shape {self.shape}, got {list(images.shape)}")
        self._inputs[0].write(np.ascontiguousarray(images, dtype=np.float32))
        self._model.run_by_index(0, self._inputs, self._outputs)
        return self._outputs[0].read(self._output_size, np.float32).reshape(self.output["shape"])

    def close(self) -> None:
        self._model = self._inputs = self._outputs = None  # release the mapping before the file goes
        shutil.rmtree(self._folder, ignore_errors=True)
