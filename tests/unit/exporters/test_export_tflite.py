"""TFLite export of the tiny model: every quantization runs in LiteRT close to the SavedModel, the
file holds builtin ops only and carries its labels, and a failed export leaves nothing behind."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers.exports import TOLERANCES, compare, read_json

from edgevit.errors import DataError, ExportError
from edgevit.exporters import export
from edgevit.exporters.tflite_file import non_builtin_ops, operator_counts, read_labels, read_metadata
from edgevit.fsutil import sha256_file

QUANTIZATIONS = ("dynamic", "fp32", "fp16", "int8")


@pytest.fixture(scope="module")
def reference(tiny_reference):
    return tiny_reference


@pytest.fixture(scope="module")
def artifacts(tiny_run, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("tflite")
    return {q: export("tflite", saved_model=tiny_run.saved_model, out_dir=out, quantization=q) for q in QUANTIZATIONS}


def run_litert(folder: Path, images: np.ndarray) -> np.ndarray:
    """What a runner does with the manifest: quantize the input if the model says so, dequantize the output."""
    from ai_edge_litert.interpreter import Interpreter

    manifest = read_json(folder / "manifest.json")
    interpreter = Interpreter(model_path=str(folder / manifest["file"]))
    runner = interpreter.get_signature_runner(manifest["input"]["signature"])
    x = images
    if q := manifest["input"].get("quantization"):
        x = np.clip(np.round(images / q["scale"]) + q["zero_point"], -128, 127).astype(manifest["input"]["dtype"])
    out = runner(**{manifest["input"]["signature_key"]: x})[manifest["output"]["signature_key"]]
    if q := manifest["output"].get("quantization"):
        out = (out.astype(np.float32) - q["zero_point"]) * q["scale"]
    return out


@pytest.mark.parametrize("quantization", QUANTIZATIONS)
def test_litert_output_matches_savedmodel_within_the_options_tolerance(artifacts, reference, quantization):
    outputs = run_litert(artifacts[quantization], reference.images)
    error, agreement = compare(outputs, reference)
    tolerance = TOLERANCES[("tflite", quantization)]
    assert error <= tolerance.max_abs_error, f"{quantization}: max abs error {error}"
    assert agreement >= tolerance.min_agreement, f"{quantization}: top-1 agreement {agreement}"


def test_batch_dimension_stays_dynamic(artifacts, reference):
    one = run_litert(artifacts["dynamic"], reference.images[:1])
    many = run_litert(artifacts["dynamic"], reference.images[:5])
    assert one.shape == (1, len(reference.labels)) and many.shape == (5, len(reference.labels))
    np.testing.assert_allclose(one[0], many[0], atol=1e-5)
    assert read_json(artifacts["dynamic"] / "manifest.json")["input"]["shape"][0] is None


def test_manifest_describes_each_file(artifacts, tiny_run):
    source = read_json(tiny_run.saved_model / "manifest.json")
    for quantization, folder in artifacts.items():
        manifest = read_json(folder / "manifest.json")
        model = folder / manifest["file"]
        assert manifest["format"] == "tflite" and manifest["quantization"] == quantization
        assert manifest["sha256"] == sha256_file(model) and manifest["file_size"] == model.stat().st_size
        assert manifest["labels"] == source["labels"] == (folder / "labels.txt").read_text().splitlines()
        assert manifest["preprocessing"] == source["preprocessing"]
        assert len(manifest["source"]["fingerprint"]) == 64
        assert manifest["conversion"]["peak_rss_bytes"] > 0 and manifest["conversion"]["seconds"] > 0
        assert manifest["conversion"]["ops"] == operator_counts(model.read_bytes())
        assert non_builtin_ops(manifest["conversion"]["ops"]) == []
        assert "tensorflow-cpu" in manifest["tool_versions"] and "ai-edge-litert" in manifest["tool_versions"]


def test_sizes_follow_the_weight_precision(artifacts):
    size = {q: read_json(f / "manifest.json")["file_size"] for q, f in artifacts.items()}
    # The tiny model's small tensors (< 1024 values) stay float, so the ratios are looser than ViT-L/32's.
    assert size["dynamic"] < 0.45 * size["fp32"]
    assert size["int8"] < 0.45 * size["fp32"]
    assert 0.45 * size["fp32"] < size["fp16"] < 0.6 * size["fp32"]


def test_int8_records_quantized_io_and_its_calibration_data(artifacts, tiny_run):
    manifest = read_json(artifacts["int8"] / "manifest.json")
    for spec in (manifest["input"], manifest["output"]):
        assert spec["dtype"] == "int8"
        assert spec["quantization"]["scale"] > 0 and -128 <= spec["quantization"]["zero_point"] <= 127
    # Softmax output: [0, 1] over 256 int8 steps.
    assert manifest["output"]["quantization"] == {"scale": 1 / 256, "zero_point": -128}
    calibration = manifest["conversion"]["representative_set"]
    assert calibration["root"] == str(tiny_run.data_root.resolve()) and calibration["split"] == "train"
    assert calibration["images"] == 100
    assert "quantization" not in read_json(artifacts["dynamic"] / "manifest.json")["input"]


def test_labels_and_normalisation_travel_inside_the_file(artifacts, tiny_run):
    source = read_json(tiny_run.saved_model / "manifest.json")
    pre = source["preprocessing"]
    for folder in artifacts.values():
        model = folder / "model.tflite"
        assert read_labels(model) == source["labels"]
        meta = read_metadata(model)
        assert meta["input"]["width"] == pre["width"] and meta["input"]["height"] == pre["height"]
        assert meta["input"]["mean"] == pre["mean"] and meta["input"]["std"] == pre["std"]
        assert meta["min_parser_version"] == "1.0.0"
        # The labels file is a stored (uncompressed) member of a zip appended to the flatbuffer.
        with zipfile.ZipFile(model) as archive:
            (info,) = archive.infolist()
            assert info.filename == "labels.txt" and info.compress_type == zipfile.ZIP_STORED


def _flex_model() -> bytes:
    """A model that needs a Flex op: tf.linalg.det has no builtin TFLite kernel."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([2, 2], tf.float32)])
    def det(x):
        return tf.linalg.det(x)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([det.get_concrete_function()], det)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    return converter.convert()


