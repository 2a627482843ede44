

# --------------------------------------------------------------------------------------------------
# edgevit export --fit-gate (edgevit/fitgate.py) on the tiny model's ONNX int8-dynamic artifact


def _gate_recipe(path, **limits) -> str:
    path.write_text("[gates.onnx-int8-dynamic]\n" + "".join(f"{k} = {v}\n" for k, v in limits.items()))
    return str(path)


def test_fit_gate_records_its_plan_and_steps_and_confirms_on_the_test_split(tiny_run, tmp_path):
    recipe = _gate_recipe(tmp_path / "gate.toml", min_agreement=0.5, max_accuracy_drop=50)
    code = main(["export", str(tiny_run.saved_model), "--out", str(tmp_path / "out"), "--format", "onnx",
                 "--quantization", "int8-dynamic", "--fit-gate", "--recipe", recipe, "-q"])
    assert code == 0
    manifest = json.loads((tmp_path / "out" / "onnx-int8-dynamic" / "manifest.json").read_text())
    fit = manifest["fit_gate"]
    assert fit["calibration_split"] == "valid" and fit["test_split"] == "test"
    assert fit["gate"]["min_agreement"] == 0.5
    assert fit["steps"][-1]["verdict"] == "pass" and fit["test"]["verdict"] == "pass"
    assert fit["float_layers"] == fit["steps"][-1]["float_layers"]
    assert manifest["conversion"].get("float_layers", []) == fit["float_layers"]
    assert all(s["file_size"] > 0 and s["latency_p50_ms"] > 0 for s in fit["steps"])
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".fit-gate-")]  # scratch removed


def test_a_gate_no_precision_mix_meets_is_one_line_with_the_best_reached(tiny_run, tmp_path, capsys):
    recipe = _gate_recipe(tmp_path / "gate.toml", max_abs_error=1e-9)  # int8 anything moves probabilities more
    code = main(["export", str(tiny_run.saved_model), "--out", str(tmp_path / "out"), "--format", "onnx",
                 "--quantization", "int8-dynamic", "--fit-gate", "--recipe", recipe, "-q"])
    assert code == 6
    line = _one_line_error(capsys)
    assert "no precision mix meets the gate of onnx-int8-dynamic on the valid split: the best agreement reached is" in line
    assert " MB (" in line and "blocks in float)" in line
    assert not (tmp_path / "out" / "onnx-int8-dynamic").exists()


def test_fit_gate_for_a_format_without_a_per_layer_mechanism_is_one_line(tiny_run, tmp_path, capsys):
    code = main(["export", str(tiny_run.saved_model), "--out", str(tmp_path / "out"), "--format", "tflite", "--fit-gate"])
    assert code == 2
    assert "--fit-gate keeps layers in float per layer for onnx int8-dynamic only so far" in _one_line_error(capsys)
