"""Core ML artifacts on Linux: the .mlpackage's MIL program executed by the numpy interpreter.

A parity reference, not a speed path: results say emulated=True and reports print "emulated".
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata

import numpy as np

from edgevit.errors import ModelError
from edgevit.artifact import Artifact
from edgevit.runners.base import RunnerInfo
from edgevit.runners.batching import check_images, predict_in_chunks
from edgevit.runners.coreml import probabilities_from_classifier
from edgevit.runners.options import RunnerOptions, RuntimeUnavailable


class CoreMLMilRunner:
    def __init__(self, artifact: Artifact, options: RunnerOptions):
        from edgevit.runners.mil import MilInterpreter, load_program

        if options.device == "gpu":
            raise RuntimeUnavailable("coreml-mil-numpy: the numpy interpreter runs on the CPU only; use device cpu")

        program = load_program(artifact.model_path)
        self._interpreter = MilInterpreter(program)
        if len(program.inputs) != 1:
            raise ModelError(f"{artifact.model_path}: expected one input, found {len(program.inputs)}")
        self._input = program.inputs[0]
        shape = self._input.shape
        if shape is None or len(shape) != 4 or shape[3] != 3:
            raise ModelError(f"{artifact.model_path}: input shape {shape} is not a fixed [N, H, W, 3]")
        self._batch, self._height, self._width = shape[0], shape[1], shape[2]
        # Several model calls (batches of images) run side by side, one per thread, each on one BLAS
        # thread: numpy's BLAS threads spin while waiting (on a busy machine that made a tiny ViT 10x
        # slower), separate calls never wait on each other, and each computes exactly as it would alone.
        # A single call runs on `threads` BLAS threads, one unless asked: this is a reference, not a speed path.
        self._threads = options.threads or os.cpu_count() or 1
        self._single_call_threads = options.threads or 1
        self._labels = artifact.labels
        self._probs_output = artifact.manifest["output"].get("name", "classLabel_probs")
        if self._probs_output not in program.outputs:
            raise ModelError(f"{artifact.model_path}: the program has no output '{self._probs_output}' (has {', '.join(program.outputs)})")
        self.info = RunnerInfo(
            runtime="coreml-mil-numpy",
            version=f"coremltools {metadata.version('coremltools')} spec, numpy {np.__version__}",
            device="cpu",
            threads=self._threads,
            emulated=True,
            details={"mil_opset": program.opset, "op_types": program.op_types},
        )

    def _run(self, batch: np.ndarray) -> np.ndarray:
        output = self._interpreter.run({self._input.name: batch})[self._probs_output]
        if isinstance(output, dict):  # a classifier: label -> probability
            return probabilities_from_classifier(output, self._labels)[None]  # Core ML classifiers take batch 1
        return np.asarray(output, np.float32).reshape(len(batch), -1)

    def predict(self, images: np.ndarray) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        images = check_images(images, self._height, self._width)
        calls = -(-len(images) // self._batch)
        workers = min(self._threads, calls)
        if workers <= 1:
            with threadpool_limits(limits=self._single_call_threads):
                return predict_in_chunks(images, self._batch, self._run, len(self._labels), fixed_batch=True)
        with threadpool_limits(limits=1):
            # Contiguous shares of whole model calls, one per thread, joined in order.
            bounds = [self._batch * (calls * k // workers) for k in range(workers + 1)]
            shares = [images[a:b] for a, b in zip(bounds, bounds[1:])]
            with ThreadPoolExecutor(workers, thread_name_prefix="coreml-mil") as pool:
                parts = pool.map(lambda share: predict_in_chunks(share, self._batch, self._run, len(self._labels), fixed_batch=True),
                                 shares)
                return np.concatenate(list(parts))

    def close(self) -> None:
        self._interpreter = None
