"""`edgevit ios-sync` refuses a .tflite the app's pinned TensorFlowLiteSwift cannot load, in one line, and
syncs one exported for that runtime."""

from __future__ import annotations

import json

import pytest

from edgevit.cli import main
from edgevit.device.ios import podfile_for
from helpers.ios import IOS_DEMO


@pytest.fixture(scope="module")
def golden(tiny_tflite_and_golden):
    return tiny_tflite_and_golden[1]


def _app(tmp_path, pin: str):
    """An app folder laid out as ios_demo: Podfile beside EdgeViTDemo/Models."""
    app = tmp_path / "ios_demo"
    (app / "EdgeViTDemo").mkdir(parents=True)
    (app / "Podfile").write_text(f"platform :ios, '16.0'\ntarget 'EdgeViTDemo' do\n  pod 'TensorFlowLiteSwift', '{pin}'\nend\n")
    return app / "EdgeViTDemo" / "Models"


def test_the_podfile_beside_the_models_folder_is_the_one_checked(tmp_path):
    models = _app(tmp_path, "~> 2.14")
    assert podfile_for(models) == tmp_path / "ios_demo" / "Podfile"
    assert podfile_for(tmp_path / "elsewhere" / "Models") == IOS_DEMO / "Podfile"


def test_an_artifact_newer_than_the_pinned_pod_is_refused_and_one_for_it_syncs(tiny_tflite_for_old_runtimes, golden, tmp_path,
                                                                                capsys):
    models = _app(tmp_path, "~> 2.14")
    default = tiny_tflite_for_old_runtimes["dynamic"]
    assert main(["ios-sync", str(default), "--golden", str(golden), "--models-dir", str(models)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "needs TFLite 2.17.0 (FULLY_CONNECTED version 12)" in err, err
    assert "--min-runtime 2.14" in err and not models.exists()
    old = tiny_tflite_for_old_runtimes["dynamic-rt2.14"]
    assert main(["ios-sync", str(old), "--golden", str(golden), "--models-dir", str(models)]) == 0
    synced = json.loads((models / "tflite" / "manifest.json").read_text())
    assert synced["runtime_support"]["min_runtime_version"] == "2.9.0"


def test_the_committed_podfile_takes_the_weight_quantized_and_fp16_artifacts(tiny_tflite_for_old_runtimes, golden, tmp_path):
    for name, folder in tiny_tflite_for_old_runtimes.items():
        models = tmp_path / name / "Models"
        models.parent.mkdir()
        assert main(["ios-sync", str(folder), "--golden", str(golden), "--models-dir", str(models),
                     "--podfile", str(IOS_DEMO / "Podfile")]) == 0, name


def test_a_damaged_model_or_manifest_field_is_one_line_not_a_crash(tiny_tflite_for_old_runtimes, golden, tmp_path, capsys):
    from helpers.verify import copy_artifact, edit_manifest

    from edgevit.fsutil import sha256_file

    broken = copy_artifact(tiny_tflite_for_old_runtimes["fp16"], tmp_path, "broken")
    (broken / "model.tflite").write_bytes(b"TFL3 but not a flatbuffer")  # its manifest made to match, as a hostile one could
    edit_manifest(broken, sha256=sha256_file(broken / "model.tflite"), file_size=(broken / "model.tflite").stat().st_size)
    (tmp_path / "app").mkdir()
    assert main(["ios-sync", str(broken), "--golden", str(golden), "--models-dir", str(tmp_path / "app" / "Models"),
                 "--podfile", str(IOS_DEMO / "Podfile")]) == 4
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a readable .tflite model" in err, err
