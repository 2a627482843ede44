"""`edgevit export --fit-gate --records` on a Core ML weight-compressed mode of the tiny model, end to end: the search
runs here (Core ML parity through the numpy MIL interpreter), its steps go to schema-valid "fit-gate" records, and
`edgevit report` shows them as a size vs agreement section. Bad input is one line."""

from __future__ import annotations

import json
import re
import xml.dom.minidom

import pytest
from helpers.cli import one_line_error

from edgevit.cli import main
from edgevit.records import read_records, validate_document

NAME = "coreml-palettize4"


@pytest.fixture(scope="module")
def searched(tiny_run, tmp_path_factory):
    base = tmp_path_factory.mktemp("fit-gate-coreml")
    recipe = base / "gate.toml"
    recipe.write_text(f"[gates.{NAME}]\nmin_agreement = 0.5\nmax_accuracy_drop = 50\n")
    code = main(["export", str(tiny_run.saved_model), "--out", str(base / "out"), "--format", "coreml", "--quantization", "palettize4",
                 "--fit-gate", "--recipe", str(recipe), "--records", str(base / "fit.json"), "-q"])
    return base, code


def test_the_search_builds_the_artifact_records_its_plan_and_confirms_it_on_the_test_split(searched):
    base, code = searched
    assert code == 0
    manifest = json.loads((base / "out" / NAME / "manifest.json").read_text())
    fit = manifest["fit_gate"]
    assert fit["calibration_split"] == "valid" and fit["test_split"] == "test" and fit["gate"]["min_agreement"] == 0.5
    # the search bisects: the chosen step is the passing one with the fewest float layers, not always the last built
    (kept,) = [s for s in fit["steps"] if s["float_layers"] == fit["float_layers"]]
    assert kept["verdict"] == "pass" and fit["test"]["verdict"] == "pass"
    assert manifest["conversion"].get("float_layers", []) == fit["float_layers"]
    assert "coreml-mil-numpy (emulated)" in fit["steps"][0]["latency_timed"]

    document = json.loads((base / "fit.json").read_text())
    assert validate_document(document) == []
    records = read_records([base / "fit.json"])
    assert [r["kind"] for r in records] == ["fit-gate"] * len(fit["steps"])
    assert [r["fit_gate"]["step"] for r in records] == list(range(len(fit["steps"])))
    for record, step in zip(records, fit["steps"]):  # the records hold the numbers the search measured
        assert record["artifact"]["file_size"] == step["file_size"] and record["parity"]["agreement"] == step["agreement"]
        assert record["latency"]["p50_ms"] == pytest.approx(step["latency_p50_ms"], abs=1e-3) and record["latency"]["runs"] == 10
        assert record["runtime"]["emulated"] is True and record["parity"]["split"] == "valid"
        assert record["artifact"]["name"] == NAME and record["artifact"]["format"] == "coreml"
    (chosen,) = [r for r in records if r["fit_gate"]["chosen"]]
    assert chosen["status"] == "ok" and chosen["fit_gate"]["float_layers"] == fit["float_layers"]
    assert chosen["fit_gate"]["test"]["split"] == "test" and chosen["fit_gate"]["test"]["agreement"] == fit["test"]["agreement"]
    assert chosen["artifact"]["file_size"] == manifest["file_size"]
    # ranked only when step 0 fails; Core ML's candidates are its blocks (its embedding and head cannot be named)
    ranking = chosen["fit_gate"]["ranking"]
    assert ranking == [] if chosen["fit_gate"]["step"] == 0 else ranking and all(b.startswith("Transformer_encoderblock_") for b in ranking)


def test_the_report_shows_the_search(searched, tmp_path):
    base, _ = searched
    records = read_records([base / "fit.json"])
    (chosen,) = [r for r in records if r["fit_gate"]["chosen"]]
    assert main(["report", str(base / "fit.json"), "--out", str(tmp_path / "r"), "-q"]) == 0
    markdown = (tmp_path / "r" / "report.md").read_text()
    assert f"### {NAME} (coreml palettize4) on {chosen['machine']['id']}" in markdown
    size_mb = f"{chosen['artifact']['file_size'] / 1e6:.3f}"
    assert f"| {chosen['fit_gate']['step']} (chosen) | " in markdown and f" | {size_mb} | " in markdown
    test = chosen["fit_gate"]["test"]
    assert f"Confirmed on the test split: agreement {100 * test['agreement']:.1f}%" in markdown
    assert "coreml-mil-numpy (emulated" in markdown  # what was timed
    page = (tmp_path / "r" / "report.html").read_text()
    start = page.index("<svg", page.index("Mixed precision to the gate"))
    svg = page[start: page.index("</svg>", start) + 6]
    xml.dom.minidom.parseString(svg)
    assert "gate: 50.0% agreement" in svg and 'stroke-dasharray="6 4"' in svg
    assert f"chosen: step {chosen['fit_gate']['step']}, test agreement {100 * test['agreement']:.1f}%" in svg
    assert len(re.findall(r'r="5.0"[^>]*><title>step ', svg)) == len(records)  # one point per step


