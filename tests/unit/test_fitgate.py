"""edgevit.fitgate without building anything: the one gate call, and what it refuses before any work."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from edgevit.errors import UsageError
from edgevit.exporters.jobs import ArtifactJob
from edgevit.fitgate import fit_gate, gate_verdict
from edgevit.formats import Gate


def _metrics(flips: int, *, worsened: int = 0, count: int = 2000, non_finite: int = 0):
    from edgevit.verify.metrics import agreement_from_counts, difference_from_counts

    return SimpleNamespace(agreement_ci=agreement_from_counts(count - flips, count),
                           difference=difference_from_counts(0, worsened, count), max_abs_error=0.01, non_finite=non_finite)


def test_the_gate_verdict_is_pass_only_when_every_interval_clears_it():
    gate = Gate(min_agreement=0.99, max_accuracy_drop=0.5)
    assert gate_verdict(gate, _metrics(4)) == "pass"  # 99.8% of 2,000: the whole interval above 99%
    assert gate_verdict(gate, _metrics(40)) == "fail"  # 98%
    assert gate_verdict(gate, _metrics(4, count=300)) == "inconclusive"  # too few images to show 99% (never kept)
    assert gate_verdict(gate, _metrics(16, worsened=16)) != "pass"  # 0.8 points lower
    assert gate_verdict(gate, _metrics(0, non_finite=3)) == "fail"


def test_modes_without_a_per_layer_mechanism_and_a_shared_split_are_refused(tmp_path):
    with pytest.raises(UsageError, match="onnx int8-dynamic, tflite dynamic, coreml int8, .* only so far; got tflite int8"):
        fit_gate(tmp_path, tmp_path / "out", ArtifactJob.create("tflite", quantization="int8"), gate=Gate(min_agreement=0.99))
    job = ArtifactJob.create("onnx", quantization="int8-dynamic")
    with pytest.raises(UsageError, match="never tuned on the data it judges"):
        fit_gate(tmp_path, tmp_path / "out", job, gate=Gate(min_agreement=0.99), calibration_split="test")
    assert not (tmp_path / "out").exists()


def test_the_modes_searched_are_those_whose_options_take_float_layers():
    from edgevit.exporters.options import FLOAT_LAYER_MODES, OPTIONS, CoreMLOptions

    assert [f"{fmt.value} {q.value}" for fmt, q in FLOAT_LAYER_MODES] == [
        "onnx int8-dynamic", "tflite dynamic", "coreml int8", "coreml palettize6", "coreml palettize4"]
    for fmt, options in OPTIONS.items():  # the table and the options' own check agree, mode by mode
        for quantization in type(options().quantization):
            try:
                options(quantization=quantization, float_layers=("any_layer",), **FLOAT_LAYER_MODES.get((fmt, quantization), {}))
                takes = True
            except UsageError:
                takes = False
            assert takes == ((fmt, quantization) in FLOAT_LAYER_MODES), (fmt, quantization)
    assert CoreMLOptions(quantization="palettize6", float_layers=["Transformer_encoderblock_0"]).float_layers == (
        "Transformer_encoderblock_0",)
    with pytest.raises(UsageError, match="fp32 has none to keep"):
        CoreMLOptions(quantization="fp32", float_layers=["Transformer_encoderblock_0"])


def test_float_layers_belong_to_int8_dynamic_only():
    from edgevit.exporters.options import OnnxOptions

    assert OnnxOptions(quantization="int8-dynamic", float_layers=["Transformer_encoderblock_3"]).float_layers == (
        "Transformer_encoderblock_3",)
    with pytest.raises(UsageError, match="fp32 has none to keep"):
        OnnxOptions(quantization="fp32", float_layers=("Transformer_encoderblock_3",))
    with pytest.raises(UsageError, match="list of Keras layer names"):
        OnnxOptions(quantization="int8-dynamic", float_layers="Transformer_encoderblock_3")
