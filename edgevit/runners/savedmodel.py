"""The reference runner: the SavedModel's serving signature through TensorFlow."""

from __future__ import annotations

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
            details={"signature": SIGNATURE},
        )

    def predict(self, images: np.ndarray) -> np.ndarray:
        from edgevit.keras_backend import import_tf

        images = check_images(images, self._height, self._width)
        if self._device is None:
            return predict_in_chunks(images, self._batch_size, self._model.predict, self._num_classes)
        with import_tf().device(self._device):
            return predict_in_chunks(images, self._batch_size, self._model.predict, self._num_classes)

    def close(self) -> None:
        self._model = None