def test_records_without_fit_gate_and_a_mode_without_compression_are_one_line(tiny_run, tmp_path, capsys):
    code = main(["export", str(tiny_run.saved_model), "--out", str(tmp_path / "out"), "--format", "coreml", "--quantization", "int8",
                 "--records", str(tmp_path / "fit.json")])
    assert code == 2 and "--calibration-split, --records and --max-size belong to the --fit-gate search" in one_line_error(capsys)
    code = main(["export", str(tiny_run.saved_model), "--out", str(tmp_path / "out"), "--format", "coreml", "--quantization", "fp16",
                 "--fit-gate"])
    assert code == 2
    line = one_line_error(capsys)
    assert "for onnx int8-dynamic, tflite dynamic, coreml int8, coreml palettize6, coreml palettize4 only so far; got coreml fp16" in line
    assert not (tmp_path / "out").exists() and not (tmp_path / "fit.json").exists()


@pytest.mark.slow  # five Core ML exports and verifications of the tiny model: 1-3 min on a shared 2-core machine
def test_a_search_no_mix_passes_still_records_every_step_and_the_report_draws_them(tiny_run, tmp_path, capsys):
    recipe = tmp_path / "gate.toml"
    recipe.write_text("[gates.coreml-int8]\nmax_abs_error = 1e-9\n")  # int8 weights anywhere move probabilities more
    code = main(["export", str(tiny_run.saved_model), "--out", str(tmp_path / "out"), "--format", "coreml", "--quantization", "int8",
                 "--fit-gate", "--recipe", str(recipe), "--records", str(tmp_path / "fit.json"), "-q"])
    assert code == 6
    # The recipe's limit is added to the mode's default ones (99% agreement), which 48 images can never show: said once.
    warning, error = capsys.readouterr().err.strip().splitlines()
    assert warning.startswith("fit-gate on the valid split: coreml-int8: 48 images cannot show its gate") and "1e-09" in warning
    assert error.startswith("edgevit: error: no precision mix meets the gate of coreml-int8 on the valid split: the best agreement")
    assert not (tmp_path / "out" / "coreml-int8").exists()
    records = read_records([tmp_path / "fit.json"])
    assert [r["fit_gate"]["step"] for r in records] == [0, 1, 2, 3, 4]  # every block of the tiny ViT, one more per step
    assert not any(r["fit_gate"]["chosen"] for r in records) and all(r["status"] == "parity failed" for r in records)
    sizes = [r["artifact"]["file_size"] for r in records]
    assert sizes == sorted(sizes) and len(set(sizes)) == 5  # each block kept in float adds its fp16 weights
    assert [len(r["fit_gate"]["float_layers"]) for r in records] == [0, 1, 2, 3, 4]

    assert main(["report", str(tmp_path / "fit.json"), "--out", str(tmp_path / "r"), "-q"]) == 0
    assert "No step passed the gate on the valid split; the best agreement reached was" in (tmp_path / "r" / "report.md").read_text()
    page = (tmp_path / "r" / "report.html").read_text()
    start = page.index("<svg", page.index("Mixed precision to the gate"))
    svg = page[start: page.index("</svg>", start) + 6]
    xs = [float(x) for x in re.findall(r'<circle cx="([\d.]+)" cy="[\d.]+" r="5.0"[^>]*><title>step ', svg)]
    assert len(xs) == 5 and xs == sorted(xs)  # larger files to the right, in step order
    path = re.search(r'<path d="(M[^"]+)" fill="none"', svg).group(1)
    assert len(re.findall(r"[ML]", path)) == 5 and "chosen:" not in svg


def test_a_float_layer_whose_weights_lost_its_name_is_a_failed_export_naming_it(tiny_run, tmp_path):
    # coremltools folds the patch embedding's convolution weight into a constant named after no layer: it cannot be
    # kept float, and the export says so for that layer rather than shipping it compressed as if it were float.
    from edgevit.exporters.jobs import ArtifactJob, export_all

    job = ArtifactJob.create("coreml", quantization="palettize4", float_layers=["embedding"])
    (result,) = export_all(saved_model=tiny_run.saved_model, out_dir=tmp_path / "out", jobs=[job])
    assert not result.ok
    (entry,) = json.loads((tmp_path / "out" / "artifacts.json").read_text())["artifacts"]
    assert entry["status"] == "failed" and "float layer(s) embedding were compressed anyway" in entry["error"]
