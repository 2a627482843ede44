"""The numpy MIL interpreter: Core ML's program run on Linux as a parity reference.

- Our exported ViTs (fp32, fp16, int8 weights) agree with the SavedModel within their gates.
- Weight decompression equals coremltools' own (decompress_weights) for every compression form.
- Ops compute what the MIL reference says (checked on small hand-built programs against numpy).
- fp16 programs round like fp16; an op it does not know is named in a clear error.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgevit.errors import ModelError
from edgevit.verify.gates import default_gate


@pytest.fixture(scope="module")
def artifacts(tiny_artifacts):
    return tiny_artifacts()


@pytest.fixture(scope="module")
def reference(tiny_run):
    from edgevit.data.folders import load_image_folders
    from edgevit.data.preprocess import preprocess
    from edgevit.manifest import preprocessing_of
    from edgevit.savedmodel.load import LoadedSavedModel

    model = LoadedSavedModel(tiny_run.saved_model)
    spec = preprocessing_of(model.manifest)
    paths = load_image_folders(tiny_run.data_root, splits=("test",)).split("test").paths
    images = np.stack([preprocess(p, spec) for p in paths])
    return images, model.predict(images), list(model.manifest["labels"])


def _run_package(folder, images, labels) -> np.ndarray:
    from edgevit.runners.mil import MilInterpreter

    interpreter = MilInterpreter.from_path(folder / "model.mlpackage")
    rows = []
    for image in images:
        probs = interpreter.run({"images": image[None]})["classLabel_probs"]
        rows.append([probs[label] for label in labels])
    return np.asarray(rows, np.float32)


@pytest.mark.parametrize("quantization", ["fp32", "fp16", "int8"])
def test_exported_vit_agrees_with_savedmodel_within_gate(artifacts, reference, quantization):
    images, expected, labels = reference
    got = _run_package(artifacts / f"coreml-{quantization}", images, labels)
    gate = default_gate("coreml", quantization)
    max_abs = float(np.abs(got - expected).max())
    agreement = float(np.mean(got.argmax(1) == expected.argmax(1)))
    if gate.max_abs_error is not None:
        assert max_abs <= gate.max_abs_error, max_abs
    if gate.min_agreement is not None:
        assert agreement >= gate.min_agreement, agreement
    # fp16 must not look like fp32: the rounding is really there.
    if quantization == "fp16":
        assert max_abs > 1e-6
    assert np.allclose(got.sum(axis=1), 1.0, atol=1e-3)


def test_every_exported_vit_op_is_supported(artifacts):
    from edgevit.runners.mil import SUPPORTED_OPS, load_program

    for quantization in ("fp32", "fp16", "int8", "palettize6", "palettize4"):
        program = load_program(artifacts / f"coreml-{quantization}" / "model.mlpackage")
        assert set(program.op_types) <= set(SUPPORTED_OPS), (quantization, set(program.op_types) - set(SUPPORTED_OPS))
        assert program.op_types["matmul"] > 0 and program.op_types["erf"] > 0


# ---------------------------------------------------------------------------------------------
# Small hand-built programs


def _save(prog, path, *, precision="fp32", target=None):
    """Convert a MIL program to an .mlpackage with no optimisation passes: the ops stay as written."""
    import coremltools as ct

    model = ct.convert(
        prog,
        convert_to="mlprogram",
        compute_precision=ct.precision.FLOAT32 if precision == "fp32" else ct.precision.FLOAT16,
        pass_pipeline=ct.PassPipeline.EMPTY if precision == "fp32" else ct.PassPipeline.DEFAULT,
        minimum_deployment_target=target or ct.target.iOS16,
    )
    model.save(str(path))
    return model


def _interpret(path, feeds):
    from edgevit.runners.mil import MilInterpreter

    return MilInterpreter.from_path(path).run(feeds)


def _weights(path) -> dict[str, np.ndarray]:
    """The interpreter's constants (decompressed weights included), by variable name."""
    from edgevit.runners.mil import MilInterpreter

    return MilInterpreter.from_path(path)._constants


COMPRESSIONS = {
    "int8-symmetric-ios16": ("quantize", dict(mode="linear_symmetric", dtype="int8"), 16),
    "uint8-asymmetric-ios16": ("quantize", dict(mode="linear", dtype="uint8"), 16),
    "int8-per-block-ios18": ("quantize", dict(mode="linear", dtype="int8", granularity="per_block", block_size=16), 18),
    "int4-per-block-ios18": ("quantize", dict(mode="linear_symmetric", dtype="int4", granularity="per_block", block_size=32), 18),
    "palettize4-ios16": ("palettize", dict(mode="kmeans", nbits=4), 16),
    "palettize6-ios16": ("palettize", dict(mode="kmeans", nbits=6), 16),
    "palettize2-ios16": ("palettize", dict(mode="uniform", nbits=2), 16),
    "palettize4-grouped-ios18": ("palettize", dict(mode="kmeans", nbits=4, granularity="per_grouped_channel", group_size=16), 18),
}


