"""The recipe gives the same numbers on every installed Keras backend, on one device and data parallel.

Each backend runs in its own process (`python -m edgevit.training.crosscheck`): KERAS_BACKEND is fixed
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

from edgevit.keras_backend import Backend, is_installed
from edgevit.models import ClassifierConfig, build_classifier

LOSS_RTOL = 1e-4
MODEL = ClassifierConfig(variant="tiny", image_size=32, num_classes=3, noise_stddev=0.0, trainable_blocks=4)
STEPS = 3  # one batch per epoch: STEPS losses, each of the weights after one more Adam update


# Per backend, the runs made in its one process: (batch_size, devices, precision); None: all 10 images at once.
REFERENCE = (None, 1, "fp32")
# Each TensorFlow run traces the step for ~30 s on the 2-core CPU, a JAX run compiles in ~10 s: the
# data-parallel-without-padding and padding cases are split between them accordingly.
RUNS = {
    Backend.TENSORFLOW: (REFERENCE, (None, 2, "fp32")),
    Backend.JAX: (REFERENCE, (4, 1, "fp32"), (4, 4, "fp32"), (None, 1, "bf16")),
    Backend.TORCH: (REFERENCE,),
}
HOST_DEVICES = {Backend.TENSORFLOW: 2, Backend.JAX: 4, Backend.TORCH: 1}


@pytest.fixture(scope="module")
def start(tmp_path_factory):
    """The shared starting point: weights saved by the TensorFlow backend (this process) and a labelled batch."""
    from edgevit.keras_backend import import_keras

    folder = tmp_path_factory.mktemp("backend_check")
    import_keras().utils.set_random_seed(0)  # the same start every run: how fast 3 steps fit depends on it
    model = build_classifier(MODEL)
    weights = folder / "start.weights.h5"
    model.save_weights(str(weights))
    rng = np.random.default_rng(7)
    data = folder / "batch.npz"
    np.savez(data, pixels=rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8), labels=rng.integers(0, 3, 10))
    return weights, data


@pytest.fixture(scope="module")
def results(start):
    """backend -> {(batch_size, devices, precision): run JSON}; one process per installed backend, run side by side."""
    weights, data = start
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "XLA_FLAGS")}
    processes = {}
    for backend, runs in RUNS.items():
        if not is_installed(backend):
            continue
        spec = [{"batch_size": b, "devices": d, "precision": p} if b else {"devices": d, "precision": p} for b, d, p in runs]
        command = [sys.executable, "-m", "edgevit.training.crosscheck", "--backend", backend.value, "--model", json.dumps(MODEL.to_dict()),
                   "--weights", str(weights), "--data", str(data), "--epochs", str(STEPS),
                   "--host-devices", str(HOST_DEVICES[backend]), "--runs", json.dumps(spec)]
        processes[backend] = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    found = {}
    for backend, process in processes.items():
        stdout, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, f"{backend.value}: {stderr[-3000:]}"
        lines = [json.loads(line) for line in stdout.strip().splitlines() if line.startswith("{")]
        assert len(lines) == len(RUNS[backend])
        for key, line in zip(RUNS[backend], lines):
            assert line["keras_backend"] == backend.value and len(line["devices"]) == key[1] and line["precision"] == key[2]
        found[backend] = dict(zip(RUNS[backend], lines))
    return found


def _get(results, backend: Backend, key=REFERENCE) -> dict:
    if backend not in results:
        pytest.skip(f"the {backend.value} backend is not installed (pip install -e '.[backends]' installs JAX for CPU)")
    return results[backend][key]


def test_reference_run_trains(results):
    reference = _get(results, Backend.TENSORFLOW)
    losses = reference["epoch_losses"]
    assert len(losses) == STEPS and all(np.isfinite(losses))
    assert losses[-1] < losses[0] / 10  # Adam steps on one batch of 10 images fit it
    assert reference["final_loss"] < losses[0] / 10


@pytest.mark.parametrize("backend", [Backend.JAX, Backend.TORCH], ids=lambda b: b.value)
def test_training_steps_match_tensorflow(backend, results):
    result, reference = _get(results, backend), _get(results, Backend.TENSORFLOW)
    np.testing.assert_allclose(result["epoch_losses"], reference["epoch_losses"], rtol=LOSS_RTOL)
    assert result["final_loss"] == pytest.approx(reference["final_loss"], rel=LOSS_RTOL)


def test_mirrored_strategy_on_two_devices_trains_like_one(results):
    """TensorFlow's MirroredStrategy over 2 CPU devices, 5 of the 10 images each per step."""
    single, parallel = _get(results, Backend.TENSORFLOW), _get(results, Backend.TENSORFLOW, (None, 2, "fp32"))
    np.testing.assert_allclose(parallel["epoch_losses"], single["epoch_losses"], rtol=LOSS_RTOL)
    assert parallel["final_loss"] == pytest.approx(single["final_loss"], rel=LOSS_RTOL)


def test_jax_data_parallel_pads_a_short_last_batch_without_changing_the_update(results):
    """keras.distribution.DataParallel over 4 CPU devices, 10 images in batches of 4: the last batch
    (2 images) is padded to 4 with sample weight 0.

    fit()'s epoch loss weighs the padded batch by its padded size, so only the trained weights
    (final_loss) are compared; had the padding counted, the last update of each epoch would differ.
    """
    single, parallel = _get(results, Backend.JAX, (4, 1, "fp32")), _get(results, Backend.JAX, (4, 4, "fp32"))
    assert parallel["final_loss"] == pytest.approx(single["final_loss"], rel=LOSS_RTOL)
    assert parallel["final_loss"] < single["epoch_losses"][0] / 10  # it trained


def test_bfloat16_trains_close_to_float32(results):
    """bfloat16 keeps about 3 significant digits: losses agree with float32 to 0.02 + 2%, not to 1e-4."""
    mixed, reference = _get(results, Backend.JAX, (None, 1, "bf16")), _get(results, Backend.JAX)
    np.testing.assert_allclose(mixed["epoch_losses"], reference["epoch_losses"], rtol=0.02, atol=0.02)
    assert mixed["epoch_losses"] != reference["epoch_losses"]  # it did run in bfloat16
