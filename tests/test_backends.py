"""The recipe gives the same numbers on every installed Keras backend, on one device and data parallel.

Each backend runs in its own process (`python -m edgevit.backend_check`): KERAS_BACKEND is fixed
when Keras is imported. All runs start from the same weights file and train on the same pixels
with the input noise off (backends draw different random numbers).

Tolerance: relative 1e-4 on float32 losses. Measured on the 2-core CPU: TensorFlow vs JAX differ by
about 1e-6 relative (up to 1e-5 on a loss near 0.006): different matmul kernels and summation
orders; one device vs two or four likewise. Computing in bfloat16 instead moves the same losses by
1e-3 to 3e-2 relative, so the tolerance would catch any real difference in the forward pass, the
gradients or the Adam update.
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


def _run(backend: Backend, start, *, batch_size: int | None, devices: int, host_devices: int, precision: str) -> dict:
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
    assert result["keras_backend"] == backend.value and len(result["devices"]) == devices
    return result


@pytest.fixture(scope="module")
def check(start):
    """check(backend, batch_size=None, devices=1, host_devices=1, precision="fp32") -> the run's JSON; each run once."""
    done: dict[tuple, dict] = {}

    def run(backend: Backend, *, batch_size: int | None = None, devices: int = 1, host_devices: int = 1, precision: str = "fp32") -> dict:
        _require(backend)
        key = (backend, batch_size, devices, host_devices, precision)
        if key not in done:
            done[key] = _run(backend, start, batch_size=batch_size, devices=devices, host_devices=host_devices, precision=precision)
        return done[key]

    return run


def test_reference_run_trains(check):
    reference = check(Backend.TENSORFLOW)
    losses = reference["epoch_losses"]
    assert len(losses) == STEPS and all(np.isfinite(losses))
    assert losses[-1] < losses[0] - 1e-3  # three Adam steps on one batch lower its loss
    assert reference["final_loss"] < losses[-1]  # and the weights after the last update lower it again


@pytest.mark.parametrize("backend", [Backend.JAX, Backend.TORCH], ids=lambda b: b.value)
def test_training_steps_match_tensorflow(backend, check):
    result, reference = check(backend), check(Backend.TENSORFLOW)
    np.testing.assert_allclose(result["epoch_losses"], reference["epoch_losses"], rtol=LOSS_RTOL)
    assert result["final_loss"] == pytest.approx(reference["final_loss"], rel=LOSS_RTOL)


@pytest.mark.parametrize("backend", [Backend.TENSORFLOW, Backend.JAX], ids=lambda b: b.value)
def test_data_parallel_on_two_devices_trains_like_one(backend, check):
    """10 images in batches of 4 (the last has 2): every batch splits evenly over 2 CPU devices."""
    single = check(backend, batch_size=4)
    parallel = check(backend, batch_size=4, devices=2, host_devices=2)
    np.testing.assert_allclose(parallel["epoch_losses"], single["epoch_losses"], rtol=LOSS_RTOL)
    assert parallel["final_loss"] == pytest.approx(single["final_loss"], rel=LOSS_RTOL)


def test_jax_pads_a_short_last_batch_without_changing_the_update(check):
    """10 images in batches of 4 on 4 devices: the last batch (2 images) is padded to 4 with sample weight 0.

    fit()'s epoch loss weighs the padded batch by its padded size, so only the trained weights
    (final_loss) are compared; had the padding counted, the last update of each epoch would differ.
    """
    single = check(Backend.JAX, batch_size=4)
    parallel = check(Backend.JAX, batch_size=4, devices=4, host_devices=4)
    assert parallel["final_loss"] == pytest.approx(single["final_loss"], rel=LOSS_RTOL)
    assert parallel["final_loss"] < single["epoch_losses"][0] / 10  # it trained


def test_bfloat16_trains_close_to_float32(check):
    """bfloat16 keeps about 3 significant digits: losses agree with float32 to 0.02 + 2%, not to 1e-4."""
    mixed, reference = check(Backend.TENSORFLOW, precision="bf16"), check(Backend.TENSORFLOW)
    np.testing.assert_allclose(mixed["epoch_losses"], reference["epoch_losses"], rtol=0.02, atol=0.02)
    assert mixed["epoch_losses"] != reference["epoch_losses"]  # it did run in bfloat16
