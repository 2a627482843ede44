"""Runners: each runtime reproduces the SavedModel on its artifacts; registry, devices and integrity checks."""

from __future__ import annotations

import platform
import shutil

import numpy as np
import pytest
from helpers.verify import edit_manifest

from edgevit.errors import ModelError, UsageError
from edgevit.verify.gates import default_gate
from edgevit.formats import default_runtime, runtimes_of
from edgevit.runners import RunnerOptions, RuntimeUnavailable, open_runner


@pytest.fixture(scope="module")
def artifacts(tiny_artifacts):
    exports = (("tflite", "fp32"), ("tflite", "dynamic"), ("tflite", "int8"), ("onnx", "fp32"), ("onnx", "int8-dynamic"), ("coreml", "fp16"))
    return tiny_artifacts(exports)


@pytest.fixture(scope="module")
def reference(tiny_run):
    from edgevit.data.folders import load_image_folders
    from edgevit.data.preprocess import preprocess
    from edgevit.manifest import preprocessing_of, read_manifest

    spec = preprocessing_of(read_manifest(tiny_run.saved_model))
    paths = load_image_folders(tiny_run.data_root, splits=("test",)).split("test").paths[:12]
    images = np.stack([preprocess(p, spec) for p in paths])
    runner = open_runner("savedmodel", tiny_run.saved_model, device="cpu")
    try:
        return images, runner.predict(images)
    finally:
        runner.close()


def _predict(runtime, folder, images, **options):
    runner = open_runner(runtime, folder, **options)
    try:
        return runner.predict(images), runner.info
    finally:
        runner.close()


def test_savedmodel_runner_is_the_reference(tiny_run, reference):
    from edgevit.savedmodel.load import LoadedSavedModel

    images, expected = reference
    direct = LoadedSavedModel(tiny_run.saved_model).predict(images)
    got, info = _predict(None, tiny_run.saved_model, images, batch_size=5)  # 12 images in chunks of 5
    np.testing.assert_allclose(got, direct, atol=1e-6)
    assert info.runtime == "savedmodel" and info.emulated is False and got.shape == (12, 4)


@pytest.mark.parametrize("xnnpack", [True, False])
def test_litert_fp32_matches_savedmodel_with_and_without_xnnpack(artifacts, reference, xnnpack):
    images, expected = reference
    got, info = _predict("litert", artifacts / "tflite-fp32", images, xnnpack=xnnpack, threads=1)
    assert np.abs(got - expected).max() <= default_gate("tflite", "fp32").max_abs_error
    assert info.details["xnnpack"] is xnnpack and info.threads == 1 and info.details["input_dtype"] == "float32"


def test_litert_resizes_the_batch_between_calls(artifacts, reference):
    images, expected = reference
    runner = open_runner("litert", artifacts / "tflite-dynamic", batch_size=4)
    try:
        first = runner.predict(images[:5])  # chunks of 4 then 1: two resizes
        second = runner.predict(images[5:8])
    finally:
        runner.close()
    got = np.concatenate([first, second])
    assert got.shape == (8, 4)
    assert np.abs(got - expected[:8]).max() < 0.03  # dynamic-range: int8 weights


def test_litert_int8_quantizes_input_and_dequantizes_output(artifacts, reference):
    images, expected = reference
    got, info = _predict("litert", artifacts / "tflite-int8", images)
    assert info.details["input_dtype"] == "int8" and info.details["output_dtype"] == "int8"
    # Dequantized probabilities: on the int8 output grid, summing to about 1, close to the reference.
    assert got.dtype == np.float32 and np.allclose(got.sum(axis=1), 1.0, atol=0.05)
    assert np.abs(got - expected).max() < 0.3


