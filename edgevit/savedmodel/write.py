"""Write the SavedModel: ONE serving signature, each weight stored once.

`model.export()` stores every variable twice (variables/ and _all_variables/: 2.4 GB for ViT-L/32);
saving a tf.Module that tracks only the model stores them once.
"""

from __future__ import annotations

from pathlib import Path

from edgevit.errors import ModelError
from edgevit.keras_backend import import_tf
from edgevit.manifest import write_manifest
from edgevit.outputs import SAVED_MODEL, replace_dir
from edgevit.savedmodel.signature import INPUT_NAME, OUTPUT_NAME, SIGNATURE


def save_savedmodel(model, folder: Path, manifest: dict) -> Path:
    """Write `model` as a SavedModel with `manifest.json` beside saved_model.pb; atomic."""
    if getattr(model, "optimizer", None) is not None:
        # A compiled model would drag its optimizer slots into variables/ (3x the size with Adam).
        raise ModelError("save_savedmodel needs an uncompiled model; rebuild it and load the weights first")
    height, width = int(model.input_shape[1]), int(model.input_shape[2])
    # Track the tf.Variables themselves, not the Keras model: through the model the checkpoint
    # reaches Keras' variable wrappers, and TFLiteConverter.from_saved_model then keeps VAR_HANDLE
    # ops (no weights in the .tflite, NaN outputs); tracking both would store every weight twice.
    return save_serving(lambda images: model(images, training=False), [tf_variable(v) for v in model.weights],
                        folder, manifest, height=height, width=width)


def save_serving(call, variables: list, folder: Path, manifest: dict, *, height: int, width: int) -> Path:
    """Write `call` (an image batch -> one tensor) as the one serving signature, tracking only `variables`; atomic.

    The variables are the weights `call` reads: each is stored once in variables/, and the model is
    reached through the closure only (see save_savedmodel for why that matters to TFLite).
    """
    tf = import_tf()

    class Serving(tf.Module):
        def __init__(self):
            super().__init__()
            self.weights = list(variables)

        @tf.function(input_signature=[tf.TensorSpec([None, height, width, 3], tf.float32, name=INPUT_NAME)])
        def serve(self, images):
            return {OUTPUT_NAME: call(images)}

    module = Serving()
    folder = Path(folder)
    with replace_dir(folder, SAVED_MODEL) as tmp:  # an earlier SavedModel only
        tf.saved_model.save(module, str(tmp), signatures={SIGNATURE: module.serve})
        write_manifest(tmp, manifest)
    return folder


def tf_variable(variable):
    """The tf.Variable behind a Keras 3 variable (TensorFlow backend)."""
    tf = import_tf()
    value = variable if isinstance(variable, tf.Variable) else getattr(variable, "value", None)
    if not isinstance(value, tf.Variable):
        raise ModelError(f"weight {variable.path} is not backed by a TensorFlow variable; save with the TensorFlow backend")
    return value