@pytest.mark.parametrize("name", sorted(COMPRESSIONS))
def test_decompressed_weights_equal_coremltools(tmp_path, name):
    import coremltools as ct
    import coremltools.optimize.coreml as cto
    from coremltools.converters.mil import Builder as mb

    kind, config, ios = COMPRESSIONS[name]
    target = getattr(ct.target, f"iOS{ios}")
    rng = np.random.default_rng(1)
    weight = rng.normal(size=(64, 96)).astype(np.float32)

    @mb.program(input_specs=[mb.TensorSpec(shape=(2, 96))], opset_version=target)
    def prog(x):
        return mb.linear(x=x, weight=weight, name="y")

    model = _save(prog, tmp_path / "plain.mlpackage", target=target)
    if kind == "quantize":
        op_config = cto.OpLinearQuantizerConfig(weight_threshold=100, **config)
        compressed = cto.linear_quantize_weights(model, cto.OptimizationConfig(global_config=op_config))
    else:
        op_config = cto.OpPalettizerConfig(weight_threshold=100, **config)
        compressed = cto.palettize_weights(model, cto.OptimizationConfig(global_config=op_config))
    compressed.save(str(tmp_path / "compressed.mlpackage"))
    cto.decompress_weights(compressed).save(str(tmp_path / "decompressed.mlpackage"))

    from edgevit.runners.mil import load_program

    constexpr = [op.type for op in load_program(tmp_path / "compressed.mlpackage").operations if op.type.startswith("constexpr")]
    assert len(constexpr) == 1, constexpr
    ours = [v for v in _weights(tmp_path / "compressed.mlpackage").values() if np.shape(v) == (64, 96)]
    theirs = [v for v in _weights(tmp_path / "decompressed.mlpackage").values() if np.shape(v) == (64, 96)]
    assert len(ours) == 1 and len(theirs) == 1
    np.testing.assert_array_equal(ours[0], theirs[0])
    # And it is really compressed: close to the original, not equal to it.
    error = np.abs(ours[0] - weight).max()
    assert 0 < error < np.abs(weight).max() / 2
    x = rng.normal(size=(2, 96)).astype(np.float32)
    got = _interpret(tmp_path / "compressed.mlpackage", {"x": x})["y"]
    np.testing.assert_allclose(got, x @ theirs[0].T, rtol=1e-5, atol=1e-5)


def test_unpack_bits_least_significant_first():
    from edgevit.runners.mil.decompress import unpack_bits

    # 0xBD = 1011 1101: the low nibble (13) comes first.
    assert unpack_bits(np.array([0xBD], np.uint8), 4, 2).tolist() == [13, 11]
    # Four 6-bit values 1, 2, 3, 63 packed LSB first: bits 100000 010000 110000 111111.
    values = [1, 2, 3, 63]
    bits = np.concatenate([[(v >> k) & 1 for k in range(6)] for v in values]).astype(np.uint8)
    packed = np.packbits(bits, bitorder="little")
    assert unpack_bits(packed, 6, 4).tolist() == values


def test_fp16_program_rounds_every_result_to_fp16(tmp_path):
    import coremltools as ct
    from coremltools.converters.mil import Builder as mb

    def program():  # a fresh one per conversion: ct.convert rewrites the program it is given
        @mb.program(input_specs=[mb.TensorSpec(shape=(1, 3))], opset_version=ct.target.iOS16)
        def prog(x):
            return mb.add(x=x, y=np.float32(1e-4), name="y")

        return prog

    x = np.array([[1.0, 2048.0, 0.1]], np.float32)
    _save(program(), tmp_path / "fp16.mlpackage", precision="fp16")
    got = _interpret(tmp_path / "fp16.mlpackage", {"x": x})["y"]
    # fp16 steps are 2^-10 near 1 and 2 near 2048: adding 1e-4 changes neither.
    expected = (x.astype(np.float16) + np.float16(1e-4)).astype(np.float32)
    np.testing.assert_array_equal(got, expected)
    assert got[0, 0] == 1.0 and got[0, 1] == 2048.0
    _save(program(), tmp_path / "fp32.mlpackage", precision="fp32")
    got32 = _interpret(tmp_path / "fp32.mlpackage", {"x": x})["y"]
    assert got32[0, 0] == np.float32(1.0001)


