"""Swin Transformer (Liu et al. 2021): patch embedding, stages of blocks that alternate window
attention (W-MSA) and shifted-window attention (SW-MSA) with a learned relative position bias,
and patch merging between stages.

Written for converters: the cyclic shift is two slices and a concat (no `roll`, which TFLite has no
builtin for), the shifted-window mask and the relative-position index are numpy constants computed
at build time, and every reshape keeps the batch as its only dynamic dimension.
"""

from __future__ import annotations

import numpy as np

from edgevit.architectures.layers import metaformer_block
from edgevit.keras_backend import import_keras

keras = import_keras()
ops = keras.ops


def relative_position_index(window: int) -> np.ndarray:
    """(w*w, w*w) index into the (2w-1)^2 bias table, as the paper's reference code builds it."""
    coords = np.stack(np.meshgrid(np.arange(window), np.arange(window), indexing="ij")).reshape(2, -1)
    rel = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0) + (window - 1)
    return (rel[..., 0] * (2 * window - 1) + rel[..., 1]).astype(np.int32)


def shifted_window_mask(grid: int, window: int, shift: int) -> np.ndarray:
    """(windows, w*w, w*w) additive mask: -100 between tokens that the cyclic shift brought from different regions."""
    regions = np.zeros((grid, grid), np.int32)
    cuts = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    label = 0
    for h in cuts:
        for w in cuts:
            regions[h, w] = label
            label += 1
    windows = regions.reshape(grid // window, window, grid // window, window).transpose(0, 2, 1, 3).reshape(-1, window * window)
    return np.where(windows[:, :, None] != windows[:, None, :], -100.0, 0.0).astype(np.float32)


def cyclic_shift(x, shift: int):
    """roll(x, (-shift, -shift), axes (1, 2)) as slices and concats, which every converter takes."""
    x = ops.concatenate([x[:, shift:], x[:, :shift]], axis=1)
    return ops.concatenate([x[:, :, shift:], x[:, :, :shift]], axis=2)


@keras.saving.register_keras_serializable(package="edgevit")
class WindowAttention(keras.layers.Layer):
    """Multi-head self-attention inside non-overlapping windows of a (B, H, W, C) map, optionally shifted."""

    def __init__(self, dim: int, heads: int, window: int, shift: int, grid: int, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.heads, self.window, self.shift, self.grid = dim, heads, window, shift, grid
        self.qkv = keras.layers.Dense(3 * dim, name="qkv")
        self.proj = keras.layers.Dense(dim, name="proj")
        self.index = relative_position_index(window)
        self.mask = shifted_window_mask(grid, window, shift) if shift else None

    def build(self, input_shape):
        self.bias_table = self.add_weight(
            name="relative_position_bias", shape=((2 * self.window - 1) ** 2, self.heads),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        )
        self.qkv.build((None, self.dim))
        self.proj.build((None, self.dim))

    def call(self, x):
        g, w, c, h = self.grid, self.window, self.dim, self.heads
        n, tokens, head_dim = g // w, w * w, self.dim // self.heads
        if self.shift:
            x = cyclic_shift(x, self.shift)
        # Window partition: (B, g, g, C) -> (B * n * n, w * w, C).
        x = ops.reshape(x, (-1, n, w, n, w, c))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        x = ops.reshape(x, (-1, tokens, c))
        qkv = ops.reshape(self.qkv(x), (-1, tokens, 3, h, head_dim))
        qkv = ops.transpose(qkv, (2, 0, 3, 1, 4))
        q, k, v = qkv[0], qkv[1], qkv[2]
        logits = ops.matmul(q * (head_dim ** -0.5), ops.transpose(k, (0, 1, 3, 2)))
        bias = ops.take(self.bias_table, self.index.reshape(-1), axis=0)
        logits = logits + ops.transpose(ops.reshape(bias, (tokens, tokens, h)), (2, 0, 1))
        if self.mask is not None:
            logits = ops.reshape(logits, (-1, n * n, h, tokens, tokens)) + self.mask[None, :, None]
            logits = ops.reshape(logits, (-1, h, tokens, tokens))
        y = ops.matmul(ops.softmax(logits, axis=-1), v)
        y = ops.reshape(ops.transpose(y, (0, 2, 1, 3)), (-1, tokens, c))
        y = self.proj(y)
        # Window reverse, then undo the shift.
        y = ops.reshape(y, (-1, n, n, w, w, c))
        y = ops.reshape(ops.transpose(y, (0, 1, 3, 2, 4, 5)), (-1, g, g, c))
        if self.shift:
            y = cyclic_shift(y, g - self.shift)
        return y

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "heads": self.heads, "window": self.window,
                "shift": self.shift, "grid": self.grid}


def patch_merging(x, dim: int, name: str):
    """2x2 neighbouring tokens concatenated (4C), LayerNorm, linear to 2C: halves the grid."""
    x = keras.layers.Concatenate(name=f"{name}_gather")([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]])
    x = keras.layers.LayerNormalization(epsilon=1e-5, name=f"{name}_norm")(x)
    return keras.layers.Dense(2 * dim, use_bias=False, name=f"{name}_reduce")(x)


def build_body(keras, inputs, *, patch_size: int, dims: tuple[int, ...], depths: tuple[int, ...],
               heads: tuple[int, ...], window: int, mlp_ratio: int):
    x = keras.layers.Conv2D(dims[0], patch_size, strides=patch_size, name="patch_embed")(inputs)
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="patch_norm")(x)
    grid = inputs.shape[1] // patch_size
    for s, (dim, depth, head) in enumerate(zip(dims, depths, heads)):
        if s > 0:
            x = patch_merging(x, dims[s - 1], name=f"stage{s}_merge")
            grid //= 2
        win = min(window, grid)  # the paper: no window larger than the map, and then no shift
        for b in range(depth):
            name = f"stage{s}_block{b}"
            shift = win // 2 if b % 2 == 1 and grid > win else 0
            x = metaformer_block(x, WindowAttention(dim, head, win, shift, grid, name=f"{name}_attn"), dim=dim,
                                 mlp_hidden=dim * mlp_ratio, epsilon=1e-5, name=name)
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    return keras.layers.GlobalAveragePooling2D(name="pool")(x)
