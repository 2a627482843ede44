"""`edgevit debug layers` on deliberately damaged tiny ViTs: block 3 is named in every format; bad input is one line.

The damaged artifacts (tests/helpers/layers.py) are the default artifact of each format, exported from the
tiny model with block 3's kernels perturbed and pointed back at the undamaged SavedModel.
"""

from __future__ import annotations

import json
import shutil
import xml.dom.minidom

import pytest
from helpers.cli import one_line_error

from edgevit.cli import main
from edgevit.records import validate_with_schema


@pytest.fixture(scope="module")
def damaged(tiny_run, tmp_path_factory):
    from helpers.layers import damaged_artifacts

    return damaged_artifacts(tiny_run, tmp_path_factory.mktemp("layers-damaged"))


@pytest.fixture(scope="module")
def report(damaged, tmp_path_factory):
    out = tmp_path_factory.mktemp("layers-report") / "report"
    code = main(["debug", "layers", str(damaged), "--out", str(out), "--images", "4", "-q"])
    return out, code


def test_the_damaged_block_is_the_first_divergence_in_every_format(report):
    from helpers.layers import DAMAGED_BLOCK, DAMAGED_EXPORTS

    out, code = report
    assert code == 0
    document = json.loads((out / "layers.json").read_text())
    assert validate_with_schema(document, "layers-v1.schema.json") == []
    assert sorted(a["format"] for a in document["artifacts"]) == sorted(f for f, _ in DAMAGED_EXPORTS)
    threshold = document["threshold_db"]
    for artifact in document["artifacts"]:
        name = artifact["name"]
        assert artifact["status"] == "ok", artifact["reason"]
        assert artifact["missing"] == [], (name, artifact["missing"])
        assert artifact["first_divergence"]["block"] == DAMAGED_BLOCK, (name, artifact["first_divergence"])
        assert artifact["largest_drop"]["block"] == DAMAGED_BLOCK and artifact["largest_drop"]["drop_db"] > 20, name
        before = [b for b in artifact["boundaries"] if b["block"] is not None and b["block"] < DAMAGED_BLOCK]
        assert before and all(b["exact"] or b["sqnr_db"] >= threshold for b in before), name
    markdown = (out / "layers.md").read_text()
    assert markdown.count(f"- largest SQNR drop: **Transformer_encoderblock_{DAMAGED_BLOCK}**") == len(DAMAGED_EXPORTS)
    page = (out / "layers.html").read_text()
    svg = page[page.index("<svg"): page.index("</svg>") + 6]
    xml.dom.minidom.parseString(svg)  # well-formed
    assert svg.count("<path d=") == len(DAMAGED_EXPORTS)  # one line per artifact


def test_a_layer_name_not_in_the_model_is_one_line(damaged, tmp_path, capsys):
    code = main(["debug", "layers", str(damaged), "--out", str(tmp_path / "r"), "--layer", "Transformer_encoderblock_9"])
    assert code == 2
    line = one_line_error(capsys)
    assert "'Transformer_encoderblock_9' is not a boundary of this model; known: embedding" in line
    assert not (tmp_path / "r").exists()


def test_only_the_named_layers_are_compared(damaged, tmp_path):
    out = tmp_path / "r"
    assert main(["debug", "layers", str(damaged / "onnx-fp32"), "--out", str(out), "--images", "2", "--layer", "head",
                 "--layer", "embedding", "-q"]) == 0
    rows = json.loads((out / "layers.json").read_text())["artifacts"][0]["boundaries"]
    assert [r["boundary"] for r in rows] == ["embedding", "head"]


