"""Deliberately damaged artifacts for the layer-wise parity tests.

One block's weights of the tiny model are perturbed in Keras, that model is saved and exported to
every format, and each artifact's manifest is then pointed back at the UNDAMAGED SavedModel (its path
and fingerprint): exactly what a converter bug in that block would leave behind. The model file itself
stays consistent with its manifest (sha256), so nothing but the damage differs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

DAMAGED_BLOCK = 3
# The default artifact of each format: what a user ships and `--layers` must diagnose.
DAMAGED_EXPORTS = (("tflite", "dynamic"), ("onnx", "fp32"), ("coreml", "fp16"))


def damaged_saved_model(tiny_run, folder: Path, *, block: int = DAMAGED_BLOCK, seed: int = 0) -> Path:
    """The tiny SavedModel with noise as large as the weights themselves added to block `block`'s kernels."""
    from edgevit.manifest import read_manifest
    from edgevit.models import ClassifierConfig, build_classifier
    from edgevit.savedmodel.write import save_savedmodel

    manifest = read_manifest(tiny_run.saved_model)
    model = build_classifier(ClassifierConfig.from_dict(manifest["model"]))
    model.load_weights(str(tiny_run.run_dir / "checkpoints" / "best.weights.h5"))
    rng = np.random.default_rng(seed)
    touched = 0
    for weight in model.weights:
        if f"encoderblock_{block}" in weight.path and weight.path.endswith("kernel"):
            value = np.asarray(weight.numpy())
            weight.assign(value + rng.normal(0.0, float(value.std()), value.shape).astype(value.dtype))
            touched += 1
    assert touched >= 4, f"expected block {block}'s kernels, touched {touched}"
    return save_savedmodel(model, folder, manifest)


def damaged_artifacts(tiny_run, base: Path, exports=DAMAGED_EXPORTS) -> Path:
    """OUT/ with one damaged artifact per export, each claiming the undamaged tiny SavedModel as its source."""
    from edgevit.exporters import export
    from edgevit.savedmodel.source import savedmodel_fingerprint

    damaged = damaged_saved_model(tiny_run, base / "damaged_saved_model")
    out = base / "artifacts"
    for fmt, quantization in exports:
        folder = export(fmt, saved_model=damaged, out_dir=out, quantization=quantization)
        manifest_path = folder / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        manifest["source"]["saved_model"] = str(Path(tiny_run.saved_model).resolve())
        manifest["source"]["fingerprint"] = savedmodel_fingerprint(tiny_run.saved_model)
        manifest_path.write_text(json.dumps(manifest, indent=2))
    return out
