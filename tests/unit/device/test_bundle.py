"""`edgevit device bundle` and the bundle's harness, run with this venv's Python (full stack installed).

The stripped-venv run that proves the harness is standalone is in test_device_standalone.py.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from helpers.device import run_harness, startup_folder
from edgevit.cli import main
from edgevit.device import HARNESS_PACKAGE
from edgevit.device.gates import golden_gate
from edgevit.fsutil import sha256_file
from edgevit.records import validate_document


@pytest.fixture(scope="module")
def files(tiny_tflite_and_golden):
    return tiny_tflite_and_golden


@pytest.fixture(scope="module")
def bundle(files, tmp_path_factory):
    artifact, golden = files
    out = tmp_path_factory.mktemp("bundles") / "tiny-dynamic"
    assert main(["device", "bundle", str(artifact), str(out), "--golden", str(golden), "--zip", "--runs", "20"]) == 0
    return out


def _copy(bundle, tmp_path):
    dest = tmp_path / "bundle"
    shutil.copytree(bundle, dest)
    return dest


def _litert_outputs(model_path, inputs):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_path), num_threads=1)
    interpreter.allocate_tensors()
    detail, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    rows = []
    for image in inputs:
        interpreter.set_tensor(detail["index"], image[None])
        interpreter.invoke()
        rows.append(interpreter.get_tensor(out["index"])[0].copy())
    return np.stack(rows)


def test_bundle_holds_exactly_the_harness_artifact_golden_and_gate(bundle, files):
    artifact, golden = files
    assert sorted(p.name for p in bundle.iterdir()) == ["README.md", "artifact", "bundle.json", "golden", "harness", "run.py"]
    shipped = sorted(p.name for p in (bundle / "harness").iterdir())
    assert shipped == sorted(p.name for p in HARNESS_PACKAGE.glob("*.py"))  # no __pycache__, nothing else
    for name in shipped:
        assert (bundle / "harness" / name).read_bytes() == (HARNESS_PACKAGE / name).read_bytes()
    index = json.loads((bundle / "bundle.json").read_text())
    dynamic = golden_gate("tflite", "dynamic")
    assert index["gate"] == dynamic.to_dict("dynamic")
    assert index["gate"]["max_abs_error"] == 0.05 and index["gate"]["min_agreement"] == 0.995
    assert index["defaults"]["runs"] == 20
    assert index["model"]["variant"] == "tiny" and index["model"]["flops_per_image"] == 2 * index["model"]["macs_per_image"] > 0
    manifest = json.loads((bundle / "artifact" / "manifest.json").read_text())
    assert sha256_file(bundle / "artifact" / manifest["file"]) == manifest["sha256"] == json.loads((artifact / "manifest.json").read_text())["sha256"]
    assert sorted(p.name for p in (bundle / "golden").iterdir()) == ["golden.json", "inputs.f32", "probabilities.f32"]
    readme = (bundle / "README.md").read_text()
    assert "python3 run.py" in readme and f"at most {dynamic.max_abs_error} and top-1 agreement at least 99.5%" in readme and "ai-edge-litert==" in readme


def test_zip_names_stay_inside_one_folder(bundle):
    with zipfile.ZipFile(bundle.with_name(bundle.name + ".zip")) as archive:
        names = archive.namelist()
    files = sorted(f"{bundle.name}/{p.relative_to(bundle).as_posix()}" for p in bundle.rglob("*") if p.is_file())
    assert sorted(names) == files
    assert all(not n.startswith("/") and ".." not in n.split("/") for n in names)


def test_harness_record_follows_the_schema_and_its_parity_numbers_are_right(bundle, tmp_path):
    from edgevit.portable.machine import fingerprint as machine_fingerprint

    code, document, output = run_harness(sys.executable, bundle)
    assert code == 0, output
    assert validate_document(document) == []
    (record,) = document["records"]
    assert record["status"] == "ok" and record["reason"] is None and record["producer"]["name"] == "edgevit-device"
    # Recompute parity here, independently of the harness.
    index = json.loads((bundle / "golden" / "golden.json").read_text())
    inputs = np.fromfile(bundle / "golden" / "inputs.f32", "<f4").reshape(index["input_shape"])
    reference = np.fromfile(bundle / "golden" / "probabilities.f32", "<f4").reshape(index["count"], index["num_classes"])
    ours = _litert_outputs(bundle / "artifact" / "model.tflite", inputs)
    parity = record["parity"]
    assert parity["count"] == index["count"] == 12
    assert parity["max_abs_diff"] == pytest.approx(float(np.abs(ours - reference).max()), abs=1e-6)
    assert 0 < parity["max_abs_diff"] <= parity["gate"]["max_abs_error"]  # dynamic range is lossy, within its gate
    assert parity["agreement"] == float(np.mean(ours.argmax(1) == reference.argmax(1)))
    assert parity["accuracy"] == float(np.mean(ours.argmax(1) == np.array(index["true_labels"])))
    latency = record["latency"]
    assert latency["runs"] == len(latency["samples_ms"]) == 20 and latency["warmup"] == 5
    assert 0 < latency["min_ms"] <= latency["p50_ms"] <= latency["p90_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    assert latency["p50_ms"] == pytest.approx(float(np.percentile(latency["samples_ms"], 50)))
    assert record["load_ms"] > 0 and record["first_inference_ms"] > 0
    assert [t["batch"] for t in record["throughput"]] == [1, 8] and all(t["images_per_second"] > 0 for t in record["throughput"])
    assert record["memory"]["peak_rss_bytes"] >= record["memory"]["rss_before_load_bytes"] > 0
    assert record["runtime"]["name"] == "litert" and record["runtime"]["version"] == "2.3.0"
    assert record["model"] == json.loads((bundle / "bundle.json").read_text())["model"]
    assert record["machine"]["id"] == machine_fingerprint()["id"]  # device and host results line up by name
    assert "parity on 12 golden vectors" in output and "p50" in output


def test_damaged_model_is_refused_with_a_failed_record(bundle, tmp_path):
    copy = _copy(bundle, tmp_path)
    model = copy / "artifact" / "model.tflite"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    code, document, output = run_harness(sys.executable, copy)
    assert code == 4, output
    assert validate_document(document) == []
    (record,) = document["records"]
    assert record["status"] == "failed" and "sha256" in record["reason"] and record["latency"] is None


def test_parity_failure_writes_the_record_and_exits_6(bundle, tmp_path):
    copy = _copy(bundle, tmp_path)
    index = json.loads((copy / "golden" / "golden.json").read_text())
    path = copy / "golden" / "probabilities.f32"
    reference = np.fromfile(path, "<f4").reshape(index["count"], index["num_classes"])
    np.roll(reference, 1, axis=1).astype("<f4").tofile(path)  # every reference top-1 moves to another class
    code, document, output = run_harness(sys.executable, copy)
    assert code == 6, output
    assert validate_document(document) == []
    (record,) = document["records"]
    parity = record["parity"]
    assert record["status"] == "parity failed" and parity["passed"] is False
    assert parity["agreement"] == 0.0 and parity["flips"] == 12
    assert parity["max_abs_diff"] > golden_gate("tflite", "dynamic").max_abs_error
    assert "agreement 0.00%" in record["reason"] and "max |probability difference|" in record["reason"]
    assert record["latency"]["runs"] == 20  # still measured: parity failed is not "not measured"


def test_the_gate_written_at_bundle_time_is_the_one_applied(files, tmp_path):
    artifact, golden = files
    out = tmp_path / "strict"
    assert main(["device", "bundle", str(artifact), str(out), "--golden", str(golden), "--max-abs-error", "0", "--runs", "3"]) == 0
    code, document, output = run_harness(sys.executable, out)
    assert code == 6, output
    (record,) = document["records"]
    assert record["parity"]["gate"]["max_abs_error"] == 0 and record["parity"]["agreement"] == 1.0
    assert record["parity"]["gate"]["source"] == "edgevit.verify.gates tflite/dynamic + device probability bound + overridden at bundle time"
    assert record["reason"].startswith("max |probability difference|") and "agreement" not in record["reason"]


@pytest.mark.parametrize("where, value", [("bundle.json", "../outside"), ("artifact/manifest.json", "../../bundle.json")])
def test_paths_cannot_lead_out_of_the_bundle(bundle, tmp_path, where, value):
    copy = _copy(bundle, tmp_path)
    path = copy / where
    data = json.loads(path.read_text())
    data["artifact_dir" if where == "bundle.json" else "file"] = value
    path.write_text(json.dumps(data))
    code, document, output = run_harness(sys.executable, copy)
    assert code == 4, output
    assert "outside the bundle" in document["records"][0]["reason"]


def test_missing_runtime_is_a_not_available_record(bundle, tmp_path):
    guard = startup_folder(
        tmp_path,
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('ai_edge_litert', 'tflite_runtime'):\n"
        "            raise ImportError('No module named ' + repr(name))\n"
        "sys.meta_path.insert(0, Block())\n")
    code, document, output = run_harness(sys.executable, bundle, env={"PYTHONPATH": str(guard), "PATH": "/usr/bin:/bin"})
    assert code == 4, output
    (record,) = document["records"]
    assert record["status"] == "not available" and "pip install ai-edge-litert or tflite-runtime" in record["reason"]
    assert validate_document(document) == []


def test_bad_option_is_one_line_and_exit_2(bundle):
    code, document, output = run_harness(sys.executable, bundle, "--runs", "0")
    assert code == 2 and document is None
    assert output.strip().splitlines() == ["run.py: error: run.py: argument --runs: must be at least 1, got 0 (see --help)"]
    # A control character typed on the device cannot break the line either (the host's rule, portable.errors.one_line).
    code, document, output = run_harness(sys.executable, bundle, "\x1e")
    assert code == 2 and document is None
    assert output.strip().splitlines() == ["run.py: error: run.py: unrecognized arguments: \\x1e (see --help)"]


def _fake_artifact(artifact, tmp_path, name="fake-artifact", **changes):
    fake = tmp_path / name
    shutil.copytree(artifact, fake)
    manifest = json.loads((fake / "manifest.json").read_text())
    manifest.update(changes)
    (fake / "manifest.json").write_text(json.dumps(manifest))
    return fake


def test_bundle_refusals(files, tmp_path, capsys):
    artifact, golden = files
    cases = []
    cases.append((["device", "bundle", str(_fake_artifact(artifact, tmp_path, format="coreml")), str(tmp_path / "a"), "--golden", str(golden)], 2, "ios-sync"))
    other = tmp_path / "other-golden"
    shutil.copytree(golden, other)
    index = json.loads((other / "golden.json").read_text())
    index["reference"]["fingerprint"] = "0" * 64
    (other / "golden.json").write_text(json.dumps(index))
    cases.append((["device", "bundle", str(artifact), str(tmp_path / "b"), "--golden", str(other)], 3, "another SavedModel"))
    cases.append((["device", "bundle", str(artifact), str(tmp_path / "c"), "--golden", str(tmp_path / "nowhere")], 3, "--write-golden"))
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    cases.append((["device", "bundle", str(artifact), str(busy), "--golden", str(golden)], 2, "not an edgevit bundle"))
    cases.append((["device", "bundle", str(artifact), str(tmp_path / "d"), "--golden", str(golden), "--min-agreement", "2"], 2, "within 0..1"))
    (tmp_path / "secret.txt").write_text("not yours")
    escaping = _fake_artifact(artifact, tmp_path, "escaping", conversion={"external_data": "../secret.txt"})
    cases.append((["device", "bundle", str(escaping), str(tmp_path / "e"), "--golden", str(golden)], 4, "outside the artifact folder"))
    for argv, code, words in cases:
        assert main(argv) == code, argv
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1, err
    assert (busy / "notes.txt").read_text() == "mine"  # never replaced
    assert not any((tmp_path / n).exists() for n in "abcde")


def test_zip_replaces_an_earlier_bundle_zip_but_never_a_users_file(files, tmp_path, capsys):
    """--zip writes OUT.zip: a user's file of that name is refused before the bundle is made (it was overwritten)."""
    artifact, golden = files
    out = tmp_path / "bundle"
    argv = ["device", "bundle", str(artifact), str(out), "--golden", str(golden), "--zip"]
    (tmp_path / "bundle.zip").write_bytes(b"a user's zip")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--zip" in err[0] and "is not a bundle zip" in err[0], err
    assert (tmp_path / "bundle.zip").read_bytes() == b"a user's zip" and not out.exists()
    (tmp_path / "bundle.zip").unlink()
    for _ in range(2):  # the second run replaces the first run's bundle and zip
        assert main(argv) == 0, capsys.readouterr().err
    with zipfile.ZipFile(tmp_path / "bundle.zip") as archive:
        assert "bundle/bundle.json" in archive.namelist()


