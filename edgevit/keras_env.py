"""Import TensorFlow/Keras once, quietly, with the thread settings of this machine."""

from __future__ import annotations

import os


def import_keras():
    """Return the keras module; its backend is KERAS_BACKEND, else TensorFlow if installed, else JAX, else torch."""
    from edgevit.backends import default_backend

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", default_backend().value)
    import keras

    return keras


def import_tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    return tf
