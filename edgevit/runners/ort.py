"""ONNX artifacts through ONNX Runtime: the CUDA execution provider when present (and wanted), else CPU."""

from __future__ import annotations

import numpy as np

from edgevit.errors import ModelError
from edgevit.artifact import Artifact
from edgevit.runners.base import RunnerInfo
from edgevit.runners.batching import check_images, first_line, predict_in_chunks
from edgevit.runners.options import RunnerOptions, RuntimeUnavailable

CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"


class OnnxRuntimeRunner:
    def __init__(self, artifact: Artifact, options: RunnerOptions):
        import onnxruntime as ort

        available = ort.get_available_providers()
        if options.device == "gpu" and CUDA not in available:
            raise RuntimeUnavailable(f"onnxruntime: no {CUDA} here (available: {', '.join(available)}); use device cpu")
        providers = [CUDA, CPU] if options.device != "cpu" and CUDA in available else [CPU]
        session_options = ort.SessionOptions()
        if options.threads is not None:
            session_options.intra_op_num_threads = options.threads
        settings = {}
        if options.graph_optimization is not None:
            level = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED",
                     "all": "ORT_ENABLE_ALL"}[options.graph_optimization]
            session_options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
            settings["graph_optimization"] = options.graph_optimization
        if options.inter_op_threads is not None:
            session_options.inter_op_num_threads = options.inter_op_threads
            session_options.execution_mode = ort.ExecutionMode.ORT_PARALLEL
            settings["inter_op_threads"] = options.inter_op_threads
        if options.spinning is not None:
            session_options.add_session_config_entry("session.intra_op.allow_spinning", "1" if options.spinning else "0")
            settings["spinning"] = options.spinning
        try:
            self._session = ort.InferenceSession(str(artifact.model_path), session_options, providers=providers)
        except Exception as exc:  # ORT raises its own types (InvalidProtobuf, Fail, ...) for a bad file
            raise ModelError(f"{artifact.model_path}: ONNX Runtime cannot load it ({first_line(exc)}); re-export the artifact") from None
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"{artifact.model_path}: expected one input and one output, found {len(inputs)} and {len(outputs)}")
        self._input_name, self._output_name = inputs[0].name, outputs[0].name
        shape = inputs[0].shape
        if len(shape) != 4 or not isinstance(shape[1], int) or not isinstance(shape[2], int):
            raise ModelError(f"{artifact.model_path}: input shape {shape} has no fixed H x W")
        self._height, self._width = shape[1], shape[2]
        self._fixed_batch = isinstance(shape[0], int)
        self._batch_size = shape[0] if self._fixed_batch else options.batch_size
        self._num_classes = len(artifact.labels)
        used = self._session.get_providers()
        self.info = RunnerInfo(
            runtime="onnxruntime",
            version=ort.__version__,
            device="gpu" if CUDA in used else "cpu",
            threads=options.threads,
            details={"providers": used, **settings},
        )

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return self._session.run([self._output_name], {self._input_name: batch})[0]

    def predict(self, images: np.ndarray) -> np.ndarray:
        images = check_images(images, self._height, self._width)
        return predict_in_chunks(images, self._batch_size, self._run, self._num_classes, fixed_batch=self._fixed_batch)

    def close(self) -> None:
        self._session = None
