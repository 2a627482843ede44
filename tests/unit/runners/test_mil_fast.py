"""The numpy MIL interpreter's speed-ups change no number.

- round_to_fp16 equals numpy's astype(float16).astype(float32) bit for bit: on every edge of the
  fast path (ties, subnormals, overflow, zeros, infinities, NaN) and on a million random bit patterns.
  (All 2**32 float32 patterns were checked once offline, with no difference.)
- erf on fp16 inputs by table equals scipy's erf on every fp16 value.
- The exported ViTs' Core ML programs give bitwise the same outputs, and every intermediate value,
  as the interpreter with numpy's cast after every op, no rounding skipped and no table.
- The Core ML runner's predictions on several threads are bitwise those on one.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgevit.runners.mil.fp16 import round_to_fp16, unary_on_fp16


def _numpy_cast(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).astype(np.float16).astype(np.float32)


def _assert_same_bits(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.dtype == np.float32 and got.shape == expected.shape
    mismatch = got.view(np.uint32) != expected.view(np.uint32)
    assert not mismatch.any(), list(zip(expected[mismatch][:5], got[mismatch][:5]))


def _edge_bits() -> np.ndarray:
    """Bit patterns around every boundary of the fast path, both signs."""
    centres = np.array([
        0x00000000, 0x00000001, 0x33000000, 0x33800000,  # zero, float32 subnormal, around 2**-25 and 2**-24 (fp16 subnormals)
        0x387FC000, 0x387FE000, 0x387FF000, 0x38800000, 0x38801000,  # just below and at 2**-14 (smallest fp16 normal)
        0x3F800000, 0x3F801000, 0x3F803000, 0x3F802000,  # 1 and its ties: halfway to the next fp16, odd and even
        0x477FE000, 0x477FEFFF, 0x477FF000, 0x477FF001, 0x47800000,  # 65504 (largest fp16), 65520 (rounds to inf)
        0x7F7FFFFF, 0x7F800000, 0x7FC00000, 0x7F800001, 0x7FFFFFFF,  # largest float32, inf, NaNs
    ], dtype=np.int64)
    around = (centres[:, None] + np.arange(-4100, 4101)[None, :]).reshape(-1) % (1 << 31)
    return np.concatenate([around, around | (1 << 31)]).astype(np.uint32)


@pytest.mark.parametrize("source", ["edges", "random"])
def test_round_to_fp16_equals_numpys_cast(source):
    if source == "edges":
        bits = _edge_bits()
    else:
        bits = np.random.default_rng(0).integers(0, 1 << 32, size=1 << 20, dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    _assert_same_bits(round_to_fp16(values), _numpy_cast(values))


def test_round_to_fp16_keeps_layout_and_input():
    values = (np.random.default_rng(1).standard_normal((4, 300, 5)) * 1000).astype(np.float32)
    before = values.copy()
    for view in (values, values.transpose(2, 0, 1), values[:, ::3], values[:2, :, 1]):
        got = round_to_fp16(view)
        _assert_same_bits(got, _numpy_cast(view))
        assert got.strides == _numpy_cast(view).strides  # the memory order numpy's cast gives (matmul may depend on it)
    np.testing.assert_array_equal(values, before)
    _assert_same_bits(round_to_fp16(np.float64(1.0001)), _numpy_cast(np.float64(1.0001)))


def test_erf_table_equals_erf_on_every_fp16_value():
    from edgevit.runners.mil.ops import erf

    every_fp16 = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)
    shuffled = np.random.default_rng(4).permutation(every_fp16).reshape(256, 256)
    with np.errstate(all="ignore"):
        for values in (every_fp16, shuffled, shuffled[::2, 1::3], every_fp16[:7]):
            _assert_same_bits(unary_on_fp16(erf)(values), erf(values))


@pytest.fixture(scope="module")
def artifacts(tiny_artifacts):
    return tiny_artifacts()


@pytest.mark.parametrize("quantization", ["fp16", "int8", "palettize4"])
def test_exported_vit_is_bitwise_as_with_numpys_cast(artifacts, quantization):
    """Fast rounding + skipped rounding of data movement vs numpy's cast after every op: every value identical."""
    import edgevit.runners.mil.interpreter as interpreter_module
    from edgevit.runners.mil import MilInterpreter

    path = artifacts / f"coreml-{quantization}" / "model.mlpackage"
    interpreter, reference = MilInterpreter.from_path(path), MilInterpreter.from_path(path, fast=False)
    assert any(interpreter._fp16_already), "no data movement op was found to skip rounding on"
    assert not any(reference._fp16_already)
    if quantization == "fp16":
        assert any(h is not interpreter_module.OPS[op.type] for op, h in zip(interpreter._steps, interpreter._handlers))
    keep = {spec.name for op in interpreter._steps for spec in op.outputs}
    images = np.random.default_rng(2).uniform(-1, 1, (2, *interpreter.program.inputs[0].shape[1:])).astype(np.float32)
    fast = [interpreter.run_keeping({"images": image[None]}, keep) for image in images]
    slow = [reference.run_keeping({"images": image[None]}, keep) for image in images]

    for (fast_out, fast_kept), (slow_out, slow_kept) in zip(fast, slow):
        assert fast_out.keys() == slow_out.keys() and fast_kept.keys() == slow_kept.keys()
        for name, expected in {**slow_out, **slow_kept}.items():
            got = {**fast_out, **fast_kept}[name]
            if isinstance(expected, np.ndarray) and expected.dtype == np.float32:
                _assert_same_bits(got, expected)
                assert got.strides == expected.strides, name
            else:
                assert repr(got) == repr(expected), name


def test_runner_threads_give_the_one_thread_results(artifacts):
    from edgevit.runners import open_runner

    images = np.random.default_rng(3).uniform(-1, 1, (5, 32, 32, 3)).astype(np.float32)
    outputs = {}
    for threads in (1, 2, 3):
        runner = open_runner("coreml-mil-numpy", artifacts / "coreml-fp16", threads=threads)
        assert runner.info.threads == threads
        outputs[threads] = runner.predict(images)
        runner.close()
    assert outputs[1].shape[0] == 5 and np.allclose(outputs[1].sum(axis=1), 1.0, atol=1e-3)
    assert outputs[1].tobytes() == outputs[2].tobytes() == outputs[3].tobytes()
