"""Artifacts and golden vectors for the device and iOS tests, built from the session's tiny SavedModel.

The golden vectors are the SavedModel's probabilities on a dozen preprocessed test images, written
by edgevit.verify.golden (the format `edgevit verify --write-golden` writes).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

GOLDEN_COUNT = 12


def export_dynamic_tflite(saved_model: Path, out_dir: Path) -> Path:
    """The tiny model's dynamic-range .tflite artifact folder (manifest.json, model file, labels.txt)."""
    from edgevit.exporters.tflite import export_tflite

    return Path(export_tflite(saved_model=saved_model, out_dir=out_dir, quantization="dynamic"))


def write_golden_vectors(saved_model: Path, data_root: Path, out_dir: Path, count: int = GOLDEN_COUNT) -> Path:
    """golden/ from the SavedModel on `count` test images spread over the split, through edgevit.verify.golden."""
    from edgevit.data.folders import load_image_folders
    from edgevit.data.preprocess import preprocess
    from edgevit.savedmodel.source import open_source
    from edgevit.verify.golden import golden_indices, write_golden
    from edgevit.manifest import preprocessing_of
    from edgevit.savedmodel.load import LoadedSavedModel

    model = LoadedSavedModel(saved_model)
    spec = preprocessing_of(model.manifest)
    split = load_image_folders(data_root).split("test")
    picks = golden_indices(len(split), count)
    inputs = np.stack([preprocess(split.paths[i], spec) for i in picks]).astype(np.float32)
    return write_golden(out_dir, inputs=inputs, probabilities=model.predict(inputs), true_labels=split.labels[picks],
                        label_names=list(model.manifest["labels"]), preprocessing=model.manifest["preprocessing"],
                        fingerprint=open_source(saved_model).fingerprint)


def run_harness(python: str, bundle: Path, *args: str, env: dict | None = None, prefix: tuple[str, ...] = (),
                timeout: float = 120) -> tuple[int, dict | None, str]:
    """Run bundle/run.py; (exit code, the records file it wrote or None, stdout+stderr)."""
    import subprocess

    out = bundle.parent / f"{bundle.name}-record-{len(list(bundle.parent.glob(bundle.name + '-record-*')))}.json"
    proc = subprocess.run([*prefix, python, str(bundle / "run.py"), "--out", str(out), *args], capture_output=True,
                          text=True, env=env, cwd=bundle, timeout=timeout)
    document = json.loads(out.read_text()) if out.is_file() else None
    return proc.returncode, document, proc.stdout + proc.stderr


def startup_folder(tmp_path: Path, code: str) -> Path:
    """A folder holding a sitecustomize.py that runs `code` when Python starts: put it on PYTHONPATH to change
    what the harness process sees (a missing runtime, a crashing one) without touching the bundle."""
    folder = tmp_path / "startup"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(code)
    return folder


def fake_coreml_artifact(artifact, tmp_path, **changes):
    """A coreml artifact folder beside the tflite one: same manifest contract, a .mlpackage folder as its model."""
    fake = tmp_path / "coreml-fp16"
    fake.mkdir()
    package = fake / "model.mlpackage"
    (package / "Data" / "com.apple.CoreML").mkdir(parents=True)
    (package / "Manifest.json").write_text('{"fileFormatVersion": "1.0.0"}')
    (package / "Data" / "com.apple.CoreML" / "model.mlmodel").write_bytes(b"\x08\x09spec")
    manifest = json.loads((artifact / "manifest.json").read_text())
    size = sum(p.stat().st_size for p in package.rglob("*") if p.is_file())
    from edgevit.fsutil import sha256_tree

    manifest.update({"format": "coreml", "quantization": "fp16", "file": "model.mlpackage", "file_size": size, "sha256": None,
                     "name": "coreml-fp16", "package_sha256": sha256_tree(package), **changes})
    (fake / "manifest.json").write_text(json.dumps(manifest))
    shutil.copy2(artifact / "labels.txt", fake / "labels.txt")
    return fake
