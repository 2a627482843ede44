"""Small layers the zoo architectures share: a learnable per-channel scale, exact GELU, an MLP."""

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
