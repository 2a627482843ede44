"""The MIL ops the zoo architectures add to the numpy interpreter (ops_sequence, and the ops_cnn ops they share with CNNs), each
checked on a small coremltools-built program against a numpy or Keras reference."""

from __future__ import annotations

import numpy as np
import pytest


def _save(prog, path):
    import coremltools as ct

    model = ct.convert(prog, convert_to="mlprogram", compute_precision=ct.precision.FLOAT32,
                       pass_pipeline=ct.PassPipeline.EMPTY, minimum_deployment_target=ct.target.iOS16)
    model.save(str(path))


def _interpret(path, feeds):
    from edgevit.runners.mil import MilInterpreter

    return MilInterpreter.from_path(path).run(feeds)


def test_sequence_ops(tmp_path):
    import coremltools as ct
    from coremltools.converters.mil import Builder as mb

    table = np.arange(12, dtype=np.float32).reshape(6, 2)
    index = np.array([[5, 0], [-1, 2]], np.int32)

    @mb.program(input_specs=[mb.TensorSpec(shape=(2, 6, 4))], opset_version=ct.target.iOS16)
    def prog(x):
        a, b, c = mb.split(x=x, num_splits=3, axis=1, name="split")
        d, e = mb.split(x=x, split_sizes=[1, 3], axis=-1, name="split_sizes")
        return (
            mb.sigmoid(x=x, name="sigmoid"), a, b, c, d, e,
            mb.stack(values=[x, mb.mul(x=x, y=np.float32(2.0))], axis=1, name="stack"),
            mb.reverse(x=x, axes=[1], name="reverse"),
            mb.gather(x=table, indices=index, axis=0, name="gather"),
            mb.gather(x=x, indices=np.array([3, 1], np.int32), axis=-1, name="gather_last"),
            mb.tile(x=x, reps=[1, 2, 1], name="tile"),
            mb.reduce_sum(x=x, axes=[1], keep_dims=False, name="reduce_sum"),
            mb.reduce_max(x=x, axes=[-1], keep_dims=True, name="reduce_max"),
        )

    _save(prog, tmp_path / "seq.mlpackage")
    x = np.random.default_rng(0).normal(size=(2, 6, 4)).astype(np.float32) * 5
    out = _interpret(tmp_path / "seq.mlpackage", {"x": x})
    expected = {
        "sigmoid": 1 / (1 + np.exp(-x.astype(np.float64))),
        "stack": np.stack([x, 2 * x], axis=1),
        "reverse": x[:, ::-1],
        "gather": table[np.array([[5, 0], [5, 2]])],
        "gather_last": x[..., [3, 1]],
        "tile": np.tile(x, (1, 2, 1)),
        "reduce_sum": x.sum(1),
        "reduce_max": x.max(-1, keepdims=True),
    }
    for name, value in expected.items():
        np.testing.assert_allclose(out[name], value, rtol=1e-5, atol=1e-5, err_msg=name)
    split_outputs = [v for k, v in out.items() if k.startswith("split")]
    assert sorted(v.shape for v in split_outputs) == sorted([(2, 2, 4)] * 3 + [(2, 6, 1), (2, 6, 3)])


def test_lstm_matches_keras(tmp_path):
    """MIL's fused lstm (i, f, o, g gate order) against a Keras LSTM with the same weights."""
    import coremltools as ct
    from coremltools.converters.mil import Builder as mb

    from edgevit.keras_backend import import_keras

    keras = import_keras()
    steps, units, features = 5, 3, 4
    layer = keras.layers.LSTM(units, return_sequences=True)
    x = np.random.default_rng(1).normal(size=(2, steps, features)).astype(np.float32)
    expected = np.asarray(layer(x))
    kernel, recurrent, bias = layer.get_weights()  # Keras gate order i, f, g (c), o

    def mil_order(w):  # (.., 4H) in i, f, g, o -> (4H, ..) in i, f, o, g
        i, f, g, o = np.split(w, 4, axis=-1)
        return np.concatenate([i, f, o, g], axis=-1).T

    @mb.program(input_specs=[mb.TensorSpec(shape=(steps, 2, features))], opset_version=ct.target.iOS16)
    def prog(seq):
        zeros = np.zeros((2, units), np.float32)
        y, h, c = mb.lstm(x=seq, initial_h=zeros, initial_c=zeros, weight_ih=mil_order(kernel), weight_hh=mil_order(recurrent),
                          bias=mil_order(bias[None])[:, 0], output_sequence=True, direction="forward", name="lstm")
        return mb.identity(x=y, name="y")

    _save(prog, tmp_path / "lstm.mlpackage")
    got = _interpret(tmp_path / "lstm.mlpackage", {"seq": x.transpose(1, 0, 2)})["y"]
    np.testing.assert_allclose(got[:, :, :].transpose(1, 0, 2), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pad_type", ["valid", "same"])
def test_pooling_relu_batch_norm_match_keras(tmp_path, pad_type):
    import coremltools as ct
    from coremltools.converters.mil import Builder as mb

    from edgevit.keras_backend import import_keras

    keras = import_keras()
    rng = np.random.default_rng(4)
    x = rng.normal(size=(1, 7, 7, 3)).astype(np.float32)  # NHWC for Keras
    mean, var = rng.normal(size=3).astype(np.float32), rng.uniform(0.5, 2, size=3).astype(np.float32)
    gamma, beta = rng.normal(size=3).astype(np.float32), rng.normal(size=3).astype(np.float32)

    @mb.program(input_specs=[mb.TensorSpec(shape=(1, 3, 7, 7))], opset_version=ct.target.iOS16)
    def prog(x):
        return (
            mb.max_pool(x=x, kernel_sizes=[3, 3], strides=[2, 2], pad_type=pad_type, name="max_pool"),
            mb.avg_pool(x=x, kernel_sizes=[3, 3], strides=[1, 1], pad_type=pad_type,
                        exclude_padding_from_average=True, name="avg_pool"),
            mb.relu(x=x, name="relu"),
            mb.batch_norm(x=x, mean=mean, variance=var, gamma=gamma, beta=beta, epsilon=1e-3, name="batch_norm"),
        )

    _save(prog, tmp_path / "cnn.mlpackage")
    out = _interpret(tmp_path / "cnn.mlpackage", {"x": x.transpose(0, 3, 1, 2)})
    nchw = lambda t: np.asarray(t).transpose(0, 3, 1, 2)
    expected = {
        "max_pool": nchw(keras.layers.MaxPooling2D(3, 2, padding=pad_type)(x)),
        # TF's SAME average pooling divides by the cells inside the image: exclude_padding_from_average.
        "avg_pool": nchw(keras.layers.AveragePooling2D(3, 1, padding=pad_type)(x)),
        "relu": nchw(np.maximum(x, 0)),
        "batch_norm": nchw((x - mean) / np.sqrt(var + 1e-3) * gamma + beta),
    }
    for name, value in expected.items():
        np.testing.assert_allclose(out[name], value, rtol=1e-5, atol=1e-5, err_msg=name)
