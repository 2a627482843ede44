"""Small layers the zoo architectures share: a learnable per-channel scale, exact GELU, an MLP, the MetaFormer block."""

from __future__ import annotations

from edgevit.keras_backend import import_keras

keras = import_keras()


@keras.saving.register_keras_serializable(package="edgevit")
class LayerScale(keras.layers.Layer):
    """x * gamma, gamma per channel, initialised small (CaiT; used by PoolFormer's blocks)."""

    def __init__(self, init_value: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.init_value = init_value

    def build(self, input_shape):
        self.gamma = self.add_weight(
            name="gamma", shape=(input_shape[-1],), initializer=keras.initializers.Constant(self.init_value)
        )

    def call(self, x):
        return x * self.gamma

    def get_config(self):
        return {**super().get_config(), "init_value": self.init_value}


def gelu(x):
    # Exact GELU, as vit-keras uses: the exporters already rewrite its Erfc for ONNX and Core ML.
    return keras.activations.gelu(x, approximate=False)


def mlp(x, hidden: int, out: int, name: str):
    x = keras.layers.Dense(hidden, name=f"{name}_fc1")(x)
    x = keras.layers.Activation(gelu, name=f"{name}_gelu")(x)
    return keras.layers.Dense(out, name=f"{name}_fc2")(x)


def metaformer_block(x, mixer, *, dim: int, mlp_hidden: int, epsilon: float, name: str, mlp_name: str | None = None):
    """norm -> token mixer -> residual, norm -> MLP -> residual: the block MLP-Mixer, Swin and Sequencer2D share
    (they differ only in the mixer, called on the normalised tokens)."""
    y = keras.layers.LayerNormalization(epsilon=epsilon, name=f"{name}_norm1")(x)
    x = keras.layers.Add(name=f"{name}_add1")([x, mixer(y)])
    y = keras.layers.LayerNormalization(epsilon=epsilon, name=f"{name}_norm2")(x)
    y = mlp(y, mlp_hidden, dim, name=mlp_name or f"{name}_mlp")
    return keras.layers.Add(name=f"{name}_add2")([x, y])
