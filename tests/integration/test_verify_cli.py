"""`edgevit verify` on the tiny model: every artifact passes its gate, damaged ones fail, bad input is one line.

The artifact of every export option is built once (the tiny_artifacts fixture (conftest.py)); damaged copies
are made per test in tmp_path.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers.cli import one_line_error
from helpers.verify import EXPORTS, copy_artifact, edit_manifest, write_recipe, zero_onnx_weights

from edgevit.cli import main
from edgevit.errors import DataError, ModelError, ParityError, UsageError


@pytest.fixture(scope="module")
def artifacts(tiny_artifacts):
    return tiny_artifacts()


@pytest.fixture(scope="module")
def full_report(artifacts, tmp_path_factory):
    """One CLI run over every artifact, with JSON, records and golden vectors written."""
    out = tmp_path_factory.mktemp("verify-run")
    recipe = write_recipe(out)
    argv = ["verify", str(artifacts), "--recipe", str(recipe), "--json", str(out / "verify.json"),
            "--records", str(out / "records.json"), "--write-golden", str(out / "golden"), "--golden-count", "6", "--quiet"]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(argv)
    (out / "table.md").write_text(stdout.getvalue())
    return out, code


FLOAT_MODES = {"fp32", "fp16"}


def test_every_artifact_meets_its_gate_or_the_split_is_too_small_to_tell(full_report, tiny_run):
    # 48 test images: a float artifact's probabilities are measured exactly, so it passes; a quantized one that
    # flips even one image of 48 cannot be shown >= 90% agreement at 95% confidence (the exact lower bound of
    # 47/48 is 88.9%), so the honest verdict there is "inconclusive" (exit 8), with the images that would settle it.
    out, code = full_report
    result = json.loads((out / "verify.json").read_text())
    statuses = {a["name"]: a["status"] for a in result["artifacts"]}
    assert code == (0 if set(statuses.values()) == {"passed"} else 8), statuses
    assert result["passed"] is (code == 0)
    assert sorted((a["format"], a["quantization"]) for a in result["artifacts"]) == sorted(EXPORTS)
    manifest = json.loads((tiny_run.saved_model / "manifest.json").read_text())
    # The reference's accuracy on the test split is what training measured: labels are mapped right.
    assert result["reference"]["accuracy"] == pytest.approx(manifest["metrics"]["test_accuracy"], abs=1e-6)
    assert result["data"]["count"] == manifest["metrics"]["test_images"] == 48
    recipe_gated = {"tflite-dynamic", "tflite-int8", "onnx-int8-dynamic", "coreml-int8", "coreml-palettize6", "coreml-palettize4"}
    for artifact in result["artifacts"]:
        metrics = artifact["metrics"]
        if artifact["quantization"] in FLOAT_MODES:
            assert artifact["status"] == "passed" and artifact["verdict"] == "pass", (artifact["name"], artifact["reason"])
        else:
            assert artifact["status"] in ("passed", "inconclusive"), (artifact["name"], artifact["reason"])
        if artifact["status"] == "inconclusive":
            assert artifact["verdict"] == "inconclusive" and "lies inside the 95% interval" in artifact["reason"]
            needed = artifact["images_needed"]
            assert (needed is None and "would not settle it" in artifact["reason"]) or (
                needed > 48 and f"about {needed:,} images would settle it" in artifact["reason"])
        assert metrics["count"] == 48 and 0 <= metrics["agreement"] <= 1
        assert metrics["flip_count"] == len(metrics["flips"]) == round((1 - metrics["agreement"]) * 48)
        assert artifact["gate"]["source"].startswith("recipe" if artifact["name"] in recipe_gated else "default")
        low, high = metrics["accuracy_difference_ci_points"]
        assert low <= metrics["accuracy_difference_points"] <= high and low < high  # never a collapsed [0, 0]
        assert "Tango" in metrics["accuracy_difference_method"] and "Clopper-Pearson" in metrics["agreement_method"]
        a_low, a_high = metrics["agreement_ci"]
        assert a_low <= metrics["agreement"] <= a_high
        assert artifact["emulated"] is (artifact["format"] == "coreml")
        if artifact["quantization"] == "fp32":
            assert metrics["max_abs_error"] <= 1e-4 and metrics["flip_count"] == 0
        for flip in metrics["flips"]:
            assert flip["reference"] != flip["artifact"] and Path(flip["path"]).is_file()


def test_table_says_emulated_and_records_follow_the_schema(full_report):
    from edgevit.records import read_records

    out, _ = full_report
    table = (out / "table.md").read_text()
    assert table.count("| coreml-mil-numpy (emulated) |") == 5
    assert "| coreml-fp16 | coreml-mil-numpy (emulated) | passed | 48 |" in table
    assert "48 images, 4 classes" in table and "| tflite-fp32 | litert | passed | 48 |" in table
    records = read_records([out / "records.json"])  # validates against record-v1.schema.json
    assert len(records) == len(EXPORTS)
    by_status = {"ok": "pass", "parity inconclusive": "inconclusive"}
    assert all(r["kind"] == "verify" and by_status[r["status"]] == r["parity"]["verdict"] for r in records)
    assert all(r["parity"]["gate"]["meaning"] and r["parity"]["count"] == 48 for r in records)
    coreml = [r for r in records if r["artifact"]["format"] == "coreml"]
    assert coreml and all(r["runtime"]["emulated"] and r["runtime"]["name"] == "coreml-mil-numpy" for r in coreml)


def test_golden_vectors_are_the_savedmodel_outputs(full_report, tiny_run):
    from edgevit.data.folders import load_image_folders
    from edgevit.data.preprocess import preprocess
    from edgevit.portable.golden import read_golden
    from edgevit.savedmodel.source import open_source
    from edgevit.verify.golden import golden_indices
    from edgevit.manifest import preprocessing_of
    from edgevit.savedmodel.load import LoadedSavedModel

    out, _ = full_report
    golden = read_golden(out / "golden")
    model = LoadedSavedModel(tiny_run.saved_model)
    split = load_image_folders(tiny_run.data_root, splits=("test",)).split("test")
    chosen = golden_indices(len(split), 6)
    expected_inputs = np.stack([preprocess(split.paths[i], preprocessing_of(model.manifest)) for i in chosen])
    np.testing.assert_array_equal(golden.inputs, expected_inputs)
    np.testing.assert_allclose(golden.probabilities, model.predict(expected_inputs), atol=1e-6)
    assert golden.true_labels.tolist() == split.labels[chosen].tolist()
    assert golden.label_names == model.manifest["labels"]
    assert golden.reference == {"runtime": "savedmodel", "fingerprint": open_source(tiny_run.saved_model).fingerprint}
    assert golden.preprocessing == model.manifest["preprocessing"]


def test_zeroed_onnx_weights_fail_parity(artifacts, tmp_path, capsys):
    folder = copy_artifact(artifacts / "onnx-fp32", tmp_path, "onnx-zeroed")
    assert zero_onnx_weights(folder) > 10
    code = main(["verify", str(folder), str(artifacts / "onnx-fp16"), "--quiet"])
    assert code == ParityError.exit_code
    table = capsys.readouterr().out
    assert "| onnx-zeroed | onnxruntime | parity failed |" in table and "| onnx-fp16 | onnxruntime | passed |" in table
    main(["verify", str(folder), "--quiet"])
    line = one_line_error(capsys)
    assert "1 of 1 artifact(s) did not pass: onnx-zeroed (parity failed: " in line
    assert "max abs probability error" in line and "exceeds the gate's 0.0001 by" in line


def test_wrong_mean_std_in_the_manifest_fails_parity(artifacts, tiny_run, tmp_path):
    from edgevit.verify.results import Status
    from edgevit.verify.run import verify_artifacts

    folder = copy_artifact(artifacts / "tflite-fp32", tmp_path, "tflite-wrong-norm")
    manifest = json.loads((folder / "manifest.json").read_text())
    edit_manifest(folder, preprocessing={**manifest["preprocessing"], "mean": [0.0, 0.0, 0.0], "std": [255.0, 255.0, 255.0]})
    report = verify_artifacts([folder])
    (result,) = report.results
    assert result.status is Status.PARITY_FAILED
    assert result.metrics.max_abs_error > 1e-2
    assert "its manifest's preprocessing differs from the SavedModel's (mean (0.0, 0.0, 0.0) vs (127.5, 127.5, 127.5)" in result.reason


def test_corrupted_file_fails_to_load_and_verify_continues(artifacts, tmp_path, capsys):
    folder = copy_artifact(artifacts / "tflite-dynamic", tmp_path, "tflite-corrupted")
    data = bytearray((folder / "model.tflite").read_bytes())
    data[100:200] = b"\0" * 100
    (folder / "model.tflite").write_bytes(bytes(data))
    code = main(["verify", str(folder), str(artifacts / "tflite-fp32"), "--quiet"])
    assert code == ModelError.exit_code
    captured = capsys.readouterr()
    assert "| tflite-corrupted | - | failed to load |" in captured.out and "| tflite-fp32 | litert | passed |" in captured.out
    *warnings, error = captured.err.strip().splitlines()
    assert "tflite-corrupted (failed to load: " in error and "the file is corrupted, re-export it" in error
    # Before any model ran, verify warned that 48 images cannot decide tflite-dynamic's default gate (it was a copy of it).
    assert warnings == ["tflite-corrupted: 48 images cannot show its gate (top-1 agreement at least 99.50% and accuracy at most "
                        "0.3 points lower (95% confidence)) passed even with 0 flips; it needs at least 1,277"]


def test_label_and_input_size_mismatches_fail_to_load(artifacts, tmp_path):
    from edgevit.verify.results import Status
    from edgevit.verify.run import verify_artifacts

    relabelled = copy_artifact(artifacts / "onnx-fp32", tmp_path, "onnx-relabelled")
    labels = json.loads((relabelled / "manifest.json").read_text())["labels"]
    edit_manifest(relabelled, labels=[labels[1], labels[0], *labels[2:]])
    (relabelled / "labels.txt").write_text("\n".join([labels[1], labels[0], *labels[2:]]) + "\n")  # consistent with itself
    resized = copy_artifact(artifacts / "tflite-fp32", tmp_path, "tflite-resized")
    manifest = json.loads((resized / "manifest.json").read_text())
    edit_manifest(resized, input={**manifest["input"], "shape": [None, 48, 48, 3]},
                  preprocessing={**manifest["preprocessing"], "height": 48, "width": 48})
    inconsistent = copy_artifact(artifacts / "tflite-fp32", tmp_path, "tflite-inconsistent")
    edit_manifest(inconsistent, input={**manifest["input"], "shape": [None, 48, 48, 3]})
    report = verify_artifacts([relabelled, resized, inconsistent])
    reasons = {r.name: r.reason for r in report.results}
    assert all(r.status is Status.FAILED_TO_LOAD for r in report.results)
    assert reasons["onnx-relabelled"] == f"its label list differs from the SavedModel's (label #0 is {labels[1]!r}, the SavedModel's is {labels[0]!r}); re-export it from this SavedModel"
    assert reasons["tflite-resized"].startswith("its input is 48x48, the SavedModel's is 32x32")
    assert reasons["tflite-inconsistent"].startswith("its input is 48x48 but its manifest's preprocessing makes 32x32 images")


def test_data_with_classes_the_model_does_not_know(artifacts, tiny_run, tmp_path, capsys):
    root = tmp_path / "data"
    shutil.copytree(tiny_run.data_root / "test", root / "test")
    first = sorted((root / "test").iterdir())[0]
    shutil.copytree(first, root / "test" / "PURPLE MYSTERY FINCH")
    code = main(["verify", str(artifacts / "tflite-fp32"), "--data", str(root), "--quiet"])
    assert code == DataError.exit_code
    line = one_line_error(capsys)
    assert "has 1 class folder(s) the model does not know (PURPLE MYSTERY FINCH); the model has 4 classes" in line


def test_a_subset_of_the_classes_is_fine(artifacts, tiny_run, tmp_path):
    from edgevit.verify.run import verify_artifacts

    root = tmp_path / "data"
    classes = sorted((tiny_run.data_root / "test").iterdir())
    for folder in classes[2:]:
        shutil.copytree(folder, root / "test" / folder.name)
    report = verify_artifacts([artifacts / "onnx-fp32"], data=root)
    assert report.data.count == 24 and report.data.classes == 2 and report.passed


@pytest.mark.parametrize(
    "argv,error,message",
    [
        (["verify", "{tmp}/nowhere"], UsageError, "no such artifact folder"),
        (["verify", "{tmp}"], UsageError, "no artifact folders (sub-folders with manifest.json) inside"),
        (["verify", "{art}/onnx-fp32", "--split", "train2"], DataError, "missing split folder(s) train2"),
        (["verify", "{art}/onnx-fp32", "--recipe", "{tmp}/missing.toml"], UsageError, "recipe not found"),
        (["verify", "{art}/onnx-fp32", "--saved-model", "{tmp}"], ModelError, "not a SavedModel folder"),
        (["verify", "{art}/onnx-fp32", "--max-images", "0"], UsageError, "max_images must be a positive integer"),
    ],
)
def test_bad_arguments_are_one_line(artifacts, tmp_path, capsys, argv, error, message):
    argv = [a.format(tmp=tmp_path, art=artifacts) for a in argv]
    assert main([*argv, "--quiet"]) == error.exit_code
    assert message in one_line_error(capsys)


def test_max_images_spreads_over_the_split(artifacts):
    from edgevit.verify.run import verify_artifacts

    report = verify_artifacts([artifacts / "tflite-fp32", artifacts / "tflite-dynamic"], max_images=8)
    result = report.results[0]
    assert report.data.count == 8 and result.metrics.count == 8 and report.data.classes == 4
    # What the cut costs is said, and a gate 8 images cannot show passed even with no flip is named with the size it needs.
    assert report.warnings[0].startswith("--max-images: 8 of the split's 48 images; with 0 flips that can show at best "
                                         "agreement >= 63.06%")
    assert any(w.startswith("tflite-dynamic: 8 images cannot show its gate (top-1 agreement at least 99.50%")
               and "it needs at least 1,277" in w for w in report.warnings)


def _recorded_root(artifacts, tmp_path, gates: dict, *, sha256: str | None = None) -> Path:
    """A copy of tflite-dynamic in an artifacts root whose artifacts.json records `gates` for it, as
    `edgevit export --recipe` writes it (sha256 None: the artifact's own)."""
    root = tmp_path / "arts"
    root.mkdir(parents=True)
    folder = copy_artifact(artifacts / "tflite-dynamic", root)
    manifest = json.loads((folder / "manifest.json").read_text())
    entry = {"name": folder.name, "format": "tflite", "quantization": "dynamic", "status": "ok", "path": folder.name,
             "file": f"{folder.name}/{manifest['file']}", "file_size": manifest["file_size"],
             "sha256": sha256 or manifest["sha256"], "gates": gates}
    (root / "artifacts.json").write_text(json.dumps({"schema_version": 1, "kind": "artifacts", "recipe": {"name": "strict", "path": "x.toml"},
                                                     "source": manifest["source"], "artifacts": [entry]}))
    return root


def test_verify_without_a_recipe_judges_each_artifact_by_the_gates_recorded_at_export(artifacts, tiny_run, tmp_path, capsys):
    from edgevit.verify.run import verify_artifacts

    impossible = {"min_agreement": 1.0, "max_accuracy_drop": 0.0, "max_abs_error": 0.0}  # a quantized artifact cannot meet it
    root = _recorded_root(artifacts, tmp_path, impossible)
    (result,) = verify_artifacts([root]).results
    assert result.gate.max_abs_error == 0.0 and result.gate.min_agreement == 1.0
    assert result.gate.source == (f"recorded at export in {root / 'artifacts.json'} (recipe strict) [gates.tflite-dynamic] "
                                  "over default for tflite/dynamic")
    assert result.status.value == "parity failed" and "max abs probability error" in result.reason
    # The CLI says which gate applied and where it came from.
    assert main(["verify", str(root)]) == 6
    out = capsys.readouterr().out
    assert ("- tflite-dynamic: top-1 agreement at least 100.00% and accuracy at most 0 points lower and every probability "
            f"within 0 (95% confidence); from recorded at export in {root / 'artifacts.json'}" in out)


def test_recorded_gates_of_another_build_and_a_recipe_both_give_way(artifacts, tiny_run, tmp_path):
    from edgevit.verify.run import verify_artifacts

    # The entry describes another file (the artifact was rebuilt since): the mode's default applies, not the stale gates.
    stale = _recorded_root(artifacts, tmp_path / "stale", {"max_abs_error": 0.0}, sha256="0" * 64)
    (result,) = verify_artifacts([stale]).results
    assert result.gate.source == "default for tflite/dynamic" and result.gate.min_agreement == 0.995
    # An explicit --recipe wins over what was recorded.
    recorded = _recorded_root(artifacts, tmp_path / "recorded", {"max_abs_error": 0.0})
    recipe = tmp_path / "loose.toml"
    recipe.write_text("[gates.tflite-dynamic]\nmin_agreement = 0.5\n")
    (result,) = verify_artifacts([recorded], recipe=recipe).results
    assert result.gate.min_agreement == 0.5 and result.gate.max_abs_error is None
    assert result.gate.source == "recipe [gates.tflite-dynamic] over default for tflite/dynamic"


def test_bad_recorded_gates_are_one_line_naming_artifacts_json(artifacts, tmp_path, capsys):
    root = _recorded_root(artifacts, tmp_path, {"min_agreement": 7})
    assert main(["verify", str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{root / 'artifacts.json'}: [gates.tflite-dynamic]: min_agreement is a fraction from 0 to 1" in err[0], err