def test_unsupported_op_is_named(tmp_path):
    import coremltools as ct
    from coremltools.converters.mil import Builder as mb

    from edgevit.runners.mil import MilInterpreter

    @mb.program(input_specs=[mb.TensorSpec(shape=(2, 3))], opset_version=ct.target.iOS16)
    def prog(x):
        return mb.sin(x=mb.atan(x=x), name="y")

    _save(prog, tmp_path / "sin.mlpackage")
    from edgevit.runners import CannotVerify

    # Not "failed to load": the model may be fine, this machine's reference cannot run it.
    with pytest.raises(CannotVerify, match=r"^cannot verify Core ML here: op atan, sin ") as info:
        MilInterpreter.from_path(tmp_path / "sin.mlpackage")
    assert "\n" not in str(info.value) and isinstance(info.value, ModelError)


def _gelu_exact(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def test_elementwise_and_normalisation_ops(tmp_path):
    import coremltools as ct
    from coremltools.converters.mil import Builder as mb

    rng = np.random.default_rng(2)
    gamma = rng.normal(size=(8,)).astype(np.float32)
    beta = rng.normal(size=(8,)).astype(np.float32)

    @mb.program(input_specs=[mb.TensorSpec(shape=(2, 3, 8))], opset_version=ct.target.iOS16)
    def prog(x):
        return (
            mb.gelu(x=x, mode="EXACT", name="gelu_exact"),
            mb.gelu(x=x, mode="TANH_APPROXIMATION", name="gelu_tanh"),
            mb.gelu(x=x, mode="SIGMOID_APPROXIMATION", name="gelu_sigmoid"),
            mb.erf(x=x, name="erf"),
            mb.layer_norm(x=x, axes=[-1], gamma=gamma, beta=beta, epsilon=1e-5, name="layer_norm"),
            mb.softmax(x=x, axis=1, name="softmax"),
            mb.reduce_mean(x=x, axes=[0, 2], keep_dims=True, name="reduce_mean"),
            mb.rsqrt(x=mb.square(x=x), epsilon=0.5, name="rsqrt"),
            mb.real_div(x=x, y=np.float32(4.0), name="real_div"),
            mb.sqrt(x=mb.square(x=x), name="sqrt"),
            mb.tanh(x=x, name="tanh"),
            mb.sub(x=x, y=mb.mul(x=x, y=np.float32(3.0)), name="sub_mul"),
        )

    _save(prog, tmp_path / "ops.mlpackage")
    x = rng.normal(size=(2, 3, 8)).astype(np.float32)
    out = _interpret(tmp_path / "ops.mlpackage", {"x": x})
    x64 = x.astype(np.float64)
    mean = x64.mean(-1, keepdims=True)
    var = x64.var(-1, keepdims=True)
    e = np.exp(x64 - x64.max(1, keepdims=True))
    expected = {
        "gelu_exact": _gelu_exact(x64),
        "gelu_tanh": 0.5 * x64 * (1 + np.tanh(math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64**3))),
        "gelu_sigmoid": x64 / (1 + np.exp(-1.702 * x64)),
        "erf": np.vectorize(math.erf)(x64),
        "layer_norm": (x64 - mean) / np.sqrt(var + 1e-5) * gamma + beta,
        "softmax": e / e.sum(1, keepdims=True),
        "reduce_mean": x64.mean(axis=(0, 2), keepdims=True),
        "rsqrt": 1 / np.sqrt(x64**2 + 0.5),
        "real_div": x64 / 4,
        "sqrt": np.abs(x64),
        "tanh": np.tanh(x64),
        "sub_mul": -2 * x64,
    }
    for name, value in expected.items():
        np.testing.assert_allclose(out[name], value, rtol=1e-5, atol=1e-5, err_msg=name)


