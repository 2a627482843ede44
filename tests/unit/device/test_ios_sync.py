"""`edgevit ios-sync`: the app's Models folder gets the artifacts, manifests, gates and golden vectors."""

from __future__ import annotations

import json
import shutil

import pytest

from edgevit.cli import main
from edgevit.device.gates import golden_gate
from edgevit.device.ios import MODELS_README, default_models_dir
from helpers.device import fake_coreml_artifact as _fake_coreml
from helpers.ios import IOS_DEMO


@pytest.fixture(scope="module")
def files(tiny_tflite_and_golden):
    return tiny_tflite_and_golden


def test_sync_writes_the_layout_the_app_reads(files, tmp_path):
    artifact, golden = files
    coreml = _fake_coreml(artifact, tmp_path)
    models = tmp_path / "app" / "Models"
    models.parent.mkdir()
    assert main(["ios-sync", str(artifact), str(coreml), "--golden", str(golden), "--models-dir", str(models)]) == 0
    index = json.loads((models / "sync.json").read_text())
    assert index["formats"] == {
        "tflite": {"folder": "tflite", "manifest": "tflite/manifest.json", "gate": "tflite/gate.json"},
        "coreml": {"folder": "coreml", "manifest": "coreml/manifest.json", "gate": "coreml/gate.json"},
    }
    assert index["golden"] == "golden/golden.json"
    assert index["model"]["variant"] == "tiny" and index["model"]["macs_per_image"] > 0
    for name in ("model.tflite", "manifest.json", "labels.txt"):
        assert (models / "tflite" / name).read_bytes() == (artifact / name).read_bytes()
    assert (models / "coreml" / "model.mlpackage" / "Data" / "com.apple.CoreML" / "model.mlmodel").read_bytes() == b"\x08\x09spec"
    for name in ("golden.json", "inputs.f32", "probabilities.f32"):
        assert (models / "golden" / name).read_bytes() == (golden / name).read_bytes()
    for fmt, quantization in (("tflite", "dynamic"), ("coreml", "fp16")):
        assert json.loads((models / fmt / "gate.json").read_text()) == golden_gate(fmt, quantization).to_dict(quantization)
    # The README ios-sync writes is the committed one, so a sync leaves git's view of ios_demo clean.
    assert (models / "README.md").read_text() == MODELS_README == (IOS_DEMO / "EdgeViTDemo" / "Models" / "README.md").read_text()

    # A later sync replaces the folder as a whole: nothing of the Core ML artifact is left.
    assert main(["ios-sync", str(artifact), "--golden", str(golden), "--models-dir", str(models)]) == 0
    assert sorted(p.name for p in models.iterdir()) == ["README.md", "golden", "sync.json", "tflite"]
    assert list(json.loads((models / "sync.json").read_text())["formats"]) == ["tflite"]


def test_default_destination_is_this_checkouts_app():
    assert default_models_dir() == IOS_DEMO / "EdgeViTDemo" / "Models"
    assert default_models_dir().is_dir()


def test_sync_refusals(files, tmp_path, capsys):
    artifact, golden = files
    models = tmp_path / "Models"
    onnx = tmp_path / "onnx"
    shutil.copytree(artifact, onnx)
    manifest = json.loads((onnx / "manifest.json").read_text())
    (onnx / "manifest.json").write_text(json.dumps({**manifest, "format": "onnx"}))
    other_model = _fake_coreml(artifact, tmp_path, source={**manifest["source"], "fingerprint": "f" * 64})
    other_golden = tmp_path / "other-golden"
    shutil.copytree(golden, other_golden)
    index = json.loads((other_golden / "golden.json").read_text())
    (other_golden / "golden.json").write_text(json.dumps({**index, "label_names": list(reversed(index["label_names"]))}))
    cases = [
        ([str(onnx)], 2, "the iOS app runs TFLite and Core ML"),
        ([str(artifact), str(artifact)], 2, "two tflite artifacts"),
        ([str(artifact), str(other_model)], 2, "different SavedModels"),
        ([str(artifact), "--golden", str(other_golden)], 3, "label_names differ"),
        ([str(artifact), "--golden", str(golden), "--models-dir", str(tmp_path / "no" / "such" / "Models")], 2, "--models-dir"),
    ]
    for args, code, words in cases:
        argv = ["ios-sync", *args] + ([] if "--models-dir" in args else ["--models-dir", str(models)])
        if "--golden" not in args:
            argv += ["--golden", str(golden)]
        assert main(argv) == code, argv
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1, err
        assert not models.exists()


def test_sync_never_replaces_a_folder_it_did_not_write(files, tmp_path, capsys):
    artifact, golden = files
    folder = tmp_path / "Documents"
    folder.mkdir()
    (folder / "thesis.txt").write_text("mine")
    assert main(["ios-sync", str(artifact), "--golden", str(golden), "--models-dir", str(folder)]) == 2
    assert "did not write" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["thesis.txt"]