@pytest.mark.parametrize("name", ["tflite-fp32", "tflite-dynamic"])
def test_litert_weight_cache_gives_the_interpreters_outputs_and_leaves_no_file(artifacts, reference, name, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the cache folder goes here, so its removal can be seen
    images, _ = reference
    plain, _ = _predict("litert", artifacts / name, images, threads=1)
    runner = open_runner("litert", artifacts / name, threads=1, weight_cache=True)
    try:
        cached = runner.predict(images)  # 12 images: 12 calls of the model's batch of 1
        assert [p.name for p in tmp_path.iterdir()] and any(tmp_path.rglob("xnnpack-weights.cache"))  # the cache is a file
    finally:
        runner.close()
    np.testing.assert_array_equal(cached, plain)
    assert runner.info.details["weight_cache"] is True and runner.info.details["batch_per_call"] == 1
    assert list(tmp_path.iterdir()) == []


def test_litert_weight_cache_refuses_int8_io_and_no_xnnpack(artifacts):
    with pytest.raises(RuntimeUnavailable, match="only float32 I/O"):
        open_runner("litert", artifacts / "tflite-int8", weight_cache=True)
    with pytest.raises(UsageError, match="weight_cache is XNNPACK's"):
        open_runner("litert", artifacts / "tflite-fp32", weight_cache=True, xnnpack=False)


def test_quantize_and_dequantize_use_scale_and_zero_point():
    from edgevit.portable.errors import HarnessError
    from edgevit.portable.runtimes import dequantize, quantize

    detail = {"name": "x", "dtype": np.int8, "quantization": (0.5, -3)}
    q = quantize(np.array([0.5, -1.0, 100.0, -100.0], np.float32), detail)
    assert q.dtype == np.int8 and q.tolist() == [-2, -5, 127, -128]  # round(x / 0.5) - 3, clipped
    np.testing.assert_array_equal(dequantize(q, detail), [0.5, -1.0, 65.0, -62.5])
    float_detail = {"name": "x", "dtype": np.float32, "quantization": (0.0, 0)}
    assert quantize(np.array([1.5], np.float32), float_detail).tolist() == [1.5]
    with pytest.raises(HarnessError, match="without quantization parameters"):
        quantize(np.zeros(2, np.float32), {"name": "x", "dtype": np.int8, "quantization": (0.0, 0)})


def test_onnxruntime_matches_savedmodel(artifacts, reference):
    import onnxruntime as ort

    images, expected = reference
    got, info = _predict("onnxruntime", artifacts / "onnx-fp32", images, device="cpu", threads=1)
    assert np.abs(got - expected).max() <= default_gate("onnx", "fp32").max_abs_error
    assert info.details["providers"] == ["CPUExecutionProvider"] and info.device == "cpu"
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(RuntimeUnavailable, match="no CUDAExecutionProvider here"):
            open_runner("onnxruntime", artifacts / "onnx-fp32", device="gpu")


def test_onnxruntime_int8_dynamic_runs(artifacts, reference):
    images, expected = reference
    got, _ = _predict(None, artifacts / "onnx-int8-dynamic", images)
    assert got.shape == expected.shape and np.allclose(got.sum(axis=1), 1.0, atol=1e-3)
    assert 0 < np.abs(got - expected).max() < 0.3


def test_coreml_runtimes(artifacts, reference):
    images, expected = reference
    if platform.system() != "Darwin":
        assert default_runtime("coreml") == "coreml-mil-numpy"
        with pytest.raises(RuntimeUnavailable, match="Core ML is not available on Linux") as info:
            open_runner("coreml", artifacts / "coreml-fp16")
        assert "coreml-mil-numpy" in str(info.value)
    got, info = _predict("coreml-mil-numpy", artifacts / "coreml-fp16", images[:4])
    assert info.emulated is True and info.runtime == "coreml-mil-numpy"
    assert np.abs(got - expected[:4]).max() <= default_gate("coreml", "fp16").max_abs_error
    with pytest.raises(RuntimeUnavailable, match="CPU only"):
        open_runner("coreml-mil-numpy", artifacts / "coreml-fp16", device="gpu")


def test_registry_names_known_runtimes_and_formats(artifacts):
    assert {fmt: [r.name for r in runtimes_of(fmt)] for fmt in ("savedmodel", "tflite", "onnx", "coreml")} == {
        "savedmodel": ["savedmodel"], "tflite": ["litert"], "onnx": ["onnxruntime"], "coreml": ["coreml", "coreml-mil-numpy"]}
    with pytest.raises(UsageError, match="unknown runtime 'tensorrt'; known: savedmodel, litert, onnxruntime, coreml, coreml-mil-numpy"):
        open_runner("tensorrt", artifacts / "onnx-fp32")
    with pytest.raises(UsageError, match="runtime litert runs tflite models, not onnx"):
        open_runner("litert", artifacts / "onnx-fp32")
    with pytest.raises(UsageError, match="unknown device 'tpu'"):
        RunnerOptions(device="tpu")
    with pytest.raises(UsageError, match="threads must be a positive integer"):
        RunnerOptions(threads=0)


def test_wrong_image_shape_is_refused(artifacts):
    runner = open_runner("litert", artifacts / "tflite-fp32")
    try:
        with pytest.raises(ModelError, match=r"expected preprocessed images of shape \(N, 32, 32, 3\), got \(2, 16, 16, 3\)"):
            runner.predict(np.zeros((2, 16, 16, 3), np.float32))
    finally:
        runner.close()


def test_corrupted_and_truncated_files_are_caught_before_loading(artifacts, tmp_path):
    folder = shutil.copytree(artifacts / "tflite-fp32", tmp_path / "flipped")
    data = bytearray((folder / "model.tflite").read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different content
    (folder / "model.tflite").write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"model.tflite: sha256 .* differs from the manifest's .*; the file is corrupted"):
        open_runner(None, folder)

    folder = shutil.copytree(artifacts / "onnx-fp32", tmp_path / "truncated")
    data = (folder / "model.onnx").read_bytes()
    (folder / "model.onnx").write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelError, match=rf"{len(data) // 3} bytes on disk, the manifest recorded {len(data)}; the file is corrupted or truncated"):
        open_runner(None, folder)

    folder = shutil.copytree(artifacts / "coreml-fp16", tmp_path / "coreml-truncated")
    weights = folder / "model.mlpackage" / "Data" / "com.apple.CoreML" / "weights" / "weight.bin"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelError, match="the file is corrupted or truncated"):
        open_runner(None, folder)


