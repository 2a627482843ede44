"""Small Keras image classifiers that edgevit did not train, for `edgevit import` tests (and builders for
`edgevit import module:function`: tests pass `tests/helpers/cnn_models.py:NAME`).

keras.applications models come with weights=None (no weight hub here). Random-initialised, a
MobileNetV3Small's activations die out (it returns the same near-uniform probabilities for every
image: parity on it would compare ties); `_liven` draws He-scaled kernels and varied batch-norm
statistics from a fixed seed, and sharpens the logits so top-1 classes are not near-ties.
"""

from __future__ import annotations

import numpy as np

from edgevit.keras_backend import import_keras

IMAGE_SIZE = 64
CLASSES = 3
SEED = 3


def _liven(model, *, seed: int = SEED, logit_scale: float = 8.0):
    keras = import_keras()
    rng = np.random.default_rng(seed)
    last_kernel = None
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            draw = {"gamma": lambda n: rng.uniform(0.5, 1.5, n), "beta": lambda n: rng.normal(0, 0.1, n),
                    "moving_mean": lambda n: rng.normal(0, 0.1, n), "moving_variance": lambda n: rng.uniform(0.5, 1.5, n)}
            for weight in layer.weights:  # gamma and beta are absent where scale / center is off (InceptionV3)
                weight.assign(draw[weight.path.rsplit("/", 1)[-1]](weight.shape).astype("float32"))
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)):
            weights = layer.get_weights()
            kernel = weights[0]
            fan_in = int(np.prod(kernel.shape[:-1])) if not isinstance(layer, keras.layers.DepthwiseConv2D) else int(np.prod(kernel.shape[:2]))
            weights[0] = rng.normal(0, np.sqrt(2.0 / fan_in), kernel.shape)
            layer.set_weights(weights)
            last_kernel = layer
    if last_kernel is not None:  # the classifier: confident outputs
        weights = last_kernel.get_weights()
        weights[0] = weights[0] * logit_scale
        last_kernel.set_weights(weights)
    return model


def mobilenet_v3_small(image_size: int = IMAGE_SIZE, classes: int = CLASSES):
    """keras.applications.MobileNetV3Small (its input: raw 0..255 pixels; it rescales inside)."""
    keras = import_keras()
    keras.utils.set_random_seed(SEED)
    model = keras.applications.MobileNetV3Small(input_shape=(image_size, image_size, 3), weights=None, classes=classes)
    return _liven(model)


def inception_v3(image_size: int = 75, classes: int = CLASSES):
    """keras.applications.InceptionV3 at its smallest input (75 px); input scaled to [-1, 1]."""
    keras = import_keras()
    keras.utils.set_random_seed(SEED)
    model = keras.applications.InceptionV3(input_shape=(image_size, image_size, 3), weights=None, classes=classes)
    return _liven(model)


def small_cnn(image_size: int = 32, classes: int = CLASSES, *, logits: bool = False):
    """Conv, batch norm, relu6, pooling, dense: the fast case (a fraction of a second to build)."""
    keras = import_keras()
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((image_size, image_size, 3))
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="hard_swish")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation=None if logits else "softmax")(x)
    return _liven(keras.Model(inputs, outputs, name="small_cnn"))


def small_cnn_logits():
    return small_cnn(logits=True)


def small_cnn_with_lambda(image_size: int = 32, classes: int = CLASSES):
    """A model holding a Lambda layer: Keras' safe mode refuses to load it from a .keras file."""
    keras = import_keras()
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((image_size, image_size, 3))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="with_lambda")


def trained_mobilenet_v3_small(data_root, *, epochs: int = 5, image_size: int = IMAGE_SIZE):
    """MobileNetV3Small (weights=None) fitted for a few epochs on synthetic birds: confident predictions, so
    top-1 parity compares real decisions, not near-ties. Its input: raw 0..255 pixels ([0,255] preset).

    Keras' MobileNetV3 batch norm keeps moving statistics with momentum 0.999: after a few epochs they are
    still the initial ones and inference mode returns the same near-uniform answer for every image. One
    training-mode pass over the train split with momentum 0 sets them to the data's statistics.
    """
    from edgevit.config import Preprocessing
    from edgevit.data.folders import load_image_folders
    from edgevit.data.preprocess import preprocess

    keras = import_keras()
    keras.utils.set_random_seed(SEED)
    folders = load_image_folders(data_root, splits=("train",))
    train = folders.split("train")
    raw = Preprocessing(image_size, image_size, mean=(0.0,) * 3, std=(1.0,) * 3)
    images = np.stack([preprocess(path, raw) for path in train.paths])
    labels = np.asarray(train.labels)
    model = keras.applications.MobileNetV3Small(input_shape=(image_size, image_size, 3), weights=None,
                                                classes=folders.num_classes)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    model.fit(images, labels, epochs=epochs, batch_size=32, verbose=0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    model(images, training=True)
    return model
