"""`edgevit export`: bad input is one line and a non-zero exit before any converter starts; several
artifacts build in their own processes, a failing one does not stop the rest, a killed one leaves
nothing behind, and OUT/artifacts.json tells each status."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
from helpers.exports import copy_manifest_only, read_json, save_module

from edgevit.cli import build_parser, main
from edgevit.errors import UsageError
from edgevit.exporters import ArtifactJob, export_all


def run_cli(capsys, *argv) -> tuple[int, list[str], str]:
    code = main(["export", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.err.strip().splitlines(), captured.out


def assert_one_line(code, err, exit_code, *fragments):
    assert code == exit_code, err
    assert len(err) == 1 and err[0].startswith("edgevit: error: "), err
    for fragment in fragments:
        assert fragment in err[0], err[0]


# ------------------------------------------------------------------------------ bad input, no child


def test_a_folder_without_saved_model_pb(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    code, err, _ = run_cli(capsys, tmp_path / "empty", "--out", tmp_path / "out", "--format", "tflite")
    assert_one_line(code, err, 4, "not a SavedModel folder")
    assert not (tmp_path / "out").exists()


def test_a_file_instead_of_a_folder(capsys, tiny_run, tmp_path):
    code, err, _ = run_cli(capsys, tiny_run.saved_model / "saved_model.pb", "--out", tmp_path / "out", "--format", "all")
    assert_one_line(code, err, 4, "not a SavedModel folder")


def test_a_savedmodel_with_several_signatures(capsys, tiny_run, tmp_path):
    import tensorflow as tf

    spec = tf.TensorSpec([None, 32, 32, 3], tf.float32, name="images")
    folder = save_module(tmp_path / "two", {"serving_default": spec, "other": spec})
    copy_manifest_only(tiny_run, folder)
    code, err, _ = run_cli(capsys, folder, "--out", tmp_path / "out", "--format", "onnx")
    assert_one_line(code, err, 4, "expected exactly one serving signature, found 2 (other, serving_default)")


def test_a_savedmodel_without_a_fixed_input_size(capsys, tiny_run, tmp_path):
    import tensorflow as tf

    folder = save_module(tmp_path / "any-size", {"serving_default": tf.TensorSpec([None, None, None, 3], tf.float32, name="images")})
    copy_manifest_only(tiny_run, folder)
    code, err, _ = run_cli(capsys, folder, "--out", tmp_path / "out", "--format", "coreml")
    assert_one_line(code, err, 4, "[None, None, None, 3]", "fixed image size")


def test_the_signature_reader_agrees_with_tensorflow(tiny_run):
    from tensorflow.core.protobuf import saved_model_pb2

    from edgevit.savedmodel.proto import read_signatures

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((tiny_run.saved_model / "saved_model.pb").read_bytes())
    (ours,) = read_signatures(tiny_run.saved_model / "saved_model.pb")
    theirs = proto.meta_graphs[0].signature_def
    assert set(ours) == set(theirs)
    for key, signature in theirs.items():
        for name, info in signature.inputs.items():
            assert ours[key].inputs[name].shape == tuple(d.size if d.size >= 0 else None for d in info.tensor_shape.dim)
            assert ours[key].inputs[name].dtype == info.dtype


def test_an_unwritable_output_folder(capsys, tiny_run, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, err, _ = run_cli(capsys, tiny_run.saved_model, "--out", blocker / "out", "--format", "tflite")
    assert_one_line(code, err, 2, "is a file, not a folder")  # a bad output path is a usage error, found before any child


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--format", "tensorrt"], ["invalid choice: 'tensorrt'"]),
        (["--format", "tflite", "--quantization", "int4"], ["unknown TFLite quantization 'int4'; known: dynamic, fp32, fp16, int8"]),
        (["--format", "onnx", "--quantization", "int8"], ["unknown ONNX quantization 'int8'; known: fp32, fp16, int8-dynamic"]),
        (["--format", "coreml", "--quantization", "palettize2"], ["known: fp16, fp32, int8, palettize6, palettize4"]),
        (["--format", "onnx", "--opset", "19"], ["ONNX opset", "got 19"]),
        (["--format", "coreml", "--minimum-ios", "15"], ["minimum iOS", "got 15"]),
        (["--format", "tflite", "--opset", "13"], ["--opset is a onnx option"]),
        (["--format", "all", "--quantization", "fp16"], ["--format all builds each format's default"]),
        (["--format", "tflite", "--quantization", "fp16,int8", "--name", "x"], ["--name names one artifact"]),
        (["--format", "tflite", "--quantization", "fp32", "--data", "somewhere"], ["--data is only used by TFLite int8"]),
        (["--format", "tflite", "--name", "../escape"], ["artifact name '../escape'"]),
        (["--quantization", "int4"], ["unknown TFLite quantization 'int4'"]),  # no --format: TFLite
    ],
)
def test_bad_options_are_one_line_and_exit_2(capsys, tmp_path, args, fragments):
    code, err, _ = run_cli(capsys, tmp_path / "no-model-needed", "--out", tmp_path / "out", *args)
    assert_one_line(code, err, 2, *fragments)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "text, fragments",
    [
        ('[artifacts.a]\nformat = "tflite"\nbits = 4\n', ["[artifacts.a]", "unknown tflite option(s) bits"]),
        ('[artifacts.a]\nquantization = "fp16"\n', ["[artifacts.a] has no format"]),
        ('[artifacts.a]\nformat = "onnx"\n[gates.b]\nmin_agreement = 0.9\n', ["[gates.b] names no artifact"]),
        ('[artifacts.a]\nformat = "onnx"\n[gates.a]\nmin_agreement = 1.5\n', ["min_agreement is a fraction"]),
        ('[artifacts.a]\nformat = "onnx"\n[gates.a]\nmax_error = 0.1\n', ["unknown key(s) max_error"]),
        ('[artifacts.a]\nformat = "onnx"\n[other]\n', ["unknown top-level table(s) other"]),
        ('[recipe\n', ["not valid TOML"]),
        ('[recipe]\nname = "empty"\n', ["no [artifacts.<name>] tables"]),
    ],
)
def test_bad_recipes_are_one_line_naming_the_file(capsys, tmp_path, text, fragments):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(text)
    code, err, _ = run_cli(capsys, tmp_path / "no-model-needed", "--out", tmp_path / "out", "--recipe", recipe)
    assert_one_line(code, err, 2, str(recipe), *fragments)


def test_shipped_recipes_load_and_gate_every_artifact():
    from edgevit.exporters.options import default_name
    from edgevit.recipes import load_recipe

    root = Path(__file__).resolve().parents[2] / "export"
    demo = load_recipe(root / "demo.toml")
    assert [j.name for j in demo.jobs] == ["tflite-dynamic", "tflite-fp16", "tflite-int8", "tflite-int8-float-io", "onnx-fp32",
                                           "onnx-int8-dynamic", "coreml-fp16", "coreml-int8"]
    birds = load_recipe(root / "birds-vit-l32.toml")
    assert [j.name for j in birds.jobs] == ["tflite-dynamic", "onnx-fp32", "coreml-fp16", "coreml-int8"]
    for recipe in (demo, birds):
        assert all(job.gates for job in recipe.jobs) and recipe.command.startswith("edgevit export ")
        assert all(job.name == default_name(job.options) for job in recipe.jobs)  # <format>-<quantization>[-float-io]


def _planned(*argv) -> list[tuple[str, str]]:
    from edgevit.commands.export import _jobs

    args = build_parser().parse_args(["export", "SM", "--out", "OUT", *argv])
    jobs, recipe = _jobs(args)
    return [(j.name, j.format.value) for j in (jobs if jobs is not None else recipe.jobs)]


def test_format_all_plans_each_formats_default_and_quantizations_are_comma_separated():
    assert _planned("--format", "all") == [("tflite-dynamic", "tflite"), ("onnx-fp32", "onnx"), ("coreml-fp16", "coreml")]
    assert _planned("--format", "tflite") == [("tflite-dynamic", "tflite")]
    assert _planned() == [("tflite-dynamic", "tflite")]  # no --format: weight-quantized TFLite
    assert _planned("--format", "tflite", "--quantization", "fp32,int8") == [("tflite-fp32", "tflite"), ("tflite-int8", "tflite")]
    assert _planned("--format", "onnx", "--name", "mine") == [("mine", "onnx")]
    demo = str(Path(__file__).resolve().parents[2] / "export" / "demo.toml")
    assert _planned("--recipe", demo, "--format", "coreml") == [("coreml-fp16", "coreml"), ("coreml-int8", "coreml")]
    with pytest.raises(UsageError, match="only --format"):
        _planned("--recipe", demo, "--quantization", "fp16")


# ------------------------------------------------------------------------ child processes, for real


def _bad_calibration_data(tiny_run, folder: Path) -> Path:
    shutil.copytree(tiny_run.data_root / "train", folder / "train")
    victim = sorted(p for p in (folder / "train").rglob("*") if p.is_file())[0]
    victim.write_bytes(b"not an image")
    return victim


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith("."))


def test_a_failing_artifact_does_not_stop_the_others(capsys, tiny_run, tmp_path):
    victim = _bad_calibration_data(tiny_run, tmp_path / "bad-data")
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(
        '[recipe]\nname = "mixed"\n'
        '[artifacts.tflite-int8]\nformat = "tflite"\nquantization = "int8"\ndata = "bad-data"\nrepresentative_images = 240\n'
        '[artifacts.tflite-dynamic]\nformat = "tflite"\n'
        '[artifacts.onnx-fp32]\nformat = "onnx"\n'
        '[artifacts.coreml-fp16]\nformat = "coreml"\n'
        '[gates.tflite-dynamic]\nmin_agreement = 0.9\n'
    )
    out = tmp_path / "out"
    code, err, printed = run_cli(capsys, tiny_run.saved_model, "--out", out, "--recipe", recipe)
    assert_one_line(code, err, 5, "1 of 4 artifacts failed: tflite-int8")
    assert "FAILED  tflite-int8" in printed and printed.count("  ok      ") == 3

    index = read_json(out / "artifacts.json")
    assert index["recipe"]["name"] == "mixed" and len(index["source"]["fingerprint"]) == 64
    entries = {e["name"]: e for e in index["artifacts"]}
    assert [e["status"] for e in index["artifacts"]] == ["failed", "ok", "ok", "ok"]
    assert victim.name in entries["tflite-int8"]["error"] and entries["tflite-int8"]["exit_code"] == 3
    assert not (out / "tflite-int8").exists() and _leftovers(out) == []
    assert entries["tflite-dynamic"]["gates"] == {"min_agreement": 0.9}
    for name in ("tflite-dynamic", "onnx-fp32", "coreml-fp16"):
        entry, manifest = entries[name], read_json(out / name / "manifest.json")
        assert entry["file"] == f"{name}/{manifest['file']}" and entry["sha256"] == manifest["sha256"]
        assert entry["file_size"] == manifest["file_size"] > 0
        # The child's own high-water mark when it wrote its manifest cannot exceed its final peak.
        assert 100 * 2**20 < manifest["conversion"]["peak_rss_bytes"] <= entry["peak_rss_bytes"] < 8 * 2**30
        assert entry["seconds"] > manifest["conversion"]["seconds"] > 0
        assert (out / entry["log"]).stat().st_size > 0

    # A later run of one artifact updates its entry and keeps the other artifacts of the same model.
    results = export_all(saved_model=tiny_run.saved_model, out_dir=out,
                         jobs=[ArtifactJob.create("tflite", quantization="int8", data=str(tmp_path / "missing"))])
    assert [r.status for r in results] == ["failed"] and "does not exist" in results[0].error
    after = {e["name"]: e["status"] for e in read_json(out / "artifacts.json")["artifacts"]}
    assert after == {"tflite-int8": "failed", "tflite-dynamic": "ok", "onnx-fp32": "ok", "coreml-fp16": "ok"}


@pytest.mark.parametrize("signum, expected", [(signal.SIGKILL, (-signal.SIGKILL, "killed by SIGKILL")),
                                               (signal.SIGTERM, (128 + signal.SIGTERM, "exited with code 143"))])
def test_a_killed_converter_leaves_no_partial_artifact(tiny_run, tmp_path, signum, expected):
    out = tmp_path / "out"
    results = []
    worker = threading.Thread(target=lambda: results.extend(
        export_all(saved_model=tiny_run.saved_model, out_dir=out, jobs=[ArtifactJob.create("tflite")])))
    worker.start()
    deadline = time.monotonic() + 120
    temp = []
    while not temp and time.monotonic() < deadline and worker.is_alive():
        temp = list(out.glob(".tflite-dynamic.tmp-*")) if out.exists() else []
        time.sleep(0.05)
    assert temp, "the converter never started its artifact folder"
    child_pid = int(temp[0].name.rsplit("-", 1)[1])  # fsutil names the temp folder after the writing process
    os.kill(child_pid, signum)
    worker.join(timeout=60)

    (result,) = results
    exit_code, message = expected
    assert result.status == "failed" and result.exit_code == exit_code and message in result.error
    # SIGTERM: the child unwinds through its atomic folder; SIGKILL: the parent removes what the child left.
    assert not (out / "tflite-dynamic").exists() and _leftovers(out) == []
    assert json.loads((out / "artifacts.json").read_text())["artifacts"][0]["status"] == "failed"


def test_sigterm_wrapped_by_tensorflow_still_exits_as_terminated(monkeypatch):
    """SIGTERM's SystemExit raised inside TF's C++ comes back as a RuntimeError: a termination, not a converter bug."""
    import edgevit.exporters
    from edgevit.exporters import worker

    def converter_hit_by_sigterm(*args, **kwargs):
        try:
            worker._exit_on_sigterm(signal.SIGTERM, None)
        except SystemExit as exc:  # what pybind11 does with it
            raise RuntimeError(f"pybind11::error_already_set: REPLACED BY SystemExit: {exc.code}") from None

    monkeypatch.setattr(edgevit.exporters, "export", converter_hit_by_sigterm)
    monkeypatch.setattr(worker, "_terminated_by", None)
    with pytest.raises(SystemExit) as exit_info:
        worker.run({"format": "tflite", "saved_model": "sm", "out_dir": "out", "name": "x", "options": {}})
    assert exit_info.value.code == 128 + signal.SIGTERM


def test_a_converter_bug_is_an_internal_error_not_a_termination(monkeypatch):
    import edgevit.exporters
    from edgevit.exporters import worker

    def buggy_converter(*args, **kwargs):
        raise RuntimeError("converter bug")

    monkeypatch.setattr(edgevit.exporters, "export", buggy_converter)
    monkeypatch.setattr(worker, "_terminated_by", None)
    code, result = worker.run({"format": "tflite", "saved_model": "sm", "out_dir": "out", "name": "x", "options": {}})
    assert code == worker.INTERNAL_ERROR_EXIT and result["error"] == "internal error: RuntimeError: converter bug"


def test_sigint_wrapped_by_tensorflow_still_reports_an_interrupt(monkeypatch):
    import edgevit.exporters
    from edgevit.exporters import worker

    def converter_hit_by_sigint(*args, **kwargs):
        try:
            worker._interrupt_on_sigint(signal.SIGINT, None)
        except KeyboardInterrupt:
            raise RuntimeError("pybind11::error_already_set: REPLACED BY KeyboardInterrupt") from None

    monkeypatch.setattr(edgevit.exporters, "export", converter_hit_by_sigint)
    monkeypatch.setattr(worker, "_terminated_by", None)
    code, result = worker.run({"format": "tflite", "saved_model": "sm", "out_dir": "out", "name": "x", "options": {}})
    assert code == worker.INTERRUPTED_EXIT and result["error"].startswith("interrupted")
