"""Load the SavedModel into TensorFlow for inference, after `source` has checked it.

Loading never deserializes Keras objects, so no code from a user's file is executed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgevit.errors import ModelError
from edgevit.keras_backend import import_tf
from edgevit.savedmodel.source import SavedModelSource, open_source


def load_serving_function(source: SavedModelSource):
    """(the loaded SavedModel, its serving function); the first keeps the variables alive."""
    tf = import_tf()
    try:
        loaded = tf.saved_model.load(str(source.folder))
    except Exception as exc:  # TF raises many types for a damaged SavedModel
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{source.folder}: cannot load SavedModel ({reason}); re-create it with `edgevit train`") from None
    return loaded, loaded.signatures[source.signature]


class LoadedSavedModel:
    """A SavedModel's serving function plus its manifest."""

    def __init__(self, saved_model: SavedModelSource | Path | str):
        self.source = saved_model if isinstance(saved_model, SavedModelSource) else open_source(saved_model)
        self.folder, self.manifest = self.source.folder, self.source.manifest
        self.input_name, self.output_name = self.source.input_name, self.source.output_name
        self.input_shape = list(self.source.input_shape)
        self._loaded, self.function = load_serving_function(self.source)

    def predict(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        tf = import_tf()
        out = []
        for start in range(0, len(images), batch_size):
            batch = tf.constant(images[start : start + batch_size], dtype=tf.float32)
            out.append(self.function(**{self.input_name: batch})[self.output_name].numpy())
        return np.concatenate(out, axis=0) if out else np.zeros((0, len(self.manifest["labels"])), np.float32)
