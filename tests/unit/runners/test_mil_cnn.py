"""The numpy MIL interpreter's CNN ops (edgevit/runners/mil/ops_cnn.py), each on a small hand-built program,
checked against TensorFlow's own kernels (pooling, batch norm, pad) or the formula of the MIL op reference."""

from __future__ import annotations

import numpy as np
import pytest


def _save(prog, path):
    """An fp32 .mlpackage with no optimisation passes: the ops stay as written."""
    import coremltools as ct

    ct.convert(prog, convert_to="mlprogram", compute_precision=ct.precision.FLOAT32, pass_pipeline=ct.PassPipeline.EMPTY,
               minimum_deployment_target=ct.target.iOS16).save(str(path))


def _interpret(path, feeds):
    from edgevit.runners.mil import MilInterpreter

    return MilInterpreter.from_path(path).run(feeds)


def _nchw(tf_nhwc):
    return np.asarray(tf_nhwc).transpose(0, 3, 1, 2)


def test_activations_and_elementwise(tmp_path):
    import coremltools as ct
    from coremltools.converters.mil import Builder as mb

    alpha = np.array([0.1, 0.2, 0.3], np.float32)

    @mb.program(input_specs=[mb.TensorSpec(shape=(2, 3, 4, 4))], opset_version=ct.target.iOS16)
    def prog(x):
        return (
            mb.relu(x=x, name="relu"),
            mb.relu6(x=x, name="relu6"),
            mb.clip(x=x, alpha=-1.0, beta=2.0, name="clip"),
            mb.sigmoid(x=x, name="sigmoid"),
            mb.sigmoid_hard(x=x, alpha=1.0 / 6, beta=0.5, name="sigmoid_hard"),
            mb.silu(x=x, name="silu"),
            mb.leaky_relu(x=x, alpha=0.2, name="leaky_relu"),
            mb.elu(x=x, alpha=0.5, name="elu"),
            mb.prelu(x=x, alpha=alpha, name="prelu"),
            mb.softplus(x=x, name="softplus"),
            mb.exp(x=x, name="exp"),
            mb.abs(x=x, name="abs"),
            mb.log(x=mb.abs(x=x), name="log"),
            mb.inverse(x=mb.abs(x=x), epsilon=0.5, name="inverse"),
            mb.maximum(x=x, y=np.float32(0.5), name="maximum"),
            mb.minimum(x=x, y=np.float32(0.5), name="minimum"),
            mb.pow(x=mb.abs(x=x), y=np.float32(1.5), name="pow"),
        )

    _save(prog, tmp_path / "act.mlpackage")
    x = np.random.default_rng(0).normal(0, 4, (2, 3, 4, 4)).astype(np.float32)
    out = _interpret(tmp_path / "act.mlpackage", {"x": x})
    x64 = x.astype(np.float64)
    sigmoid = 1 / (1 + np.exp(-x64))
    expected = {
        "relu": np.maximum(x64, 0), "relu6": np.clip(x64, 0, 6), "clip": np.clip(x64, -1, 2), "sigmoid": sigmoid,
        "sigmoid_hard": np.clip(x64 / 6 + 0.5, 0, 1), "silu": x64 * sigmoid, "leaky_relu": np.where(x64 >= 0, x64, 0.2 * x64),
        "elu": np.where(x64 > 0, x64, 0.5 * (np.exp(x64) - 1)),
        "prelu": np.where(x64 >= 0, x64, alpha.reshape(1, 3, 1, 1) * x64), "softplus": np.log1p(np.exp(x64)),
        "exp": np.exp(x64), "abs": np.abs(x64), "log": np.log(np.abs(x64)), "inverse": 1 / (np.abs(x64) + 0.5),
        "maximum": np.maximum(x64, 0.5), "minimum": np.minimum(x64, 0.5), "pow": np.abs(x64) ** 1.5,
    }
    for name, value in expected.items():
        np.testing.assert_allclose(out[name], value, rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("pad_type,pad,ceil_mode,tf_padding", [
    ("valid", None, False, "VALID"),
    ("same", None, False, "SAME"),
    ("custom", [1, 1, 1, 1], False, [[0, 0], [1, 1], [1, 1], [0, 0]]),
    ("valid", None, True, None),
])
def test_pooling_matches_tensorflow(tmp_path, pad_type, pad, ceil_mode, tf_padding):
    import coremltools as ct
    import tensorflow as tf
    from coremltools.converters.mil import Builder as mb

    kwargs = dict(pad=pad) if pad else {}

    @mb.program(input_specs=[mb.TensorSpec(shape=(1, 2, 8, 8))], opset_version=ct.target.iOS16)
    def prog(x):
        return (
            mb.max_pool(x=x, kernel_sizes=[3, 3], strides=[2, 2], pad_type=pad_type, ceil_mode=ceil_mode, name="max", **kwargs),
            mb.avg_pool(x=x, kernel_sizes=[3, 3], strides=[2, 2], pad_type=pad_type, ceil_mode=ceil_mode,
                        exclude_padding_from_average=True, name="avg", **kwargs),
            mb.avg_pool(x=x, kernel_sizes=[3, 3], strides=[2, 2], pad_type=pad_type, ceil_mode=ceil_mode,
                        exclude_padding_from_average=False, name="avg_with_pad", **kwargs),
        )

    _save(prog, tmp_path / "pool.mlpackage")
    x = np.random.default_rng(1).normal(size=(1, 2, 8, 8)).astype(np.float32)
    out = _interpret(tmp_path / "pool.mlpackage", {"x": x})
    nhwc = x.transpose(0, 2, 3, 1)
    if ceil_mode:
        # 8 px, kernel 3, stride 2: 3 windows rounded down, 4 rounded up; the last one holds 2 real pixels a side.
        padded = np.pad(nhwc, ((0, 0), (0, 1), (0, 1), (0, 0)), constant_values=-np.inf)
        np.testing.assert_allclose(out["max"], _nchw(tf.nn.max_pool2d(padded, 3, 2, "VALID")), rtol=1e-6)
        assert out["avg"].shape == (1, 2, 4, 4)
        # Its average divides by the 4 real pixels.
        np.testing.assert_allclose(out["avg"][..., -1, -1], x[..., 6:, 6:].mean(axis=(-1, -2)), rtol=1e-5)
        return
    if pad_type == "custom":
        padded = np.pad(nhwc, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
        np.testing.assert_allclose(out["max"], _nchw(tf.nn.max_pool2d(padded, 3, 2, "VALID")), rtol=1e-6)
        zero_padded = np.pad(nhwc, ((0, 0), (1, 1), (1, 1), (0, 0)))
        np.testing.assert_allclose(out["avg_with_pad"], _nchw(tf.nn.avg_pool2d(zero_padded, 3, 2, "VALID")), rtol=1e-5, atol=1e-6)
        return
    np.testing.assert_allclose(out["max"], _nchw(tf.nn.max_pool2d(nhwc, 3, 2, tf_padding)), rtol=1e-6)
    # TensorFlow's SAME average pooling leaves the padding out of the count (MIL's exclude_padding_from_average).
    np.testing.assert_allclose(out["avg"], _nchw(tf.nn.avg_pool2d(nhwc, 3, 2, tf_padding)), rtol=1e-5, atol=1e-6)
    if pad_type == "valid":
        np.testing.assert_allclose(out["avg_with_pad"], out["avg"], rtol=1e-6)


def test_batch_norm_pad_reductions_split(tmp_path):
    import coremltools as ct
    import tensorflow as tf
    from coremltools.converters.mil import Builder as mb

    rng = np.random.default_rng(2)
    mean, var = rng.normal(size=3).astype(np.float32), rng.uniform(0.5, 2, 3).astype(np.float32)
    gamma, beta = rng.normal(size=3).astype(np.float32), rng.normal(size=3).astype(np.float32)

    @mb.program(input_specs=[mb.TensorSpec(shape=(2, 3, 4, 5))], opset_version=ct.target.iOS16)
    def prog(x):
        return (
            mb.batch_norm(x=x, mean=mean, variance=var, gamma=gamma, beta=beta, epsilon=1e-3, name="batch_norm"),
            mb.instance_norm(x=x, gamma=gamma, beta=beta, epsilon=1e-5, name="instance_norm"),
            mb.pad(x=x, pad=[1, 2, 0, 3], mode="constant", constant_val=0.5, name="pad_constant"),
            mb.pad(x=x, pad=[1, 1, 2, 2], mode="reflect", name="pad_reflect"),
            mb.pad(x=x, pad=[0, 1, 2, 0], mode="replicate", name="pad_replicate"),
            mb.reduce_max(x=x, axes=[2, 3], keep_dims=True, name="reduce_max"),
            mb.reduce_min(x=x, axes=[1], keep_dims=False, name="reduce_min"),
            mb.reduce_sum(x=x, axes=[-1], keep_dims=False, name="reduce_sum"),
            mb.reduce_l2_norm(x=x, axes=[1], keep_dims=True, name="reduce_l2_norm"),
            *mb.split(x=x, split_sizes=[1, 2], axis=1, name="split"),
        )

    _save(prog, tmp_path / "norm.mlpackage")
    x = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    out = _interpret(tmp_path / "norm.mlpackage", {"x": x})
    nhwc = x.transpose(0, 2, 3, 1)
    bn = tf.nn.batch_normalization(nhwc, mean, var, beta, gamma, 1e-3)
    np.testing.assert_allclose(out["batch_norm"], _nchw(bn), rtol=1e-5, atol=1e-5)
    mu, sd = x.mean(axis=(2, 3), keepdims=True), np.sqrt(x.var(axis=(2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(out["instance_norm"], (x - mu) / sd * gamma.reshape(1, 3, 1, 1) + beta.reshape(1, 3, 1, 1),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(out["pad_constant"], np.pad(x, ((0, 0), (0, 0), (1, 2), (0, 3)), constant_values=0.5))
    np.testing.assert_array_equal(out["pad_reflect"], tf.pad(x, [[0, 0], [0, 0], [1, 1], [2, 2]], mode="REFLECT").numpy())
    np.testing.assert_array_equal(out["pad_replicate"], np.pad(x, ((0, 0), (0, 0), (0, 1), (2, 0)), mode="edge"))
    np.testing.assert_array_equal(out["reduce_max"], x.max(axis=(2, 3), keepdims=True))
    np.testing.assert_array_equal(out["reduce_min"], x.min(axis=1))
    np.testing.assert_allclose(out["reduce_sum"], x.sum(axis=-1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["reduce_l2_norm"], np.sqrt((x**2).sum(axis=1, keepdims=True)), rtol=1e-5)
    split_names = sorted(k for k in out if k.startswith("split"))
    assert [out[k].shape for k in split_names] == [(2, 1, 4, 5), (2, 2, 4, 5)]
    np.testing.assert_array_equal(np.concatenate([out[k] for k in split_names], axis=1), x)


def test_unknown_op_cannot_be_verified_through_verify_records_and_report(tmp_path):
    """An op the interpreter lacks: verify says "cannot verify" (not "failed to load"), records and the report too."""
    from edgevit.report.rows import STATUS_LABELS
    from edgevit.records import STATUSES
    from edgevit.runners import CannotVerify, RuntimeUnavailable
    from edgevit.verify.report import _RECORD_STATUS
    from edgevit.verify.results import Status

    assert issubclass(CannotVerify, RuntimeUnavailable)  # bench: "not available" for the numpy runtime
    assert _RECORD_STATUS[Status.CANNOT_VERIFY] == "cannot verify"
    assert "cannot verify" in STATUSES and "cannot verify" in STATUS_LABELS
