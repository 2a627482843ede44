"""Artifacts of the tiny SavedModel for the runner, MIL and verify tests, exported once per session.

`tiny_artifacts(tiny_run, tmp_path_factory)` returns OUT/ holding one artifact per export option; the
export runs on first use and is shared by every test module (a fixture imported into several
modules would otherwise run once per module). Damaged copies are made per test from these.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

# Every option of the three exporters (edgevit/exporters/options.py).
EXPORTS: tuple[tuple[str, str], ...] = (
    ("tflite", "fp32"), ("tflite", "fp16"), ("tflite", "dynamic"), ("tflite", "int8"),
    ("onnx", "fp32"), ("onnx", "fp16"), ("onnx", "int8-dynamic"),
    ("coreml", "fp32"), ("coreml", "fp16"), ("coreml", "int8"), ("coreml", "palettize6"), ("coreml", "palettize4"),
)

# The tiny conftest model is barely above chance on 4 classes (37-56% test accuracy depending on the
# session; its top-2 probabilities are often near ties), so every weight- or activation-quantized
# mode flips a few of its 48 test images (one image = 2.08 points), more than the default gates
# (made for trained models: e.g. dynamic >= 99.5% agreement) allow. This recipe states the gates
# such a model can meet, as a recipe for it would; the float modes (fp32, fp16) keep the default gates
# of edgevit/verify/gates.py, and a broken artifact (zeroed weights, wrong normalisation) still fails both.
TINY_RECIPE = """
[gates.tflite-dynamic]
min_agreement = 0.9
max_accuracy_drop = 8.5

[gates.coreml-int8]
min_agreement = 0.9
max_accuracy_drop = 8.5

[gates.tflite-int8]
min_agreement = 0.85
max_accuracy_drop = 12.5

[gates.coreml-palettize6]
min_agreement = 0.85
max_accuracy_drop = 12.5

[gates.coreml-palettize4]
min_agreement = 0.8
max_accuracy_drop = 15.0

[gates.onnx-int8-dynamic]
min_agreement = 0.75
max_accuracy_drop = 15.0
"""

def export_missing(saved_model: Path, out: Path, exports=EXPORTS) -> Path:
    """Build into `out` each artifact of `exports` that is not there yet; return `out`."""
    from edgevit.exporters import export

    for fmt, quantization in exports:
        if not (out / f"{fmt}-{quantization}" / "manifest.json").is_file():
            export(fmt, saved_model=saved_model, out_dir=out, quantization=quantization)
    return out


def copy_artifact(src: Path, dst_parent: Path, name: str | None = None) -> Path:
    dst = dst_parent / (name or src.name)
    shutil.copytree(src, dst)
    if name:
        edit_manifest(dst, name=name)
    return dst


def edit_manifest(folder: Path, **changes) -> dict:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest, indent=2))
    return manifest


def rehash(folder: Path) -> None:
    """Record the model file's current size and sha256, as an exporter would have: the damage is in the model, not the file."""
    from edgevit.fsutil import folder_size, sha256_file

    manifest = json.loads((folder / "manifest.json").read_text())
    model = folder / manifest["file"]
    edit_manifest(folder, file_size=folder_size(model), sha256=sha256_file(model) if model.is_file() else None)


def zero_onnx_weights(folder: Path) -> int:
    """Set every float initializer of model.onnx to zero; returns how many were zeroed."""
    import onnx
    from onnx import numpy_helper

    path = folder / "model.onnx"
    model = onnx.load(str(path))
    zeroed = 0
    for init in model.graph.initializer:
        value = numpy_helper.to_array(init)
        if value.dtype.kind == "f" and value.size > 16:
            init.CopyFrom(numpy_helper.from_array(np.zeros_like(value), init.name))
            zeroed += 1
    onnx.save(model, str(path))
    rehash(folder)
    return zeroed


def write_recipe(folder: Path, text: str = TINY_RECIPE) -> Path:
    path = folder / "recipe.toml"
    path.write_text(text)
    return path
