"""`edgevit train --backend jax` end to end, the SavedModel step, resume across edgevit versions, and the training benchmark."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edgevit.keras_backend import Backend, is_installed
from edgevit.cli import main
from edgevit.config import TrainConfig
from edgevit.data.synth import write_synthetic_birds
from edgevit.errors import UsageError
from edgevit.models import ClassifierConfig, build_classifier
from edgevit.training.precision import Precision
from edgevit.savedmodel.load import LoadedSavedModel
from edgevit.savedmodel.deferred import PENDING_MANIFEST
from edgevit.training.train import BEST_WEIGHTS, LAST_WEIGHTS, STATE_NAME, _initial_state

ROOT = Path(__file__).resolve().parents[3]
FAST = TrainConfig(variant="tiny", image_size=32, trainable_blocks="all", epochs=1, batch_size=16, pretrained=False, seed=3)
TRAIN_ARGS = ["--variant", "tiny", "--image-size", "32", "--trainable-blocks", "all", "--batch-size", "16", "--no-pretrained",
              "--seed", "3", "--data-workers", "2"]
needs_jax = pytest.mark.skipif(not is_installed(Backend.JAX), reason="JAX is not installed (pip install -e '.[backends]')")


def _edgevit(*args: str, backend: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    if backend:
        env["KERAS_BACKEND"] = backend  # what a user's shell may hold; --backend must win over it
    return subprocess.run([sys.executable, "-m", "edgevit", *args], capture_output=True, text=True, env=env, timeout=900)


@pytest.fixture(scope="module")
def birds(tmp_path_factory):
    root = tmp_path_factory.mktemp("birds") / "data"
    write_synthetic_birds(root, num_classes=3, per_class=16, eval_per_class=6, image_size=32, seed=1)
    return root


@pytest.fixture(scope="module")
def jax_run(birds, tmp_path_factory):
    """Two epochs with the JAX backend through the CLI (TensorFlow is installed too, so it writes the SavedModel)."""
    if not is_installed(Backend.JAX):
        pytest.skip("JAX is not installed (pip install -e '.[backends]')")
    out = tmp_path_factory.mktemp("jax") / "run"
    done = _edgevit("train", str(birds), "--out", str(out), "--backend", "jax", "--epochs", "2", *TRAIN_ARGS, backend="tensorflow")
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout


def test_jax_run_writes_the_same_outputs_as_a_tensorflow_run(jax_run, birds):
    out, stdout = jax_run
    assert "via jax" in stdout and f"SavedModel: {out / 'saved_model'}" in stdout
    manifest = json.loads((out / "saved_model" / "manifest.json").read_text())
    assert manifest["training"]["backend"] == "jax" and "jax" in manifest["training"]["backend_versions"]
    assert manifest["savedmodel_step"]["backend"] == "tensorflow"
    assert manifest["model"] == ClassifierConfig("tiny", 32, 3, 0.01, 4).to_dict()
    history = json.loads((out / "history.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2] and all(h["images_per_s"] > 0 for h in history)
    assert (out / "checkpoints" / LAST_WEIGHTS).is_file() and (out / PENDING_MANIFEST).is_file()
    # The SavedModel (TensorFlow) serves the weights JAX trained: same outputs as those weights in Keras.
    loaded = LoadedSavedModel(out / "saved_model")
    x = np.random.default_rng(0).uniform(-1, 1, (6, 32, 32, 3)).astype(np.float32)
    keras_model = build_classifier(ClassifierConfig.from_dict(manifest["model"]))
    keras_model.load_weights(str(out / "checkpoints" / BEST_WEIGHTS))
    np.testing.assert_allclose(loaded.predict(x), keras_model.predict(x, verbose=0), atol=1e-5)
    assert manifest["metrics"]["test_images"] == 18 and 0 <= manifest["metrics"]["test_accuracy"] <= 1


@pytest.mark.slow
@needs_jax
def test_jax_resume_reaches_the_same_weights(jax_run, birds, tmp_path):
    straight, _ = jax_run
    out = tmp_path / "resumed"
    first = _edgevit("train", str(birds), "--out", str(out), "--backend", "jax", "--epochs", "1", *TRAIN_ARGS)
    assert first.returncode == 0, first.stderr[-3000:]
    # Resumed with other runtime options (worker threads): the recipe's numbers must not change.
    resumed = _edgevit("train", str(birds), "--out", str(out), "--backend", "jax", "--epochs", "2", "--resume", *TRAIN_ARGS[:-1], "1")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a = build_classifier(ClassifierConfig("tiny", 32, 3, 0.01, 4))
    b = build_classifier(ClassifierConfig("tiny", 32, 3, 0.01, 4))
    a.load_weights(str(straight / "checkpoints" / LAST_WEIGHTS))
    b.load_weights(str(out / "checkpoints" / LAST_WEIGHTS))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_savedmodel_step_refuses_to_overwrite_and_rewrites_on_request(jax_run, capsys):
    out, _ = jax_run
    assert main(["savedmodel", str(out)]) == 2
    assert "already exists; delete it or pass --overwrite" in capsys.readouterr().err
    assert main(["savedmodel", str(out), "--overwrite"]) == 0
    assert LoadedSavedModel(out / "saved_model").manifest["training"]["backend"] == "jax"


def test_savedmodel_step_needs_a_pending_run(tmp_path, capsys):
    assert main(["savedmodel", str(tmp_path)]) == 2
    assert f"no {PENDING_MANIFEST} (not a training run folder)" in capsys.readouterr().err


def test_unknown_backend_and_bad_devices_are_usage_errors(birds, tmp_path, capsys):
    assert main(["train", str(birds), "--out", str(tmp_path / "a"), "--backend", "mxnet"]) == 2
    assert "invalid choice: 'mxnet'" in capsys.readouterr().err
    assert main(["train", str(birds), "--out", str(tmp_path / "b"), "--devices", "none"]) == 2
    assert "--devices must be a number or 'all', got 'none'" in capsys.readouterr().err


def test_resume_of_a_run_from_before_the_runtime_options(tmp_path):
    """A train_state.json written before precision/backend/... existed resumes; a changed precision does not."""
    state = {"config": {k: v for k, v in FAST.to_dict().items() if k not in ("precision", "backend", "jit_compile", "devices", "data_workers")},
             "history": [], "best_val_accuracy": 0.5, "best_epoch": 1, "wait": 0, "epochs_done": 1}
    (tmp_path / STATE_NAME).write_text(json.dumps(state))
    runtime_changed = replace(FAST, epochs=2, data_workers=3, backend="jax", devices=2, jit_compile=False)
    assert _initial_state(tmp_path, runtime_changed, resume=True)["epochs_done"] == 1
    with pytest.raises(UsageError, match=r"different options \(precision\)"):
        _initial_state(tmp_path, replace(FAST, precision=Precision.BF16.value), resume=True)


# --- the training benchmark -------------------------------------------------------------------

def test_train_benchmark_smoke_on_tensorflow(tmp_path, caplog):
    from edgevit.training.throughput import BenchConfig, markdown, run_bench, write_results

    config = BenchConfig(backend=Backend.TENSORFLOW, variant="tiny", image_size=32, num_classes=5, batch_sizes=(4,), steps=2,
                         warmup_steps=1, precision=Precision.FP32, input="images", synth_images=20, data_workers=2, peak_n=128,
                         command="python benchmarks/train_vit_l32.py --smoke")
    with caplog.at_level(logging.INFO, logger="edgevit.training.throughput"):
        result = run_bench(config)
    lines = [r.getMessage() for r in caplog.records if r.name == "edgevit.training.throughput"]
    assert [r["status"] for r in result["runs"]] == ["ok"], result["runs"]
    train_flops = result["model"]["training_flops_per_image"]
    assert train_flops == 3 * result["model"]["forward_flops_per_image"]
    for row in result["runs"]:
        assert row["images_per_s"] == pytest.approx(row["batch_size"] * row["steps"] / row["seconds"])
        assert row["mfu"] == pytest.approx(train_flops * row["images_per_s"] / result["peak"]["flops_best"])
    assert lines[0] == "command: python benchmarks/train_vit_l32.py --smoke"
    json_path, md_path = write_results(result, tmp_path)
    assert json_path.name == f"train_tiny_fp32_images_{result['machine']['id']}_{result['created'][:10]}.json"
    assert json.loads(json_path.read_text())["runs"] == json.loads(json.dumps(result["runs"]))
    assert "`python benchmarks/train_vit_l32.py --smoke`" in md_path.read_text() == markdown(result)


@needs_jax
def test_train_benchmark_script_runs_on_jax(tmp_path):
    """The script as the GPU machine runs it (no TensorFlow backend), on a tiny model."""
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train_vit_l32.py"), "--backend", "jax", "--variant", "tiny",
                           "--image-size", "32", "--batch-sizes", "8", "--steps", "3", "--warmup", "1", "--peak-n", "256",
                           "--results", str(tmp_path)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (result_file,) = tmp_path.glob("train_tiny_bf16_synthetic_*.json")
    result = json.loads(result_file.read_text())
    assert result["backend"] == "jax" and result["runs"][0]["status"] == "ok" and result["runs"][0]["jit_compile"] is True
    assert result["peak"]["dtype"] == "bfloat16" and 0 < result["runs"][0]["mfu"]
    assert "command: python " in done.stdout and "--backend jax" in done.stdout
