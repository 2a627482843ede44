"""`edgevit ios-sync` puts in only what the app's code path can run, and says in one line what to sync instead.

The app feeds TFLite through TensorFlowLiteSwift's SignatureRunner with float32 tensors (its Tensor.DataType has
no int8) and keys its Core ML compile cache by the manifest's package_sha256. `app_tflite_probabilities` runs
a synced .tflite the way TFLiteClassifier.swift does (one signature, one input and one output, float32 both,
input of [1, H, W, 3], invoke with the input, read the output by name), with LiteRT's Python
SignatureRunner, which wraps the same C API.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgevit.cli import main
from edgevit.portable.golden import read_golden
from helpers.device import fake_coreml_artifact


def app_tflite_probabilities(model: Path, manifest: dict, inputs: np.ndarray) -> np.ndarray:
    """TFLiteClassifier.swift's load and predict, step for step; AssertionError where the app would throw."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model), num_threads=2)
    signatures = interpreter.get_signature_list()
    assert len(signatures) == 1, signatures
    key = next(iter(signatures))
    runner = interpreter.get_signature_runner(key)
    (input_name,), (output_name,) = signatures[key]["inputs"], signatures[key]["outputs"]
    pre = manifest["preprocessing"]
    # Python's runner has no resizeInput(named:) or allocateTensors(): the model's default batch is already the app's 1.
    details_in, details_out = runner.get_input_details()[input_name], runner.get_output_details()[output_name]
    assert list(details_in["shape"]) == [1, pre["height"], pre["width"], 3], details_in["shape"]
    assert int(np.prod(details_out["shape"])) == len(manifest["labels"])
    assert details_in["dtype"] == np.float32 and details_out["dtype"] == np.float32, (details_in["dtype"], details_out["dtype"])
    return np.concatenate([runner(**{input_name: x[None].astype(np.float32)})[output_name] for x in inputs])


def _sync(args: list[str], models: Path, golden: Path) -> int:
    return main(["ios-sync", *args, "--golden", str(golden), "--models-dir", str(models)])


def _with_int8_tensors(artifact: Path, dest: Path) -> Path:
    shutil.copytree(artifact, dest)
    manifest = json.loads((dest / "manifest.json").read_text())
    for side in ("input", "output"):
        manifest[side]["dtype"] = "int8"
    manifest["quantization"] = "int8"
    (dest / "manifest.json").write_text(json.dumps(manifest))
    return dest


def test_a_tflite_with_int8_tensors_is_refused_naming_the_float_io_artifact(tiny_tflite_and_golden, tmp_path, capsys):
    artifact, golden = tiny_tflite_and_golden
    int8 = _with_int8_tensors(artifact, tmp_path / "tflite-int8")
    assert _sync([str(int8)], tmp_path / "Models", golden) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "its input and output tensors are int8" in err and "--float-io" in err, err
    assert not (tmp_path / "Models").exists()

    shutil.copytree(artifact, tmp_path / "tflite-int8-float-io")  # the sibling `edgevit export --float-io` writes
    assert _sync([str(int8)], tmp_path / "Models", golden) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"sync {tmp_path / 'tflite-int8-float-io'} instead" in err, err


def test_a_coreml_package_without_its_hash_is_refused(tiny_tflite_and_golden, tmp_path, capsys):
    artifact, golden = tiny_tflite_and_golden
    coreml = fake_coreml_artifact(artifact, tmp_path, package_sha256=None)
    assert _sync([str(coreml)], tmp_path / "Models", golden) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "package_sha256" in err and "export it again" in err, err


def test_the_synced_tflite_runs_through_the_apps_code_path(tiny_tflite_and_golden, tmp_path):
    artifact, golden = tiny_tflite_and_golden
    models = tmp_path / "Models"
    assert _sync([str(artifact)], models, golden) == 0
    manifest = json.loads((models / "tflite" / "manifest.json").read_text())
    vectors = read_golden(models / "golden")
    got = app_tflite_probabilities(models / "tflite" / manifest["file"], manifest, vectors.inputs)
    gate = json.loads((models / "tflite" / "gate.json").read_text())
    assert got.shape == vectors.probabilities.shape
    assert np.abs(got - vectors.probabilities).max() <= gate["max_abs_error"]


@pytest.mark.slow
def test_every_artifact_the_demo_builds_syncs_or_is_refused_in_one_line(tiny_run, tiny_tflite_and_golden, tmp_path, capsys):
    """Each artifact of export/demo.toml, built for the tiny model: synced and run the app's way, or refused."""
    import coremltools as ct

    from edgevit.exporters import export
    from edgevit.exporters.options import options_to_dict
    from edgevit.recipes import load_recipe

    _, golden = tiny_tflite_and_golden
    recipe = load_recipe(Path(__file__).resolve().parents[3] / "export" / "demo.toml")
    out = tmp_path / "artifacts"
    outcomes = {}
    folders = {job.name: export(job.format.value, saved_model=tiny_run.saved_model, out_dir=out, name=job.name,
                                **options_to_dict(job.options)) for job in recipe.jobs}
    for job in recipe.jobs:
        folder = folders[job.name]
        models = tmp_path / f"Models-{job.name}"
        capsys.readouterr()  # the converters' own warnings, printed while exporting above
        code = _sync([str(folder)], models, golden)
        err = capsys.readouterr().err.strip()
        manifest = json.loads((folder / "manifest.json").read_text())
        if code == 0:
            synced = models / job.format.value
            if job.format.value == "tflite":
                vectors = read_golden(models / "golden")
                got = app_tflite_probabilities(synced / manifest["file"], manifest, vectors.inputs)
                gate = json.loads((synced / "gate.json").read_text())
                assert np.abs(got - vectors.probabilities).max() <= gate["max_abs_error"], job.name
            else:  # Core ML cannot run on Linux: check the feature types the app's MLMultiArray / dictionary path needs
                spec = ct.models.MLModel(str(synced / manifest["file"]), skip_model_load=True).get_spec()
                (feature,) = spec.description.input
                assert feature.type.WhichOneof("Type") == "multiArrayType"
                assert feature.type.multiArrayType.dataType == ct.proto.FeatureTypes_pb2.ArrayFeatureType.FLOAT32
                outputs = {o.name: o.type.WhichOneof("Type") for o in spec.description.output}
                assert outputs[manifest["output"]["name"]] == "dictionaryType"
                assert isinstance(manifest["package_sha256"], str)
            outcomes[job.name] = "synced"
        else:
            assert len(err.splitlines()) == 1, err
            outcomes[job.name] = err
    assert {name for name, outcome in outcomes.items() if outcome == "synced"} == {
        "tflite-dynamic", "tflite-fp16", "tflite-int8-float-io", "coreml-fp16", "coreml-int8"}, outcomes
    assert "sync" in outcomes["tflite-int8"] and "tflite-int8-float-io instead" in outcomes["tflite-int8"]
    assert all("the iOS app runs TFLite and Core ML" in outcomes[n] for n in ("onnx-fp32", "onnx-int8-dynamic"))
