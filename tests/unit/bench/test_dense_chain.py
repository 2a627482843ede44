"""litert_dense_chain: a chain of FULLY_CONNECTED ops, each with its own weights, computes what its weights say."""

from __future__ import annotations

import numpy as np
import pytest

from edgevit.bench.peak import litert_dense_chain, litert_fully_connected


def _run(model: bytes, x: np.ndarray):
    from ai_edge_litert import interpreter as litert

    interpreter = litert.Interpreter(model_content=model, num_threads=1)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    weights = {d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_tensor_details() if d["name"].startswith("w")}
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), weights


def test_a_chain_multiplies_through_every_layer_with_its_own_weights():
    x = np.random.default_rng(3).standard_normal((5, 8), dtype=np.float32)
    out, weights = _run(litert_dense_chain(5, [8, 16, 4, 6], int8=False), x)
    assert sorted(weights) == ["w0", "w1", "w2"]
    assert [w.shape for w in (weights["w0"], weights["w1"], weights["w2"])] == [(16, 8), (4, 16), (6, 4)]  # (width, depth)
    assert not np.array_equal(weights["w0"][:4, :4], weights["w1"][:4, :4])  # distinct weights, not one buffer reused
    expected = x @ weights["w0"].T @ weights["w1"].T @ weights["w2"].T
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_one_layer_is_the_peak_model():
    x = np.random.default_rng(4).standard_normal((3, 8), dtype=np.float32)
    one, _ = _run(litert_fully_connected(3, 8, 16, int8=False), x)
    chain, _ = _run(litert_dense_chain(3, [8, 16], int8=False), x)
    np.testing.assert_array_equal(one, chain)


def test_an_int8_chain_runs_at_its_shapes():
    out, weights = _run(litert_dense_chain(2, [8, 16, 4], int8=True), np.ones((2, 8), np.float32))
    assert out.shape == (2, 4) and np.isfinite(out).all()
    assert weights["w0"].dtype == np.int8


def test_a_chain_needs_a_layer():
    with pytest.raises(ValueError, match="at least one layer"):
        litert_dense_chain(2, [8], int8=False)