def test_shape_ops(tmp_path):
    import coremltools as ct
    from coremltools.converters.mil import Builder as mb

    @mb.program(input_specs=[mb.TensorSpec(shape=(2, 3, 4))], opset_version=ct.target.iOS16)
    def prog(x):
        expanded = mb.expand_dims(x=x, axes=[1], name="expand_dims")
        return (
            expanded,
            mb.squeeze(x=expanded, axes=[1], name="squeeze"),
            mb.reshape(x=x, shape=[0, -1, 2], name="reshape"),
            mb.transpose(x=x, perm=[2, 0, 1], name="transpose"),
            mb.concat(values=[x, x], axis=1, name="concat"),
            mb.slice_by_index(x=x, begin=[0, 1, 0], end=[2, 3, 4], stride=[1, 1, 2], begin_mask=[True, False, False],
                              end_mask=[True, False, True], squeeze_mask=[False, False, False], name="slice"),
            mb.slice_by_index(x=x, begin=[1, 0, 0], end=[2, 3, 4], squeeze_mask=[True, False, False], name="slice_squeeze"),
            mb.matmul(x=x, y=x, transpose_y=True, name="matmul"),
            mb.matmul(x=x, y=x, transpose_x=True, name="matmul_tx"),
            mb.identity(x=x, name="identity"),
        )

    _save(prog, tmp_path / "shapes.mlpackage")
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7
    out = _interpret(tmp_path / "shapes.mlpackage", {"x": x})
    expected = {
        "reshape": x.reshape(2, 6, 2),
        "transpose": x.transpose(2, 0, 1),
        "concat": np.concatenate([x, x], axis=1),
        "slice": x[:, 1:3, 0::2],
        "slice_squeeze": x[1],
        "expand_dims": x[:, None],
        "squeeze": x,
        "matmul": x @ x.transpose(0, 2, 1),
        "matmul_tx": x.transpose(0, 2, 1) @ x,
        "identity": x,
    }
    for name, value in expected.items():
        np.testing.assert_allclose(out[name], value, rtol=1e-6, atol=1e-6, err_msg=name)


def _conv_reference(x, w, b, stride, pads, dilation, groups):
    """Direct loops: out[n, o, i, j] = b[o] + sum over c, ki, kj of x_padded * w."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[1]), (pads[2], pads[3])))
    oh = (xp.shape[2] - ((kh - 1) * dilation + 1)) // stride + 1
    ow = (xp.shape[3] - ((kw - 1) * dilation + 1)) // stride + 1
    out = np.zeros((n, o, oh, ow))
    per_group = o // groups
    for oc in range(o):
        g = oc // per_group
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, g * cg:(g + 1) * cg, i * stride:i * stride + (kh - 1) * dilation + 1:dilation,
                           j * stride:j * stride + (kw - 1) * dilation + 1:dilation]
                out[:, oc, i, j] = (patch * w[oc]).sum(axis=(1, 2, 3)) + b[oc]
    return out


@pytest.mark.parametrize(
    "pad_type,pad,stride,dilation,groups,expected_pads",
    [
        ("valid", None, 2, 1, 1, [0, 0, 0, 0]),
        ("same", None, 2, 1, 2, [0, 1, 0, 1]),
        ("custom", [1, 0, 2, 1], 1, 2, 1, [1, 0, 2, 1]),
    ],
)
def test_conv(tmp_path, pad_type, pad, stride, dilation, groups, expected_pads):
    import coremltools as ct
    from coremltools.converters.mil import Builder as mb

    from edgevit.runners.mil.ops import _conv_pads

    rng = np.random.default_rng(3)
    w = rng.normal(size=(4, 4 // groups, 3, 3)).astype(np.float32)
    b = rng.normal(size=(4,)).astype(np.float32)
    kwargs = dict(pad=pad) if pad else {}

    @mb.program(input_specs=[mb.TensorSpec(shape=(1, 4, 8, 8))], opset_version=ct.target.iOS16)
    def prog(x):
        return mb.conv(x=x, weight=w, bias=b, strides=[stride, stride], pad_type=pad_type, dilations=[dilation, dilation],
                       groups=groups, name="y", **kwargs)

    _save(prog, tmp_path / "conv.mlpackage")
    pads = _conv_pads(pad_type, pad, (8, 8), (3, 3), [stride, stride], [dilation, dilation])
    # "same" with 8 px, kernel 3, stride 2: output 4, needs (4-1)*2+3-8 = 1 pixel: 0 before, 1 after.
    assert pads == expected_pads
    x = rng.normal(size=(1, 4, 8, 8)).astype(np.float32)
    got = _interpret(tmp_path / "conv.mlpackage", {"x": x})["y"]
    np.testing.assert_allclose(got, _conv_reference(x, w, b, stride, pads, dilation, groups), rtol=1e-5, atol=1e-5)


def test_input_shape_is_checked(artifacts):
    from edgevit.runners.mil import MilInterpreter

    interpreter = MilInterpreter.from_path(artifacts / "coreml-fp32" / "model.mlpackage")
    with pytest.raises(ModelError, match=r"input 'images' must have shape \[1, 32, 32, 3\], got \[2, 32, 32, 3\]"):
        interpreter.run({"images": np.zeros((2, 32, 32, 3), np.float32)})


def test_damaged_package_is_a_clear_error(tmp_path):
    from edgevit.runners.mil import load_program

    package = tmp_path / "broken.mlpackage"
    package.mkdir()
    (package / "Manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="not a readable .mlpackage"):
        load_program(package)
