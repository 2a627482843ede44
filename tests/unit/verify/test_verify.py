"""Parity statistics, gates and golden vectors on hand-made arrays with known answers (no model)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edgevit.errors import UsageError
from edgevit.formats import Gate
from edgevit.verify.gates import (Verdict, default_gate, describe_gate, gate_for, images_to_pass_without_flips, judge,
                                 looser_than_default, read_gate_overrides)
from edgevit.verify.metrics import (abs_errors, accuracy, accuracy_difference, agreement_interval, mcnemar_exact_p,
                                    mean_js_divergence, top1)


def test_accuracy_agreement_and_abs_errors():
    reference = np.array([[0.5, 0.3, 0.2], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.7, 0.2, 0.1]])
    artifact = np.array([[0.4, 0.45, 0.15], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.7, 0.1, 0.2]])
    labels = np.array([0, 1, 1, 0])
    assert top1(reference).tolist() == [0, 1, 2, 0] and top1(artifact).tolist() == [1, 1, 2, 0]
    assert accuracy(top1(reference), labels) == 0.75
    assert accuracy(top1(artifact), labels) == 0.5
    assert agreement_interval(top1(reference), top1(artifact)).fraction == 0.75
    max_abs, mean_abs = abs_errors(reference, artifact)
    assert max_abs == pytest.approx(0.15)
    assert mean_abs == pytest.approx((0.1 + 0.15 + 0.05 + 0.1 + 0.1) / 12)


def test_js_divergence_known_values_without_a_clipping_floor():
    p = np.array([[0.5, 0.5], [0.25, 0.75]])
    q = np.array([[1.0, 0.0], [0.25, 0.75]])
    # Row 1: m = (0.75, 0.25); JS = (KL(p||m) + KL(q||m)) / 2 in bits; row 2 is 0.
    kl_p = 0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)
    kl_q = 1.0 * math.log2(1.0 / 0.75)
    assert mean_js_divergence(p, q) == pytest.approx((kl_p + kl_q) / 2 / 2, rel=1e-12)
    assert mean_js_divergence(p, p) == 0.0
    # Disjoint distributions are exactly 1 bit apart: the measure is bounded, no epsilon decides it.
    assert mean_js_divergence(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])) == pytest.approx(1.0)


def test_mcnemar_exact_known_values():
    assert mcnemar_exact_p(0, 0) == 1.0
    assert mcnemar_exact_p(10, 0) == pytest.approx(2 / 1024)
    assert mcnemar_exact_p(3, 5) == pytest.approx(2 * (1 + 8 + 28 + 56) / 256)
    assert mcnemar_exact_p(5, 3) == mcnemar_exact_p(3, 5)
    # 1,100 discordant pairs (2**1100 overflows a float): normal approximation with continuity correction 0.0028.
    assert 0.0025 < mcnemar_exact_p(600, 500) < 0.0032


def test_accuracy_difference_without_discordant_pairs_keeps_an_honest_width():
    # 300 images, none flipped: the paired score interval is about +-z^2/(n+z^2) = +-1.26 points, not [0, 0].
    correct = np.ones(300, bool)
    correct[::4] = False
    diff = accuracy_difference(correct, correct)
    assert (diff.points, diff.improved, diff.worsened, diff.mcnemar_p) == (0.0, 0, 0, 1.0)
    assert diff.low == pytest.approx(-1.2643, abs=1e-3) and diff.high == pytest.approx(1.2643, abs=1e-3)
    assert "Tango" in diff.method


def test_accuracy_difference_interval_matches_the_normal_approximation_at_large_n():
    # 2,625 images (the birds test split): the artifact fixes 30 and breaks 50.
    n, improved, worsened = 2625, 30, 50
    reference = np.ones(n, bool)
    artifact = np.ones(n, bool)
    reference[:improved] = False
    artifact[improved:improved + worsened] = False
    diff = accuracy_difference(reference, artifact)
    assert (diff.improved, diff.worsened, diff.count) == (improved, worsened, n)
    assert diff.points == pytest.approx(-20 / n * 100)
    d = np.concatenate([np.ones(improved), -np.ones(worsened), np.zeros(n - improved - worsened)])
    half_width = 1.96 * d.std() / math.sqrt(n) * 100  # 0.667 points
    assert diff.low == pytest.approx(diff.points - half_width, abs=0.05)
    assert diff.high == pytest.approx(diff.points + half_width, abs=0.05)
    assert diff.mcnemar_p == pytest.approx(mcnemar_exact_p(30, 50))
    with pytest.raises(ValueError):
        accuracy_difference(np.ones(3, bool), np.ones(4, bool))


def test_the_interval_and_the_exact_mcnemar_test_agree_on_the_sign():
    # 0 improved, 4 worsened of 300: the score test alone would exclude 0, the exact p is 0.125.
    reference = np.ones(300, bool)
    artifact = reference.copy()
    artifact[:4] = False
    diff = accuracy_difference(reference, artifact)
    assert diff.mcnemar_p == pytest.approx(0.125) and diff.low < 0 <= diff.high
    artifact[:6] = False  # 6 worsened: exact p = 0.031, and the interval now excludes 0
    diff = accuracy_difference(reference, artifact)
    assert diff.mcnemar_p < 0.05 and diff.high < 0


def _judge(gate, *, n, flips=0, improved=0, worsened=0, max_abs_error=0.0):
    reference = np.zeros(n, int)
    artifact = reference.copy()
    artifact[:flips] = 1
    ref_correct, art_correct = np.ones(n, bool), np.ones(n, bool)
    ref_correct[:improved] = False
    art_correct[improved:improved + worsened] = False
    return judge(gate, agreement=agreement_interval(reference, artifact), difference=accuracy_difference(ref_correct, art_correct),
                 max_abs_error=max_abs_error)


def test_a_gate_passes_fails_or_is_inconclusive_by_its_interval():
    gate = Gate(min_agreement=0.995)
    # 300 images: 0 flips cannot show 99.5% (the exact lower bound is 98.8%); 736 can.
    verdict = _judge(gate, n=300)
    assert verdict.verdict is Verdict.INCONCLUSIVE and verdict.images_needed == 736
    assert "the gate's 99.50% lies inside the 95% interval" in verdict.undecided[0]
    assert _judge(gate, n=736).verdict is Verdict.PASS
    # 9 of 250 flipped (the committed ViT-L/32 run): the whole interval is below 99.5%.
    failed = _judge(gate, n=250, flips=9)
    assert failed.verdict is Verdict.FAIL and failed.failures[0].startswith("top-1 agreement 96.40% [")
    assert "(9 of 250 images flipped) is below the gate's 99.50% at 95% confidence" in failed.failures[0]


def test_the_accuracy_limit_is_a_non_inferiority_margin():
    gate = Gate(max_accuracy_drop=0.3)
    # One net-worse image of 300 no longer fails outright: the interval straddles -0.3.
    assert _judge(gate, n=300, worsened=1).verdict is Verdict.INCONCLUSIVE
    assert _judge(gate, n=300, worsened=40).verdict is Verdict.FAIL
    assert _judge(gate, n=5000).verdict is Verdict.PASS
    # An artifact better than the reference passes the accuracy limit once the split resolves it.
    assert _judge(Gate(max_accuracy_drop=0.0), n=300, improved=20).verdict is Verdict.PASS


def test_max_abs_error_is_measured_not_estimated():
    assert _judge(Gate(max_abs_error=0.01), n=5, max_abs_error=0.02).failures == (
        "max abs probability error 0.02 exceeds the gate's 0.01 by 0.01",)
    assert _judge(Gate(max_abs_error=1e-4), n=5, max_abs_error=float("nan")).verdict is Verdict.FAIL
    assert _judge(Gate(max_abs_error=0.01), n=5, max_abs_error=0.01).verdict is Verdict.PASS


def test_split_sizes_that_can_decide_a_gate():
    assert images_to_pass_without_flips(Gate(min_agreement=0.995)) == 736  # ln(0.025) / ln(0.995)
    assert images_to_pass_without_flips(Gate(max_accuracy_drop=1.0)) == 381  # z^2 (1 - 0.01) / 0.01 = 380.3
    assert images_to_pass_without_flips(Gate(max_abs_error=0.01)) == 0
    assert describe_gate(Gate(min_agreement=0.995, max_accuracy_drop=0.3)) == (
        "top-1 agreement at least 99.50% and accuracy at most 0.3 points lower (95% confidence)")
    assert looser_than_default(Gate(min_agreement=0.98, max_accuracy_drop=0.3), "tflite", "dynamic") == [
        "min_agreement 0.98 (default 0.995)"]


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