def test_unreadable_model_with_matching_manifest_fails_to_load(artifacts, tmp_path):
    """A file that matches its manifest but is not a model (the manifest re-hashed): the runtime's own error, one line."""
    from helpers.verify import rehash

    folder = shutil.copytree(artifacts / "onnx-fp32", tmp_path / "garbage")
    (folder / "model.onnx").write_bytes(b"this is not an onnx file")
    rehash(folder)
    with pytest.raises(ModelError, match="ONNX Runtime cannot load it") as info:
        open_runner(None, folder)
    assert "\n" not in str(info.value)
    folder = shutil.copytree(artifacts / "tflite-fp32", tmp_path / "garbage-tflite")
    (folder / "model.tflite").write_bytes(b"\0" * 64)
    rehash(folder)
    with pytest.raises(ModelError, match="LiteRT cannot load it"):
        open_runner(None, folder)


def test_manifest_problems_are_model_errors(artifacts, tmp_path):
    folder = shutil.copytree(artifacts / "tflite-fp32", tmp_path / "nofile")
    edit_manifest(folder, file="missing.tflite")
    with pytest.raises(ModelError, match="model file missing.tflite is missing"):
        open_runner(None, folder)
    with pytest.raises(ModelError, match="not an artifact folder"):
        open_runner(None, tmp_path / "nowhere")


def test_predict_in_chunks_pads_a_fixed_batch():
    from edgevit.runners.batching import predict_in_chunks

    seen = []

    def run(batch):
        seen.append(len(batch))
        return batch[:, :1, 0, 0] * np.ones((1, 3), np.float32)  # one row per image, 3 "classes"

    images = np.arange(5, dtype=np.float32).reshape(5, 1, 1, 1) * np.ones((5, 1, 1, 3), np.float32)
    out = predict_in_chunks(images, 2, run, 3, fixed_batch=True)
    assert seen == [2, 2, 2]  # the last single image was padded to the fixed batch of 2
    np.testing.assert_array_equal(out[:, 0], [0, 1, 2, 3, 4])
    with pytest.raises(ModelError, match="returned 3 values per image, its manifest lists 4 labels"):
        predict_in_chunks(images, 2, run, 4)
