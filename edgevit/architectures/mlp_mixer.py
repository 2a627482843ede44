"""MLP-Mixer (Tolstikhin et al. 2021): per-patch embedding, then blocks of token mixing (an MLP
across patches, on the transposed token matrix) and channel mixing (an MLP across channels), each
pre-normed with LayerNorm and residual; global average pooling of the final LayerNorm."""

from __future__ import annotations

from edgevit.architectures.layers import mlp


def build_body(keras, inputs, *, patch_size: int, hidden: int, depth: int, tokens_mlp: int, channels_mlp: int):
    x = keras.layers.Conv2D(hidden, patch_size, strides=patch_size, name="stem")(inputs)
    grid = inputs.shape[1] // patch_size
    tokens = grid * grid
    x = keras.layers.Reshape((tokens, hidden), name="tokens")(x)
    for i in range(depth):
        y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"block{i}_norm1")(x)
        y = keras.layers.Permute((2, 1), name=f"block{i}_to_channels")(y)
        y = mlp(y, tokens_mlp, tokens, name=f"block{i}_token_mlp")
        y = keras.layers.Permute((2, 1), name=f"block{i}_to_tokens")(y)
        x = keras.layers.Add(name=f"block{i}_add1")([x, y])
        y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"block{i}_norm2")(x)
        y = mlp(y, channels_mlp, hidden, name=f"block{i}_channel_mlp")
        x = keras.layers.Add(name=f"block{i}_add2")([x, y])
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    return keras.layers.GlobalAveragePooling1D(name="pool")(x)
