"""The recipe gives the same numbers on every installed Keras backend, on one device and data parallel.

Each backend runs in its own process (`python -m edgevit.backend_check`): KERAS_BACKEND is fixed
when Keras is imported. All runs start from the same weights file and train on the same pixels
with the input noise off (backends draw different random numbers).

Tolerance: relative 1e-4 on float32 losses. Measured here (2-core CPU): TensorFlow vs JAX differ by
about 1e-7 relative (different matmul kernels and summation orders); a mistake in the forward pass,
the gradients, the Adam update or the padding weights moves the losses by 1e-3 or more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from edgevit.backends import Backend, is_installed
from edgevit.models import ClassifierConfig, build_classifier

LOSS_RTOL = 1e-4
MODEL = ClassifierConfig(variant="tiny", image_size=32, num_classes=3, noise_stddev=0.0, trainable_blocks=4)
STEPS = 3  # one batch per epoch: STEPS losses, each of the weights after one more Adam update


def _require(backend: Backend) -> None:
    if not is_installed(backend):
        pytest.skip(f"the {backend.value} backend is not installed (pip install -e '.[backends]' installs JAX for CPU)")


@pytest.fixture(scope="module")
def start(tmp_path_factory):
    """The shared starting point: weights saved by the TensorFlow backend (this process) and a labelled batch."""
    folder = tmp_path_factory.mktemp("backend_check")
    model = build_classifier(MODEL)
    weights = folder / "start.weights.h5"
    model.save_weights(str(weights))
    rng = np.random.default_rng(7)
    data = folder / "batch.npz"
    np.savez(data, pixels=rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8), labels=rng.integers(0, 3, 10))
    return weights, data


def _check(backend: Backend, start, *, batch_size: int | None = None, devices: int = 1, host_devices: int = 1, precision: str = "fp32") -> dict:
    weights, data = start
    command = [sys.executable, "-m", "edgevit.backend_check", "--backend", backend.value, "--model", json.dumps(MODEL.to_dict()),
               "--weights", str(weights), "--data", str(data), "--epochs", str(STEPS), "--devices", str(devices),
               "--host-devices", str(host_devices), "--precision", precision]
    if batch_size:
        command += ["--batch-size", str(batch_size)]
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "XLA_FLAGS")}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["keras_backend"] == backend.value
    return result


@pytest.fixture(scope="module")
def tensorflow_reference(start):
    return _check(Backend.TENSORFLOW, start)


def test_reference_run_trains(tensorflow_reference):
    losses = tensorflow_reference["epoch_losses"]
    assert len(losses) == STEPS and all(np.isfinite(losses))
    assert losses[-1] < losses[0] - 1e-3  # three Adam steps on one batch lower its loss
    assert tensorflow_reference["final_loss"] < losses[-1]  # and the weights after the last update lower it again


@pytest.mark.parametrize("backend", [Backend.JAX, Backend.TORCH], ids=lambda b: b.value)
def test_one_training_step_matches_tensorflow(backend, start, tensorflow_reference):
    _require(backend)
    result = _check(backend, start)
    np.testing.assert_allclose(result["epoch_losses"], tensorflow_reference["epoch_losses"], rtol=LOSS_RTOL)
    assert result["final_loss"] == pytest.approx(tensorflow_reference["final_loss"], rel=LOSS_RTOL)


@pytest.mark.parametrize("backend", [Backend.TENSORFLOW, Backend.JAX], ids=lambda b: b.value)
def test_data_parallel_on_two_devices_trains_like_one(backend, start):
    """Batches of 4 over 10 images: the last batch (2) splits evenly; 4 images per step over 2 CPU devices."""
    _require(backend)
    single = _check(backend, start, batch_size=4)
    parallel = _check(backend, start, batch_size=4, devices=2, host_devices=2)
    assert len(parallel["devices"]) == 2
    np.testing.assert_allclose(parallel["epoch_losses"], single["epoch_losses"], rtol=LOSS_RTOL)
    assert parallel["final_loss"] == pytest.approx(single["final_loss"], rel=LOSS_RTOL)


def test_jax_pads_a_short_last_batch_without_changing_the_update(start):
    """10 images in batches of 4 on 4 devices: the last batch (2 images) is padded to 4 with sample weight 0."""
    _require(Backend.JAX)
    single = _check(Backend.JAX, start, batch_size=4)
    parallel = _check(Backend.JAX, start, batch_size=4, devices=4, host_devices=4)
    assert parallel["final_loss"] == pytest.approx(single["final_loss"], rel=LOSS_RTOL)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_close_to_float32(precision, start, tensorflow_reference):
    """bf16 keeps ~3 significant digits, fp16 ~4: the losses agree with float32 to a few percent, not to 1e-4."""
    result = _check(Backend.TENSORFLOW, start, precision=precision)
    np.testing.assert_allclose(result["epoch_losses"], tensorflow_reference["epoch_losses"], rtol=0.05)
    assert result["epoch_losses"][-1] < result["epoch_losses"][0]