def test_onnx_bundle_runs_with_onnxruntime(tiny_run, files, tmp_path):
    from edgevit.exporters.onnx import export_onnx

    _, golden = files
    artifact = export_onnx(saved_model=tiny_run.saved_model, out_dir=tmp_path / "artifacts")
    assert main(["device", "bundle", str(artifact), str(tmp_path / "onnx-bundle"), "--golden", str(golden), "--runs", "5"]) == 0
    code, document, output = run_harness(sys.executable, tmp_path / "onnx-bundle")
    assert code == 0, output
    assert validate_document(document) == []
    (record,) = document["records"]
    assert record["runtime"]["name"] == "onnxruntime" and record["runtime"]["details"]["providers"] == ["CPUExecutionProvider"]
    assert record["parity"]["gate"] == golden_gate("onnx", "fp32").to_dict("fp32")
    assert record["parity"]["gate"]["max_abs_error"] == 1e-4 and record["parity"]["gate"]["min_agreement"] is None
    assert record["parity"]["max_abs_diff"] <= 1e-4 and record["parity"]["agreement"] == 1.0


def test_nan_golden_vectors_are_refused_at_bundle_time_and_on_the_device(bundle, files, tmp_path, capsys):
    artifact, golden = files
    poisoned = tmp_path / "poisoned-golden"
    shutil.copytree(golden, poisoned)
    values = np.fromfile(poisoned / "probabilities.f32", "<f4")
    values[[0, 5]] = np.nan
    values.astype("<f4").tofile(poisoned / "probabilities.f32")
    # The host refuses them before writing a bundle...
    assert main(["device", "bundle", str(artifact), str(tmp_path / "never"), "--golden", str(poisoned)]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "probabilities.f32 holds 2 NaN or infinite value(s)" in err[0], err
    assert not (tmp_path / "never").exists()
    # ...and the device, given a bundle whose golden vectors went bad after it was made, says so in one line.
    copy = _copy(bundle, tmp_path)
    shutil.copy2(poisoned / "probabilities.f32", copy / "golden" / "probabilities.f32")
    code, document, output = run_harness(sys.executable, copy)
    assert code == 4, output
    assert "Traceback" not in output
    (record,) = document["records"]
    assert record["status"] == "failed" and "holds 2 NaN or infinite value(s)" in record["reason"]
    assert validate_document(document) == []


def test_an_unwritable_out_is_refused_before_anything_is_measured(bundle, tmp_path):
    import subprocess

    for out in (tmp_path, Path("/proc/edgevit-cannot-write/record.json")):  # a folder; a path that cannot be created
        proc = subprocess.run([sys.executable, str(bundle / "run.py"), "--out", str(out)], capture_output=True, text=True,
                              cwd=bundle, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout == "" and "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"run.py: error: cannot write the records file {out}"), lines


def test_what_was_measured_before_a_crash_is_still_in_the_record(bundle, tmp_path):
    """A runtime that dies after loading (here: on its first inference) still leaves its load time and runtime block."""
    guard = startup_folder(
        tmp_path,
        "import ai_edge_litert.interpreter as _litert\n"
        "def _crash(self, *args, **kwargs):\n"
        "    raise RuntimeError('simulated runtime crash on invoke')\n"
        "_litert.Interpreter.invoke = _crash\n")
    code, document, output = run_harness(sys.executable, bundle, env={**os.environ, "PYTHONPATH": str(guard)})
    assert code != 0 and "Traceback" not in output, output
    (record,) = document["records"]
    assert record["status"] == "failed" and "simulated runtime crash on invoke" in record["reason"]
    assert record["load_ms"] > 0 and record["runtime"]["name"] == "litert"
    assert record["latency"] is None and record["parity"] is None  # not measured: null, not made up
    assert validate_document(document) == []
