"""Write and read the SavedModel: ONE serving signature, each weight stored once.

`model.export()` stores every variable twice (variables/ and _all_variables/: 2.4 GB for ViT-L/32);
saving a tf.Module that tracks only the model stores them once. Reading never deserializes Keras
objects, so no code from a user's file is executed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgevit.errors import ModelError
from edgevit.fsutil import atomic_dir
from edgevit.keras_backend import import_tf
from edgevit.manifest import read_manifest, write_manifest

SIGNATURE = "serving_default"
INPUT_NAME = "images"
OUTPUT_NAME = "probabilities"


def save_savedmodel(model, folder: Path, manifest: dict) -> Path:
    """Write `model` as a SavedModel with `manifest.json` beside saved_model.pb; atomic."""
    if getattr(model, "optimizer", None) is not None:
        # A compiled model would drag its optimizer slots into variables/ (3x the size with Adam).
        raise ModelError("save_savedmodel needs an uncompiled model; rebuild it and load the weights first")
    tf = import_tf()
    height, width = int(model.input_shape[1]), int(model.input_shape[2])

    class Serving(tf.Module):
        def __init__(self):
            super().__init__()
            # Track the tf.Variables themselves, not the Keras model: through the model the
            # checkpoint reaches Keras' variable wrappers, and TFLiteConverter.from_saved_model
            # then keeps VAR_HANDLE ops (no weights in the .tflite, NaN outputs); tracking both
            # would store every weight twice. The model is reached through the closure only.
            self.weights = [_tf_variable(v) for v in model.weights]

        @tf.function(input_signature=[tf.TensorSpec([None, height, width, 3], tf.float32, name=INPUT_NAME)])
        def serve(self, images):
            return {OUTPUT_NAME: model(images, training=False)}

    module = Serving()
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(folder) as tmp:
        tf.saved_model.save(module, str(tmp), signatures={SIGNATURE: module.serve})
        write_manifest(tmp, manifest)
    return folder


def _tf_variable(variable):
    """The tf.Variable behind a Keras 3 variable (TensorFlow backend)."""
    tf = import_tf()
    value = variable if isinstance(variable, tf.Variable) else getattr(variable, "value", None)
    if not isinstance(value, tf.Variable):
        raise ModelError(f"weight {variable.path} is not backed by a TensorFlow variable; save with the TensorFlow backend")
    return value


class LoadedSavedModel:
    """A SavedModel's serving function plus its manifest."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        if not (self.folder / "saved_model.pb").is_file():
            raise ModelError(f"{self.folder}: not a SavedModel (no saved_model.pb); pass the folder `edgevit train` wrote")
        self.manifest = read_manifest(self.folder)
        tf = import_tf()
        try:
            loaded = tf.saved_model.load(str(self.folder))
        except Exception as exc:  # TF raises many types for a damaged SavedModel
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{self.folder}: cannot load SavedModel ({reason}); re-create it with `edgevit train`") from None
        signatures = list(loaded.signatures.keys())
        if len(signatures) != 1:
            raise ModelError(
                f"{self.folder}: expected exactly one serving signature, found {len(signatures)} ({', '.join(signatures) or 'none'}); "
                "re-save the model with one signature"
            )
        self._loaded = loaded  # keeps the variables alive
        self.function = loaded.signatures[signatures[0]]
        spec = self.function.structured_input_signature[1]
        if len(spec) != 1:
            raise ModelError(f"{self.folder}: the serving signature must take one input, it takes {len(spec)}")
        (self.input_name, tensor_spec), = spec.items()
        shape = tensor_spec.shape.as_list()
        if len(shape) != 4 or shape[1] is None or shape[2] is None or shape[3] != 3:
            raise ModelError(f"{self.folder}: input shape {shape} has no fixed HxWx3 size; re-save with a fixed image size")
        self.input_shape = shape
        outputs = list(self.function.structured_outputs.keys())
        self.output_name = outputs[0]

    def predict(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        tf = import_tf()
        out = []
        for start in range(0, len(images), batch_size):
            batch = tf.constant(images[start : start + batch_size], dtype=tf.float32)
            out.append(self.function(**{self.input_name: batch})[self.output_name].numpy())
        return np.concatenate(out, axis=0) if out else np.zeros((0, len(self.manifest["labels"])), np.float32)
