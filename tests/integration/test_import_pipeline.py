"""A model edgevit did not train, in each form a user brings it (a Keras model.export() folder, a .keras file, a
tf.saved_model folder), goes through import -> export --format all -> verify -> bench, every artifact built and
verified, Core ML included (by the numpy MIL interpreter, which must know MobileNetV3's CNN ops).

Slow: a MobileNetV3Small (64 px, 3 classes, weights=None) is fitted for a few epochs on synthetic birds, then
each form is exported to every format (one process per artifact) and benchmarked. The fast tests of import
itself are tests/unit/savedmodel/test_import.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgevit.cli import main
from helpers import cnn_models

pytestmark = pytest.mark.slow

FORMS = ("keras-export", "keras-file", "tf-savedmodel")


@pytest.fixture(scope="module")
def birds(tmp_path_factory) -> Path:
    from edgevit.data.synth import write_synthetic_birds

    root = tmp_path_factory.mktemp("import-birds") / "birds"
    write_synthetic_birds(root, num_classes=3, per_class=60, eval_per_class=10, image_size=64, seed=4)
    return root


@pytest.fixture(scope="module")
def models(birds, tmp_path_factory) -> dict[str, Path]:
    """The same fitted MobileNetV3Small saved in each form."""
    import tensorflow as tf

    model = cnn_models.trained_mobilenet_v3_small(birds)
    folder = tmp_path_factory.mktemp("import-models")
    model.export(str(folder / "exported"), verbose=False)
    model.save(folder / "mobilenet.keras")
    tf.saved_model.save(model, str(folder / "tf_saved_model"))
    labels = folder / "labels.txt"
    labels.write_text("\n".join(sorted(p.name for p in (birds / "train").iterdir())) + "\n")
    return {"keras-export": folder / "exported", "keras-file": folder / "mobilenet.keras",
            "tf-savedmodel": folder / "tf_saved_model", "labels": labels}


def _read(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.parametrize("form", FORMS)
def test_import_export_all_verify_bench(form, models, birds, tmp_path, capsys):
    run = tmp_path / "run"
    saved_model, artifacts = run / "saved_model", run / "artifacts"
    assert main(["import", str(models[form]), "--out", str(run), "--labels", str(models["labels"]), "--preprocess", "[0,255]"]) == 0
    assert f"imported {form}" in capsys.readouterr().out
    assert _read(saved_model / "manifest.json")["model"]["imported"]["form"] == form

    assert main(["export", str(saved_model), "--out", str(artifacts), "--format", "all"]) == 0
    index = _read(artifacts / "artifacts.json")
    entries = index["artifacts"] if isinstance(index["artifacts"], list) else list(index["artifacts"].values())
    assert {e["format"] for e in entries} == {"tflite", "onnx", "coreml"}
    assert all(e["status"] == "ok" for e in entries), entries

    verify_json = run / "verify.json"
    records = run / "verify-records.json"
    code = main(["verify", str(artifacts), "--data", str(birds), "--json", str(verify_json), "--records", str(records)])
    verified = _read(verify_json)
    statuses = {a["name"]: a["status"] for a in verified["artifacts"]}
    # Every artifact is run and judged by its unchanged gate: a verdict with its numbers, never "failed to load"
    # or "cannot verify". The float artifacts pass; dynamic-range int8 TFLite of a briefly fitted MobileNetV3 may
    # flip an image (1 of 30 in one run: 96.7% agreement against the 99.5% gate), which verify reports, exit 6.
    assert all(a["metrics"] is not None for a in verified["artifacts"]), statuses
    assert set(statuses.values()) <= {"passed", "parity failed"}, statuses
    assert statuses["coreml-fp16"] == "passed" and statuses["onnx-fp32"] == "passed", statuses
    assert code == (0 if set(statuses.values()) == {"passed"} else 6)
    coreml = next(a for a in verified["artifacts"] if a["name"].startswith("coreml"))
    assert coreml["runtime"]["name"] == "coreml-mil-numpy" and coreml["runtime"]["emulated"]

    bench = run / "bench.json"
    assert main(["bench", str(artifacts), "--saved-model", str(saved_model), "--verify", str(records), "--threads", "1",
                 "--runs", "3", "--warmup", "1", "--batch", "2", "--batch-runs", "1", "--devices", "cpu",
                 "--out", str(bench)]) == 0
    measured = [r for r in _read(bench)["records"] if r["kind"] == "bench"]
    for record in measured:
        fmt = record["artifact"]["format"]
        if fmt == "coreml":  # Core ML itself runs on macOS only; here it is "not available", with the reason
            assert record["status"] in ("ok", "not available"), record
        else:
            assert record["status"] == "ok", (record["artifact"]["name"], record["status"], record.get("reason"))
    assert {r["artifact"]["format"] for r in measured if r["status"] == "ok"} >= {"savedmodel", "tflite", "onnx"}


def test_an_op_the_interpreter_lacks_is_cannot_verify_in_verify_records_and_report(models, birds, tmp_path, monkeypatch):
    """The same Core ML artifact, with the interpreter made to forget relu6: "cannot verify", not "failed to load"."""
    from edgevit.records import validate_record
    from edgevit.report import write_report
    from edgevit.runners.mil import interpreter
    from edgevit.verify.report import report_to_records, summary_error
    from edgevit.verify.results import Status
    from edgevit.verify.run import verify_artifacts

    run = tmp_path / "run"
    assert main(["import", str(models["keras-file"]), "--out", str(run), "--labels", str(models["labels"]),
                 "--preprocess", "[0,255]"]) == 0
    assert main(["export", str(run / "saved_model"), "--out", str(run / "artifacts"), "--format", "coreml"]) == 0
    monkeypatch.setattr(interpreter, "SUPPORTED_OPS", tuple(op for op in interpreter.SUPPORTED_OPS if op != "relu6"))
    report = verify_artifacts([run / "artifacts"], saved_model=run / "saved_model", data=birds)
    (result,) = report.results
    assert result.status is Status.CANNOT_VERIFY
    assert result.reason.startswith("cannot verify Core ML here: op relu6")
    # Unverified is not verified: the command does not claim success, and says why (exit 8, like an undecided verdict).
    error = summary_error(report)
    assert not report.passed and error.exit_code == 8 and "cannot verify Core ML here: op relu6" in str(error)
    (record,) = report_to_records(report)
    assert record["status"] == "cannot verify" and record["reason"].startswith("cannot verify Core ML here: op relu6")
    assert validate_record(record) == []
    paths = write_report([record], tmp_path / "report", title="t", commands=["test"])
    assert paths.markdown.is_file()


def test_inception_v3_core_ml_is_verified_by_the_interpreter(birds, tmp_path):
    """InceptionV3 (keras.applications, weights=None, 75 px): its Core ML program (conv, relu, max/avg pooling,
    concat) runs in the numpy interpreter and matches the SavedModel within the fp16 gate."""
    run, labels = tmp_path / "run", tmp_path / "labels.txt"
    labels.write_text("\n".join(sorted(p.name for p in (birds / "train").iterdir())) + "\n")
    assert main(["import", "tests/helpers/cnn_models.py:inception_v3", "--out", str(run), "--labels", str(labels),
                 "--preprocess", "[-1,1]"]) == 0
    assert main(["export", str(run / "saved_model"), "--out", str(run / "artifacts"), "--format", "coreml"]) == 0
    from edgevit.runners.mil import load_program, unsupported_ops

    program = load_program(run / "artifacts" / "coreml-fp16" / "model.mlpackage")
    assert unsupported_ops(program) == [] and {"max_pool", "avg_pool", "relu", "conv"} <= set(program.op_types)
    assert main(["verify", str(run / "artifacts"), "--data", str(birds), "--max-images", "12", "--json", str(run / "v.json")]) == 0
    (result,) = _read(run / "v.json")["artifacts"]
    assert result["status"] == "passed" and result["runtime"]["name"] == "coreml-mil-numpy"
