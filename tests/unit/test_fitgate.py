"""edgevit.fitgate without building anything: the one gate call, and what it refuses before any work."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from edgevit.errors import UsageError
from edgevit.exporters.jobs import ArtifactJob
from edgevit.fitgate import fit_gate, gate_verdict
from edgevit.formats import Gate


def _metrics(agreement, drop=0.0, max_abs=0.01, non_finite=0):
    return SimpleNamespace(agreement=agreement, accuracy_drop=drop, max_abs_error=max_abs, flips=(), count=100,
                           non_finite=non_finite)


def test_the_gate_verdict_is_pass_only_when_every_limit_holds():
    gate = Gate(min_agreement=0.99, max_accuracy_drop=0.5)
    assert gate_verdict(gate, _metrics(0.995)) == "pass"
    assert gate_verdict(gate, _metrics(0.98)) != "pass"
    assert gate_verdict(gate, _metrics(0.995, drop=0.6)) != "pass"
    assert gate_verdict(gate, _metrics(1.0, non_finite=3)) != "pass"


def test_modes_without_a_per_layer_mechanism_and_a_shared_split_are_refused(tmp_path):
    with pytest.raises(UsageError, match="onnx int8-dynamic only so far; got tflite dynamic"):
        fit_gate(tmp_path, tmp_path / "out", ArtifactJob.create("tflite"), gate=Gate(min_agreement=0.99))
    job = ArtifactJob.create("onnx", quantization="int8-dynamic")
    with pytest.raises(UsageError, match="never tuned on the data it judges"):
        fit_gate(tmp_path, tmp_path / "out", job, gate=Gate(min_agreement=0.99), calibration_split="test")
    assert not (tmp_path / "out").exists()


def test_float_layers_belong_to_int8_dynamic_only():
    from edgevit.exporters.options import OnnxOptions

    assert OnnxOptions(quantization="int8-dynamic", float_layers=["Transformer_encoderblock_3"]).float_layers == (
        "Transformer_encoderblock_3",)
    with pytest.raises(UsageError, match="fp32 has none to keep"):
        OnnxOptions(quantization="fp32", float_layers=("Transformer_encoderblock_3",))
    with pytest.raises(UsageError, match="list of Keras layer names"):
        OnnxOptions(quantization="int8-dynamic", float_layers="Transformer_encoderblock_3")
