"""Artifacts and golden vectors for the device and iOS tests, built from the session's tiny SavedModel.

They use edgevit's own exporter and golden writer when those exist, and otherwise build the same
files directly (TFLiteConverter + write_artifact; golden vectors from the SavedModel on the test
split's preprocessed images, in the documented format), so these tests do not wait on other modules.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np

GOLDEN_COUNT = 12


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def export_dynamic_tflite(saved_model: Path, out_dir: Path) -> Path:
    """The tiny model's dynamic-range .tflite artifact folder (manifest.json, model file, labels.txt)."""
    if _has("edgevit.exporters.tflite"):
        from edgevit.exporters.tflite import export_tflite

        return Path(export_tflite(saved_model=saved_model, out_dir=out_dir, quantization="dynamic"))
    from edgevit.exporters.common import Built, open_source, write_artifact
    from edgevit.keras_env import import_tf

    tf = import_tf()
    source = open_source(saved_model)

    def convert(folder: Path) -> Built:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        (folder / "model.tflite").write_bytes(converter.convert())
        return Built(main_file="model.tflite", details={"optimizations": ["DEFAULT"]})

    return write_artifact(source=source, out_dir=out_dir, name="tflite-dynamic", fmt="tflite", quantization="dynamic", convert=convert)


def write_golden_vectors(saved_model: Path, data_root: Path, out_dir: Path, count: int = GOLDEN_COUNT) -> Path:
    """golden/ (golden.json, inputs.f32, probabilities.f32) from the SavedModel on the first test images."""
    if _has("edgevit.golden"):
        import edgevit.golden as golden

        writer = getattr(golden, "write_golden", None)
        if writer is not None:
            try:
                return Path(writer(saved_model=saved_model, data_root=data_root, out_dir=out_dir, count=count))
            except TypeError:
                pass  # a different signature: fall back to the documented format below
    from edgevit.data.folders import load_image_folders
    from edgevit.data.preprocess import preprocess
    from edgevit.exporters.common import open_source
    from edgevit.manifest import preprocessing_of
    from edgevit.savedmodel import LoadedSavedModel

    model = LoadedSavedModel(saved_model)
    spec = preprocessing_of(model.manifest)
    split = load_image_folders(data_root).split("test")
    # Spread over the classes: every count/num_classes-th test image.
    picks = np.linspace(0, len(split) - 1, count).round().astype(int)
    inputs = np.stack([preprocess(split.paths[i], spec) for i in picks]).astype("<f4")
    probabilities = model.predict(inputs).astype("<f4")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs.tofile(out_dir / "inputs.f32")
    probabilities.tofile(out_dir / "probabilities.f32")
    index = {
        "schema_version": 1,
        "count": int(count),
        "input_shape": list(inputs.shape),
        "num_classes": int(probabilities.shape[1]),
        "dtype": "float32",
        "byte_order": "little",
        "inputs_file": "inputs.f32",
        "outputs_file": "probabilities.f32",
        "true_labels": [int(split.labels[i]) for i in picks],
        "label_names": list(model.manifest["labels"]),
        "reference": {"runtime": "savedmodel", "fingerprint": open_source(saved_model).fingerprint},
        "preprocessing": model.manifest["preprocessing"],
    }
    (out_dir / "golden.json").write_text(json.dumps(index, indent=2) + "\n")
    return out_dir


# One tflite artifact + golden folder per test session, shared by every device/iOS test module.
_SHARED: dict[str, tuple[Path, Path]] = {}


def tiny_tflite_and_golden(tiny_run, tmp_path_factory) -> tuple[Path, Path]:
    """(dynamic-range .tflite artifact folder, golden folder) for the session's tiny model, built once."""
    key = str(tiny_run.saved_model)
    if key not in _SHARED:
        base = tmp_path_factory.mktemp("device-artifacts")
        artifact = export_dynamic_tflite(tiny_run.saved_model, base / "artifacts")
        golden = write_golden_vectors(tiny_run.saved_model, tiny_run.data_root, base / "golden")
        _SHARED[key] = (artifact, golden)
    return _SHARED[key]


def run_harness(python: str, bundle: Path, *args: str, env: dict | None = None, prefix: tuple[str, ...] = (),
                timeout: float = 120) -> tuple[int, dict | None, str]:
    """Run bundle/run.py; (exit code, the records file it wrote or None, stdout+stderr)."""
    import subprocess

    out = bundle.parent / f"{bundle.name}-record-{len(list(bundle.parent.glob(bundle.name + '-record-*')))}.json"
    proc = subprocess.run([*prefix, python, str(bundle / "run.py"), "--out", str(out), *args], capture_output=True,
                          text=True, env=env, cwd=bundle, timeout=timeout)
    document = json.loads(out.read_text()) if out.is_file() else None
    return proc.returncode, document, proc.stdout + proc.stderr
