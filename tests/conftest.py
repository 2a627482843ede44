"""Shared fixtures: one small synthetic bird set and one tiny ViT trained on it, per test session,
and what is built from it once: its artifacts, its golden vectors, its reference predictions.

Exporter, runner, verify and bench tests all start from this SavedModel, so it is trained once.
It is trained long enough that its predictions are confident (parity gates on top-1 agreement
are meaningless on a model whose classes are near-ties). Plain helpers (no fixtures) are in
tests/helpers/, importable because pyproject.toml puts tests/ on pytest's pythonpath.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgevit.config import TrainConfig

TINY_DATA = dict(num_classes=4, per_class=60, eval_per_class=12, image_size=32, seed=11)
TINY_TRAIN = TrainConfig(variant="tiny", image_size=32, trainable_blocks="all", epochs=8, batch_size=32, pretrained=False, seed=5, learning_rate=3e-4)


@dataclass(frozen=True)
class TinyRun:
    data_root: Path  # ROOT/{train,valid,test}/<CLASS>/*.png
    run_dir: Path  # what `edgevit train` wrote
    saved_model: Path  # run_dir/saved_model


@pytest.fixture(autouse=True)
def _logging_left_as_found():
    """cli.main configures logging for its whole process (edgevit.console); a test that calls it in-process
    must not change what later tests log."""
    root, ours = logging.getLogger(), logging.getLogger("edgevit")
    handlers, levels = list(root.handlers), (root.level, ours.level)
    env = {name: os.environ.get(name) for name in ("EDGEVIT_VERBOSITY", "TF_CPP_MIN_LOG_LEVEL")}
    yield
    root.handlers[:] = handlers
    root.setLevel(levels[0])
    ours.setLevel(levels[1])
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> TinyRun:
    from edgevit.data.synth import write_synthetic_birds
    from edgevit.training.train import train

    base = tmp_path_factory.mktemp("tiny")
    data_root = base / "data"
    write_synthetic_birds(data_root, **TINY_DATA)
    result = train(data_root, base / "run", TINY_TRAIN, verbose=0)
    return TinyRun(data_root=data_root, run_dir=base / "run", saved_model=Path(result.saved_model))


@pytest.fixture(scope="session")
def tiny_artifacts(tiny_run, tmp_path_factory):
    """build(exports=helpers.verify.EXPORTS) -> OUT/ holding those artifacts of the tiny model (each built once)."""
    from helpers.verify import EXPORTS, export_missing

    out = tmp_path_factory.mktemp("verify-artifacts")
    return lambda exports=EXPORTS: export_missing(tiny_run.saved_model, out, exports)


@pytest.fixture(scope="session")
def tiny_tflite_for_old_runtimes(tiny_run, tiny_artifacts, tmp_path_factory) -> dict[str, Path]:
    """The tiny model's .tflite artifacts that runtime-compatibility tests load: the default dynamic and fp16
    ones (shared with tiny_artifacts) and a dynamic one exported with --min-runtime 2.14 into a folder of its
    own (tests verify the shared folder as a whole, so nothing is added to it)."""
    from edgevit.exporters import export

    out = tiny_artifacts([("tflite", "dynamic"), ("tflite", "fp16")])
    older = export("tflite", saved_model=tiny_run.saved_model, out_dir=tmp_path_factory.mktemp("old-runtimes"),
                   quantization="dynamic", min_runtime="2.14")
    return {"dynamic": out / "tflite-dynamic", "fp16": out / "tflite-fp16", "dynamic-rt2.14": older}


@pytest.fixture(scope="session")
def tiny_tflite_and_golden(tiny_run, tmp_path_factory) -> tuple[Path, Path]:
    """(dynamic-range .tflite artifact folder, golden folder) of the tiny model, shared by the device and iOS tests."""
    from helpers.device import export_dynamic_tflite, write_golden_vectors

    base = tmp_path_factory.mktemp("device-artifacts")
    artifact = export_dynamic_tflite(tiny_run.saved_model, base / "artifacts")
    return artifact, write_golden_vectors(tiny_run.saved_model, tiny_run.data_root, base / "golden")


@pytest.fixture(scope="session")
def tiny_reference(tiny_run):
    """The tiny SavedModel's predictions on its preprocessed test split (helpers.exports.Reference)."""
    from helpers.exports import reference_predictions

    return reference_predictions(tiny_run)


# Property-based suites: a quick default profile for every run, a long one for `--hypothesis-profile=long`.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("default")
