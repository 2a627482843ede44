"""`edgevit export --format tflite --quantization dynamic --fit-gate` on the tiny model: every step is built by
AI Edge Quantizer (step 0 too), and the chosen plan and the steps land in the artifact's manifest."""

from __future__ import annotations

import json

import pytest

from edgevit.cli import main


def test_fit_gate_on_tflite_dynamic_runs_end_to_end_through_ai_edge_quantizer(tiny_run, tmp_path):
    recipe = tmp_path / "gate.toml"
    # A gate the tiny model's quantized artifact meets (it is barely above chance: helpers/verify.py TINY_RECIPE).
    recipe.write_text("[gates.tflite-dynamic]\nmin_agreement = 0.5\nmax_accuracy_drop = 50\n")
    code = main(["export", str(tiny_run.saved_model), "--out", str(tmp_path / "out"), "--format", "tflite",
                 "--quantization", "dynamic", "--fit-gate", "--recipe", str(recipe), "-q"])
    assert code == 0
    manifest = json.loads((tmp_path / "out" / "tflite-dynamic" / "manifest.json").read_text())
    fit, conversion = manifest["fit_gate"], manifest["conversion"]
    assert fit["gate"]["min_agreement"] == 0.5
    (kept,) = [s for s in fit["steps"] if s["float_layers"] == fit["float_layers"]]  # not always the last built
    assert kept["verdict"] == "pass" and fit["test"]["verdict"] == "pass"
    assert fit["float_layers"] == conversion.get("float_layers", [])
    assert conversion["quantizer"]["name"] == "ai-edge-quantizer"  # the step's own route, even with nothing in float
    assert all(s["file_size"] > 0 and s["latency_p50_ms"] > 0 for s in fit["steps"])
    assert manifest["file_size"] == kept["file_size"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["artifacts.json", "logs", "tflite-dynamic"]


@pytest.mark.slow  # five AI Edge Quantizer builds and verifications of the tiny model: 1-3 min on a shared 2-core machine
def test_a_tflite_gate_no_mix_meets_ends_with_every_block_float_and_is_one_line(tiny_run, tmp_path, capsys, caplog):
    recipe = tmp_path / "gate.toml"
    recipe.write_text("[gates.tflite-dynamic]\nmax_abs_error = 1e-9\n")  # int8 weights anywhere move probabilities more
    code = main(["export", str(tiny_run.saved_model), "--out", str(tmp_path / "out"), "--format", "tflite",
                 "--quantization", "dynamic", "--fit-gate", "--recipe", str(recipe)])
    assert code == 6
    captured = capsys.readouterr()
    # the tiny ViT's 4 blocks, most sensitive first: 1, then 2, then all 4 kept float (doubling until one passes)
    for step, n in ((1, 1), (2, 2), (3, 4)):
        assert any(m.startswith(f"fit-gate step {step}: {n} layer(s) in float") for m in caplog.messages), (step, n)
    errors = [line for line in captured.err.splitlines() if line.startswith("edgevit: error: ")]
    assert len(errors) == 1 and "Traceback" not in captured.err
    line = errors[0]
    assert "no precision mix meets the gate of tflite-dynamic on the valid split: the best agreement reached is" in line
    assert "of 4 layers in float)" in line
    assert not (tmp_path / "out" / "tflite-dynamic").exists()
