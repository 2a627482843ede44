"""The reference runner: the SavedModel's serving signature through TensorFlow."""

from __future__ import annotations

import os

import numpy as np

from edgevit.artifact import Artifact
from edgevit.runners.base import RunnerInfo
from edgevit.runners.batching import check_images, predict_in_chunks
from edgevit.runners.options import RunnerOptions, RuntimeUnavailable


class SavedModelRunner:
    def __init__(self, artifact: Artifact, options: RunnerOptions):
        from edgevit.keras_backend import import_tf
        from edgevit.savedmodel.load import LoadedSavedModel
        from edgevit.savedmodel.signature import SIGNATURE

        tf = import_tf()
        gpus = tf.config.list_logical_devices("GPU")
        if options.device == "gpu" and not gpus:
            raise RuntimeUnavailable("savedmodel: TensorFlow sees no GPU on this machine; use device cpu")
        # auto: TensorFlow's own placement (its GPU when it has one); cpu: pinned to the CPU.
        self._device = "/CPU:0" if options.device == "cpu" else None
        self._model = LoadedSavedModel(artifact.model_path)
        self._predict = self._model.predict
        if options.jit_compile:  # XLA compiles the serving call (once per input shape, on the first call)
            model = self._model
            serving = tf.function(lambda x: model.function(**{model.input_name: x})[model.output_name], jit_compile=True)
            self._predict = lambda batch: serving(tf.constant(batch, dtype=tf.float32)).numpy()
        self._num_classes = len(artifact.labels)
        self._batch_size = options.batch_size
        _, self._height, self._width, _ = self._model.input_shape
        # TF fixes its thread pools at start-up; report what it runs with (0 = one per core).
        threads = tf.config.threading.get_intra_op_parallelism_threads() or None
        self.info = RunnerInfo(
            runtime="savedmodel",
            version=tf.__version__,
            device="gpu" if gpus and options.device != "cpu" else "cpu",
            threads=threads,
            details={"signature": SIGNATURE, "jit_compile": options.jit_compile,
                     "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")},
        )

    def predict(self, images: np.ndarray) -> np.ndarray:
        from edgevit.keras_backend import import_tf

        images = check_images(images, self._height, self._width)
        if self._device is None:
            return predict_in_chunks(images, self._batch_size, self._run, self._num_classes)
        with import_tf().device(self._device):
            return predict_in_chunks(images, self._batch_size, self._run, self._num_classes)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self._predict(batch))

    def close(self) -> None:
        self._model = None
