"""PoolFormer (Yu et al. 2022, "MetaFormer is actually what you need"): a hierarchy of stages, each
a strided-conv patch embedding then MetaFormer blocks whose token mixer is pooling:
x + s1 * (AvgPool3x3(GN(x)) - GN(x)), then x + s2 * MLP(GN(x)), GN being GroupNorm with one group
and s1, s2 learnable per-channel layer scales."""

from __future__ import annotations

from edgevit.architectures.layers import LayerScale, mlp


def _norm(keras, x, name):
    return keras.layers.GroupNormalization(groups=1, epsilon=1e-5, name=name)(x)


def build_body(keras, inputs, *, dims: tuple[int, ...], depths: tuple[int, ...], mlp_ratio: int, stem_patch: int):
    x = inputs
    for s, (dim, depth) in enumerate(zip(dims, depths)):
        # Stem: patch `stem_patch`, padding as the paper (7x7 stride 4 at full size); later stages 3x3 stride 2.
        kernel, stride = (2 * stem_patch - 1, stem_patch) if s == 0 else (3, 2)
        x = keras.layers.Conv2D(dim, kernel, strides=stride, padding="same", name=f"stage{s}_embed")(x)
        for b in range(depth):
            name = f"stage{s}_block{b}"
            y = _norm(keras, x, f"{name}_norm1")
            # count_include_pad=False as the paper: TF's SAME average pooling divides by the valid count.
            pooled = keras.layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(y)
            y = keras.layers.Subtract(name=f"{name}_mix")([pooled, y])
            x = keras.layers.Add(name=f"{name}_add1")([x, LayerScale(name=f"{name}_scale1")(y)])
            y = _norm(keras, x, f"{name}_norm2")
            y = mlp(y, dim * mlp_ratio, dim, name=f"{name}_mlp")
            x = keras.layers.Add(name=f"{name}_add2")([x, LayerScale(name=f"{name}_scale2")(y)])
    x = _norm(keras, x, "final_norm")
    return keras.layers.GlobalAveragePooling2D(name="pool")(x)