def test_an_artifact_whose_source_model_is_gone_is_one_line(damaged, tmp_path, capsys):
    artifact = tmp_path / "artifacts" / "onnx-fp32"
    shutil.copytree(damaged / "onnx-fp32", artifact)
    manifest = json.loads((artifact / "manifest.json").read_text())
    manifest["source"]["saved_model"] = str(tmp_path / "moved-away" / "saved_model")
    (artifact / "manifest.json").write_text(json.dumps(manifest))
    code = main(["debug", "layers", str(artifact), "--out", str(tmp_path / "r")])
    assert code == 2
    line = one_line_error(capsys)
    assert "moved-away/saved_model, is not reachable" in line and "pass --saved-model" in line


# --------------------------------------------------------------------------------------------------
# edgevit export --fit-gate (edgevit/fitgate.py) on the tiny model's ONNX int8-dynamic artifact


def _gate_recipe(path, **limits) -> str:
    path.write_text("[gates.onnx-int8-dynamic]\n" + "".join(f"{k} = {v}\n" for k, v in limits.items()))
    return str(path)


@pytest.mark.slow  # several exports and verifications of the tiny model: 1-4 min on a shared 2-core machine
def test_fit_gate_records_its_plan_and_steps_and_confirms_on_the_test_split(tiny_run, tmp_path):
    recipe = _gate_recipe(tmp_path / "gate.toml", min_agreement=0.5, max_accuracy_drop=50)
    code = main(["export", str(tiny_run.saved_model), "--out", str(tmp_path / "out"), "--format", "onnx",
                 "--quantization", "int8-dynamic", "--fit-gate", "--recipe", recipe, "-q"])
    assert code == 0
    manifest = json.loads((tmp_path / "out" / "onnx-int8-dynamic" / "manifest.json").read_text())
    fit = manifest["fit_gate"]
    assert fit["calibration_split"] == "valid" and fit["test_split"] == "test"
    assert fit["gate"]["min_agreement"] == 0.5
    (kept,) = [s for s in fit["steps"] if s["float_layers"] == fit["float_layers"]]  # not always the last built
    assert kept["verdict"] == "pass" and fit["test"]["verdict"] == "pass"
    assert manifest["conversion"].get("float_layers", []) == fit["float_layers"]
    assert all(s["file_size"] > 0 and s["latency_p50_ms"] > 0 for s in fit["steps"])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["artifacts.json", "logs", "onnx-int8-dynamic"]


@pytest.mark.slow  # several exports and verifications of the tiny model: 1-4 min on a shared 2-core machine
def test_a_gate_no_precision_mix_meets_is_one_line_with_the_best_reached(tiny_run, tmp_path, capsys):
    recipe = _gate_recipe(tmp_path / "gate.toml", max_abs_error=1e-9)  # int8 anything moves probabilities more
    code = main(["export", str(tiny_run.saved_model), "--out", str(tmp_path / "out"), "--format", "onnx",
                 "--quantization", "int8-dynamic", "--fit-gate", "--recipe", recipe, "-q"])
    assert code == 6
    # The recipe's limit is added to the mode's default ones, which 48 images cannot show passed: a warning says so once.
    *warnings, line = capsys.readouterr().err.strip().splitlines()
    assert [w.split(": 48 images")[0] for w in warnings] == ["fit-gate on the valid split: onnx-int8-dynamic"]
    assert line.startswith("edgevit: error: ")
    assert "no precision mix meets the gate of onnx-int8-dynamic on the valid split: the best agreement reached is" in line
    assert " MB (" in line and "layers in float)" in line
    assert not (tmp_path / "out" / "onnx-int8-dynamic").exists()


def test_fit_gate_for_a_format_without_a_per_layer_mechanism_is_one_line(tiny_run, tmp_path, capsys):
    code = main(["export", str(tiny_run.saved_model), "--out", str(tmp_path / "out"), "--format", "tflite", "--quantization", "fp16",
                 "--fit-gate"])
    assert code == 2
    assert ("--fit-gate keeps layers in float per layer for onnx int8-dynamic, tflite dynamic, coreml int8, coreml palettize6, "
            "coreml palettize4 only so far; got tflite fp16") in one_line_error(capsys)
