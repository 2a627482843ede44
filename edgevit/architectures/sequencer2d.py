"""Sequencer2D (Tatsunami & Taki 2022): a ViT-like hierarchy whose token mixer is BiLSTM2D: a
bidirectional LSTM down every column (vertical) and one along every row (horizontal), their outputs
concatenated and fused by a linear layer back to the channel count.

The LSTMs are unrolled over their fixed sequence length (the grid side): every converter then sees
a flat graph of matmuls, sigmoids and tanhs. Looped, the same layer reaches TFLite as a builtin
WHILE, but tf2onnx emits a Loop and coremltools a while_loop (control flow that the numpy MIL
interpreter does not run), and quantizers see no per-step ops. models.ZOO records the route in
each artifact's manifest.
"""

from __future__ import annotations

from edgevit.architectures.layers import metaformer_block
from edgevit.keras_backend import import_keras

keras = import_keras()
ops = keras.ops


@keras.saving.register_keras_serializable(package="edgevit")
class BiLSTM2D(keras.layers.Layer):
    """(B, H, W, C) -> (B, H, W, C): vertical and horizontal BiLSTMs of `hidden` units each way, then fusion."""

    def __init__(self, hidden: int, channels: int, unroll: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.channels, self.unroll = hidden, channels, unroll
        lstm = lambda name: keras.layers.Bidirectional(
            keras.layers.LSTM(hidden, return_sequences=True, unroll=unroll), name=name)
        self.vertical = lstm("vertical")
        self.horizontal = lstm("horizontal")
        self.fuse = keras.layers.Dense(channels, name="fuse")

    def build(self, input_shape):
        _, h, w, c = input_shape
        self.vertical.build((None, h, c))
        self.horizontal.build((None, w, c))
        self.fuse.build((None, 4 * self.hidden))

    def call(self, x):
        _, h, w, c = x.shape
        cols = ops.reshape(ops.transpose(x, (0, 2, 1, 3)), (-1, h, c))  # one sequence per column
        v = ops.transpose(ops.reshape(self.vertical(cols), (-1, w, h, 2 * self.hidden)), (0, 2, 1, 3))
        rows = ops.reshape(x, (-1, w, c))  # one sequence per row
        hz = ops.reshape(self.horizontal(rows), (-1, h, w, 2 * self.hidden))
        return self.fuse(ops.concatenate([v, hz], axis=-1))

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden, "channels": self.channels, "unroll": self.unroll}


def build_body(keras, inputs, *, patches: tuple[int, ...], dims: tuple[int, ...], depths: tuple[int, ...],
               hidden: tuple[int, ...], mlp_ratio: int, unroll: bool = True):
    x = inputs
    for s, (patch, dim, depth, units) in enumerate(zip(patches, dims, depths, hidden)):
        # Each stage embeds patches of `patch` tokens (the paper: 7, 2, 1, 1; 1 is a pointwise projection).
        x = keras.layers.Conv2D(dim, patch, strides=patch, name=f"stage{s}_embed")(x)
        for b in range(depth):
            name = f"stage{s}_block{b}"
            x = metaformer_block(x, BiLSTM2D(units, dim, unroll=unroll, name=f"{name}_bilstm2d"), dim=dim,
                                 mlp_hidden=dim * mlp_ratio, epsilon=1e-6, name=name)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    return keras.layers.GlobalAveragePooling2D(name="pool")(x)
