"""MLP-Mixer (Tolstikhin et al. 2021): per-patch embedding, then blocks of token mixing (an MLP
across patches, on the transposed token matrix) and channel mixing (an MLP across channels), each
pre-normed with LayerNorm and residual; global average pooling of the final LayerNorm."""

from __future__ import annotations

from edgevit.architectures.layers import metaformer_block, mlp


def build_body(keras, inputs, *, patch_size: int, hidden: int, depth: int, tokens_mlp: int, channels_mlp: int):
    x = keras.layers.Conv2D(hidden, patch_size, strides=patch_size, name="stem")(inputs)
    grid = inputs.shape[1] // patch_size
    tokens = grid * grid
    x = keras.layers.Reshape((tokens, hidden), name="tokens")(x)
    for i in range(depth):
        def token_mixing(y, i=i):
            y = keras.layers.Permute((2, 1), name=f"block{i}_to_channels")(y)
            y = mlp(y, tokens_mlp, tokens, name=f"block{i}_token_mlp")
            return keras.layers.Permute((2, 1), name=f"block{i}_to_tokens")(y)

        x = metaformer_block(x, token_mixing, dim=hidden, mlp_hidden=channels_mlp, epsilon=1e-6, name=f"block{i}",
                             mlp_name=f"block{i}_channel_mlp")
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    return keras.layers.GlobalAveragePooling1D(name="pool")(x)