def test_a_flex_op_fails_the_export_and_leaves_no_artifact(tiny_run, tmp_path, monkeypatch):
    import edgevit.exporters.tflite as tflite

    flex = _flex_model()
    assert [op for op in non_builtin_ops(operator_counts(flex)) if op.startswith("Flex")]
    monkeypatch.setattr(tflite, "_convert", lambda *args: flex)
    with pytest.raises(ExportError, match="non-builtin op"):
        export("tflite", saved_model=tiny_run.saved_model, out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_export_keeps_the_previous_artifact_and_leaves_no_partial_one(tiny_run, artifacts, tmp_path, monkeypatch):
    import shutil

    import edgevit.exporters.tflite as tflite

    previous = tmp_path / "tflite-dynamic"
    shutil.copytree(artifacts["dynamic"], previous)
    before = read_json(previous / "manifest.json")

    def interrupted(path, labels):  # model.tflite is written in the temp folder; labels and manifest are not
        assert path.is_file() and not (path.parent / "manifest.json").exists()
        raise KeyboardInterrupt

    monkeypatch.setattr(tflite, "append_labels", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export("tflite", saved_model=tiny_run.saved_model, out_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tflite-dynamic"]  # no temp sibling left
    assert read_json(previous / "manifest.json") == before
    assert sha256_file(previous / "model.tflite") == before["sha256"]

    with pytest.raises(KeyboardInterrupt):
        export("tflite", saved_model=tiny_run.saved_model, out_dir=tmp_path, name="fresh")
    assert not (tmp_path / "fresh").exists()


def test_int8_without_its_training_data_says_where_to_point(tiny_run, tmp_path):
    with pytest.raises(DataError, match="--data ROOT"):
        export("tflite", saved_model=tiny_run.saved_model, out_dir=tmp_path, quantization="int8", data=str(tmp_path / "missing"))
    assert not (tmp_path / "tflite-int8").exists()


def test_int8_calibration_stops_on_an_unreadable_training_image(tiny_run, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_run.data_root / "train", data / "train")
    victim = sorted(p for p in (data / "train").rglob("*") if p.is_file())[0]
    victim.write_bytes(b"not an image")
    with pytest.raises(DataError, match=victim.name):
        export("tflite", saved_model=tiny_run.saved_model, out_dir=tmp_path / "out", quantization="int8",
               data=str(data), representative_images=240)
    assert not (tmp_path / "out" / "tflite-int8").exists()


@pytest.mark.slow  # one more calibrated int8 export; tests/unit/device/test_ios_sync_app.py's slow test syncs it too
def test_int8_with_float_io_keeps_float_tensors_and_the_int8_model(artifacts, tiny_run, reference, tmp_path):
    """--float-io: the same calibrated int8 graph, with quantize/dequantize inside, fed and read as float32."""
    folder = export("tflite", saved_model=tiny_run.saved_model, out_dir=tmp_path, quantization="int8", float_io=True)
    assert folder.name == "tflite-int8-float-io"
    manifest = read_json(folder / "manifest.json")
    assert manifest["quantization"] == "int8" and manifest["package_sha256"] is None
    for spec in (manifest["input"], manifest["output"]):
        assert spec["dtype"] == "float32" and "quantization" not in spec
    ops = manifest["conversion"]["ops"]
    assert ops.get("QUANTIZE", 0) >= 1 and ops.get("DEQUANTIZE", 0) >= 1, ops
    # Within int8's tolerance of the SavedModel, and within one output step of the int8-tensor artifact.
    got = run_litert(folder, reference.images)
    error, agreement = compare(got, reference)
    tolerance = TOLERANCES[("tflite", "int8")]
    assert error <= tolerance.max_abs_error and agreement >= tolerance.min_agreement, (error, agreement)
    # The int8-tensor artifact rounds the input to its int8 grid and the output to 1/256 steps; this one does not.
    assert np.abs(got - run_litert(artifacts["int8"], reference.images)).max() < 0.1


def test_float_io_is_refused_for_modes_that_already_have_float_tensors():
    from edgevit.errors import UsageError
    from edgevit.exporters.options import make_options

    with pytest.raises(UsageError, match="--float-io is for TFLite int8"):
        make_options("tflite", {"quantization": "dynamic", "float_io": True})
