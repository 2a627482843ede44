"""The SavedModel step of a run trained on a backend other than TensorFlow.

Only TensorFlow writes a SavedModel. A run trained with JAX or torch keeps its best weights
(checkpoints/best.weights.h5, backend-neutral) and the manifest the SavedModel will carry
(savedmodel.pending.json); `export_run` rebuilds the architecture from that manifest, loads the
weights and writes RUN_DIR/saved_model exactly as a TensorFlow run would have. It runs in a process
whose Keras backend is TensorFlow: `edgevit savedmodel RUN_DIR`, or `export_in_subprocess` when
TensorFlow is installed beside the training backend.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from edgevit.keras_backend import Backend, activate_backend, backend_versions
from edgevit.errors import ModelError, UsageError
from edgevit.formats import Format
from edgevit.fsutil import BadJson, atomic_write_json, load_json

PENDING_MANIFEST = "savedmodel.pending.json"
BEST_WEIGHTS = "best.weights.h5"  # in RUN_DIR/checkpoints/: training writes it, this step reads it


def write_pending_manifest(run_dir: Path, manifest: dict) -> Path:
    path = Path(run_dir) / PENDING_MANIFEST
    atomic_write_json(path, manifest)
    return path


def export_run(run_dir: Path | str, *, overwrite: bool = False) -> Path:
    """Write RUN_DIR/saved_model from RUN_DIR's pending manifest and best weights (needs TensorFlow)."""
    run_dir = Path(run_dir)
    pending, weights = run_dir / PENDING_MANIFEST, run_dir / "checkpoints" / BEST_WEIGHTS
    folder = run_dir / "saved_model"
    if not pending.is_file():
        what = "its SavedModel was written by training" if folder.is_dir() else "not a training run folder"
        raise UsageError(f"{run_dir}: no {PENDING_MANIFEST} ({what}); pass the --out folder of an `edgevit train` run on a non-TensorFlow backend")
    if not weights.is_file():
        raise ModelError(f"{weights}: best weights missing; the run did not finish an epoch, resume it with `edgevit train ... --resume`")
    if folder.exists() and not overwrite:
        raise UsageError(f"{folder} already exists; delete it or pass --overwrite to write it again")
    activate_backend(Backend.TENSORFLOW)
    from edgevit.manifest import now_iso, tool_versions
    from edgevit.models import ClassifierConfig, build_classifier
    from edgevit.savedmodel.write import save_savedmodel

    try:
        manifest = load_json(pending)
        config = ClassifierConfig.from_dict(manifest["model"])
    except (BadJson, KeyError, TypeError) as exc:
        raise ModelError(f"{pending}: not a manifest written by `edgevit train` ({type(exc).__name__}: {exc}); train again") from None
    model = build_classifier(config)
    try:
        model.load_weights(str(weights))
    except ValueError as exc:
        raise ModelError(f"{weights}: does not fit the model in {pending} ({str(exc).splitlines()[0]}); train again") from None
    # tool_versions: what wrote this file; the training process's own versions stay in training.backend_versions.
    manifest = {
        **manifest,
        "tool_versions": tool_versions(),
        "savedmodel_step": {"created": now_iso(), "backend": Backend.TENSORFLOW.value, "backend_versions": backend_versions(Backend.TENSORFLOW)},
    }
    return save_savedmodel(model, folder, manifest)


def export_in_subprocess(run_dir: Path) -> Path:
    """Run `edgevit savedmodel RUN_DIR` in a TensorFlow process (Keras' backend is fixed per process)."""
    # CPU only: saving needs no accelerator, and the training process still holds the GPU's memory.
    env = {**os.environ, "KERAS_BACKEND": Backend.TENSORFLOW.value, "CUDA_VISIBLE_DEVICES": ""}
    # --overwrite: a resumed run replaces the SavedModel of its earlier session, as on TensorFlow.
    command = [sys.executable, "-m", "edgevit", Format.SAVEDMODEL.value, str(run_dir), "--overwrite"]  # `edgevit savedmodel`
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelError(f"writing the SavedModel with TensorFlow failed ({reason}); run `edgevit savedmodel {run_dir}` to see why")
    return Path(run_dir) / "saved_model"
