"""The frozen-backbone fast path: compute the frozen part of the ViT once per image, then train only the rest.

With the input noise off and no dropout in the frozen blocks, the frozen part (patch embedding, class token,
position embeddings and the first `num_layers - trainable_blocks` blocks) gives the same output for an image
in every epoch, so recomputing it each step changes nothing but the time. Here it runs once per image; the
trainable tail (the last blocks, the final norm and the head, sharing the classifier's own layers and
weights) trains on those features with the recipe unchanged: same order per epoch, schedule, early
stopping and exact --resume. Its epoch checkpoints hold the tail alone; the whole classifier is written
at the start and when the session's epochs end (edgevit.training.train.START_WEIGHTS).

With `trainable_blocks == 0` only the class token's vector is kept: the final LayerNorm works token by
token and the head reads the class token alone, so the other tokens cannot change the result.
"""

from __future__ import annotations

import numpy as np

from edgevit.config import ViTSpec
from edgevit.data.feed import FeedOptions, SplitPixels, batches
from edgevit.data.folders import Split
from edgevit.config import Preprocessing

# Features above this many bytes (train + valid) are not cached: the normal path runs instead.
MAX_FEATURE_BYTES = 3 * 1024**3


def why_not_frozen_path(*, noise_stddev: float, spec: ViTSpec, trainable_blocks: int, devices: int) -> str | None:
    """None when the fast path keeps the recipe's semantics; else the reason it does not."""
    if trainable_blocks >= spec.num_layers:
        return "every block trains"
    if noise_stddev > 0:
        return f"input noise {noise_stddev} changes the frozen part's output every step (pass --noise 0 for the fast path)"
    if spec.dropout > 0:
        return f"{spec.name}'s frozen blocks apply dropout {spec.dropout} while training"
    if devices > 1:
        return "data parallel runs use the normal path"
    return None


def feature_shape(spec: ViTSpec, image_size: int, trainable_blocks: int) -> tuple[int, ...]:
    tokens = (image_size // spec.patch_size) ** 2 + 1
    return (spec.hidden_size,) if trainable_blocks == 0 else (tokens, spec.hidden_size)


def split_classifier(keras, model, spec: ViTSpec, trainable_blocks: int):
    """(extractor: images -> frozen features, tail: features -> class probabilities), sharing `model`'s layers."""
    base = model.get_layer(spec.name)
    first = spec.num_layers - trainable_blocks
    frozen_out = base.get_layer(f"Transformer_encoderblock_{first - 1}").output[0]
    if trainable_blocks == 0:
        frozen_out = frozen_out[:, 0]
    extractor = keras.Model(base.input, frozen_out, name="frozen_part")
    inputs = keras.Input(tuple(frozen_out.shape[1:]), name="frozen_features")
    x = inputs
    for i in range(first, spec.num_layers):
        x, _ = base.get_layer(f"Transformer_encoderblock_{i}")(x)
    x = base.get_layer("Transformer_encoder_norm")(x)
    if trainable_blocks > 0:
        x = base.get_layer("ExtractToken")(x)
    if any(layer.name == "pre_logits" for layer in base.layers):
        x = base.get_layer("pre_logits")(x)
    tail = keras.Model(inputs, model.get_layer("head")(x), name="trainable_part")
    return extractor, tail


def compute_features(keras, extractor, split: Split, preprocessing: Preprocessing, batch_size: int, options: FeedOptions) -> np.ndarray:
    """The frozen part's output for every image of `split`, in file order (float32)."""
    data = batches(keras, SplitPixels(split, preprocessing, options), split.labels, np.arange(len(split)), batch_size,
                   FeedOptions(workers=options.workers, cache_bytes=0))
    return np.asarray(extractor.predict(data, verbose=0), dtype=np.float32)


def feature_batches(keras, features: np.ndarray, labels: np.ndarray, order: np.ndarray, batch_size: int):
    """A PyDataset of (features, labels) in `order`, as the image batches are for the normal path."""

    class FeatureBatches(keras.utils.PyDataset):
        def __len__(self):
            return (len(order) + batch_size - 1) // batch_size

        def __getitem__(self, index):
            indices = order[index * batch_size:(index + 1) * batch_size]
            return features[indices], labels[indices]

    return FeatureBatches()
