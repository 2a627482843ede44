"""Parity statistics, gates and golden vectors on hand-made arrays with known answers (no model)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edgevit.errors import UsageError
from edgevit.formats import Gate
from edgevit.verify.gates import default_gate, gate_failures, gate_for, read_gate_overrides
from edgevit.verify.metrics import abs_errors, accuracy, accuracy_difference, agreement, mcnemar_exact_p, mean_kl_divergence, top1


def test_accuracy_agreement_and_abs_errors():
    reference = np.array([[0.5, 0.3, 0.2], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.7, 0.2, 0.1]])
    artifact = np.array([[0.4, 0.45, 0.15], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.7, 0.1, 0.2]])
    labels = np.array([0, 1, 1, 0])
    assert top1(reference).tolist() == [0, 1, 2, 0] and top1(artifact).tolist() == [1, 1, 2, 0]
    assert accuracy(top1(reference), labels) == 0.75
    assert accuracy(top1(artifact), labels) == 0.5
    assert agreement(top1(reference), top1(artifact)) == 0.75
    max_abs, mean_abs = abs_errors(reference, artifact)
    assert max_abs == pytest.approx(0.15)
    assert mean_abs == pytest.approx((0.1 + 0.15 + 0.05 + 0.1 + 0.1) / 12)


def test_kl_divergence_known_values():
    p = np.array([[0.5, 0.5], [0.25, 0.75]])
    q = np.array([[0.9, 0.1], [0.25, 0.75]])
    expected_first = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)  # 0.5108 nats
    assert mean_kl_divergence(p, q) == pytest.approx(expected_first / 2, rel=1e-9)
    assert mean_kl_divergence(p, p) == pytest.approx(0.0, abs=1e-15)
    # A hard zero where the reference has mass is clipped, not infinite.
    assert math.isfinite(mean_kl_divergence(np.array([[0.5, 0.5]]), np.array([[1.0, 0.0]])))


def test_mcnemar_exact_known_values():
    assert mcnemar_exact_p(0, 0) == 1.0
    assert mcnemar_exact_p(10, 0) == pytest.approx(2 / 1024)
    assert mcnemar_exact_p(3, 5) == pytest.approx(2 * (1 + 8 + 28 + 56) / 256)
    assert mcnemar_exact_p(5, 3) == mcnemar_exact_p(3, 5)
    # 1,100 discordant pairs (2**1100 overflows a float): normal approximation with continuity correction 0.0028.
    assert 0.0025 < mcnemar_exact_p(600, 500) < 0.0032


def test_accuracy_difference_without_discordant_pairs_is_exactly_zero():
    correct = np.array([True, False, True, True])
    diff = accuracy_difference(correct, correct)
    assert (diff.points, diff.low, diff.high, diff.improved, diff.worsened, diff.mcnemar_p) == (0.0, 0.0, 0.0, 0, 0, 1.0)


def test_accuracy_difference_interval_matches_the_normal_approximation():
    # 2,625 images (the birds test split): the artifact fixes 30 and breaks 50.
    n, improved, worsened = 2625, 30, 50
    reference = np.ones(n, bool)
    artifact = np.ones(n, bool)
    reference[:improved] = False
    artifact[improved:improved + worsened] = False
    diff = accuracy_difference(reference, artifact)
    assert (diff.improved, diff.worsened) == (improved, worsened)
    assert diff.points == pytest.approx(-20 / n * 100)
    d = np.concatenate([np.ones(improved), -np.ones(worsened), np.zeros(n - improved - worsened)])
    half_width = 1.96 * d.std() / math.sqrt(n) * 100  # 0.667 points
    assert diff.low == pytest.approx(diff.points - half_width, abs=0.08)
    assert diff.high == pytest.approx(diff.points + half_width, abs=0.08)
    assert accuracy_difference(reference, artifact) == diff  # fixed seed: reproducible
    assert diff.mcnemar_p == pytest.approx(mcnemar_exact_p(30, 50))
    with pytest.raises(ValueError):
        accuracy_difference(np.ones(3, bool), np.ones(4, bool))


def test_gate_failures_say_which_metric_and_by_how_much():
    gate = Gate(min_agreement=0.995, max_accuracy_drop=0.3, max_abs_error=0.01)
    assert gate_failures(gate, agreement=0.996, accuracy_drop=0.3, max_abs_error=0.01, flips=4, count=1000) == []
    failures = gate_failures(gate, agreement=0.9, accuracy_drop=1.0, max_abs_error=0.025, flips=100, count=1000)
    assert failures == [
        "top-1 agreement 90.00% is below the gate's 99.50% by 9.50 points (100 of 1000 images flipped)",
        "accuracy drop 1.00 points exceeds the gate's 0.30 by 0.70 points",
        "max abs probability error 0.025 exceeds the gate's 0.01 by 0.015",
    ]
    assert gate_failures(Gate(max_abs_error=1e-4), agreement=1.0, accuracy_drop=0.0, max_abs_error=float("nan"), flips=0, count=5)
    # An artifact better than the reference (negative drop) passes the accuracy limit.
    assert gate_failures(Gate(max_accuracy_drop=0.0), agreement=0.9, accuracy_drop=-2.0, max_abs_error=1.0, flips=1, count=10) == []


def test_default_gates_per_quantization_mode():
    assert default_gate("tflite", "fp32").limits() == {"max_abs_error": 1e-4}
    assert default_gate("coreml", "fp16").limits() == {"max_abs_error": 1e-2}
    assert default_gate("tflite", "dynamic").limits() == {"min_agreement": 0.995, "max_accuracy_drop": 0.3}
    # The lossier the method, the looser the gate.
    int8, onnx_int8 = default_gate("tflite", "int8"), default_gate("onnx", "int8-dynamic")
    assert onnx_int8.min_agreement < int8.min_agreement < default_gate("tflite", "dynamic").min_agreement
    assert default_gate("coreml", "palettize4").min_agreement < default_gate("coreml", "palettize6").min_agreement
    for fmt in ("tflite", "onnx", "coreml"):
        assert default_gate(fmt, "fp32").max_abs_error == 1e-4 and default_gate(fmt, "fp16").max_abs_error == 1e-2
    assert default_gate("tflite", "fp8") is None


def test_recipe_overrides_a_gate(tmp_path):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text('[export]\nformats = ["tflite"]\n\n[gates.tflite-int8]\nmin_agreement = 0.9\n\n[gates.custom]\nmax_abs_error = 1\n')
    overrides = read_gate_overrides(recipe)
    assert overrides == {"tflite-int8": {"min_agreement": 0.9}, "custom": {"max_abs_error": 1.0}}
    gate = gate_for("tflite-int8", "tflite", "int8", overrides)
    # The override replaces one key; the mode's other limits stay.
    assert gate.limits() == {"min_agreement": 0.9, "max_accuracy_drop": default_gate("tflite", "int8").max_accuracy_drop}
    assert gate.source == "recipe [gates.tflite-int8] over default for tflite/int8"
    assert gate_for("custom", "tflite", "fp8", overrides).limits() == {"max_abs_error": 1.0}
    assert gate_for("tflite-fp32", "tflite", "fp32", overrides).source == "default for tflite/fp32"
    with pytest.raises(UsageError, match=r"no parity gate for tflite/fp8 .*; add \[gates.other\] to a --recipe"):
        gate_for("other", "tflite", "fp8", overrides)
    assert read_gate_overrides(None) == {}


@pytest.mark.parametrize(
    "text,message",
    [
        ("[gates.a]\nmin_agrement = 0.9\n", r"unknown key\(s\) min_agrement; known: min_agreement, max_accuracy_drop, max_abs_error"),
        ("[gates.a]\nmin_agreement = 99.5\n", "min_agreement is a fraction from 0 to 1"),
        ('[gates.a]\nmax_abs_error = "small"\n', "max_abs_error must be a non-negative number"),
        ("gates = 3\n", "must be a table"),
        ("[gates\n", "not valid TOML"),
    ],
)
def test_bad_recipe_gates_are_usage_errors(tmp_path, text, message):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(text)
    with pytest.raises(UsageError, match=message):
        read_gate_overrides(recipe)
    with pytest.raises(UsageError, match="recipe not found"):
        read_gate_overrides(tmp_path / "missing.toml")


def test_golden_vectors_round_trip_in_the_documented_format(tmp_path):
    from edgevit.portable.errors import HarnessError
    from edgevit.portable.golden import GOLDEN_INDEX, read_golden
    from edgevit.verify.golden import golden_indices, write_golden

    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(3, 4, 5, 3)).astype(np.float32)
    probabilities = rng.dirichlet(np.ones(6), size=3).astype(np.float32)
    names = [f"class {i}" for i in range(6)]
    pre = {"height": 4, "width": 5, "resize": "bilinear", "color": "RGB", "layout": "NHWC", "mean": [127.5] * 3, "std": [127.5] * 3}
    folder = write_golden(tmp_path / "golden", inputs=inputs, probabilities=probabilities, true_labels=np.array([5, 0, 2]),
                          label_names=names, preprocessing=pre, fingerprint="abc123")
    index = json.loads((folder / GOLDEN_INDEX).read_text())
    assert index == {
        "schema_version": 1, "count": 3, "input_shape": [3, 4, 5, 3], "num_classes": 6, "dtype": "float32",
        "byte_order": "little", "inputs_file": "inputs.f32", "outputs_file": "probabilities.f32", "true_labels": [5, 0, 2],
        "label_names": names, "reference": {"runtime": "savedmodel", "fingerprint": "abc123"}, "preprocessing": pre,
    }
    assert sorted(p.name for p in folder.iterdir()) == ["golden.json", "inputs.f32", "probabilities.f32"]
    # Raw little-endian float32, C order, nothing else in the files.
    assert (folder / "inputs.f32").read_bytes() == inputs.astype("<f4").tobytes()
    assert (folder / "probabilities.f32").stat().st_size == 3 * 6 * 4
    golden = read_golden(folder)
    np.testing.assert_array_equal(golden.inputs, inputs)
    np.testing.assert_array_equal(golden.probabilities, probabilities)
    assert golden.true_labels.tolist() == [5, 0, 2] and golden.label_names == names and golden.count == 3
    assert golden.reference == {"runtime": "savedmodel", "fingerprint": "abc123"} and golden.preprocessing == pre

    (folder / "probabilities.f32").write_bytes(b"\0" * 8)
    with pytest.raises(HarnessError, match="8 bytes, expected 72"):
        read_golden(folder)
    with pytest.raises(HarnessError, match="golden.json is missing"):
        read_golden(tmp_path)
    assert golden_indices(48, 8).tolist() == [0, 7, 13, 20, 27, 34, 40, 47]
    assert golden_indices(3, 8).tolist() == [0, 1, 2]
