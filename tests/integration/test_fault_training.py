"""Fault injection: training killed mid-epoch (SIGKILL) resumes to exactly the uninterrupted result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edgevit.data.synth import write_synthetic_birds
from edgevit.models import ClassifierConfig, build_classifier
from edgevit.training.train import LAST_WEIGHTS, STATE_NAME

EPOCHS = 3


def _train_cmd(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "edgevit", "train", str(data), "--out", str(out), "--variant", "tiny", "--image-size", "32",
            "--epochs", str(EPOCHS), "--batch-size", "4", "--no-pretrained", "--seed", "3", *extra]


def _epochs_done(out: Path) -> int:
    try:
        return json.loads((out / STATE_NAME).read_text())["epochs_done"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return 0


def _weights(out: Path) -> list[np.ndarray]:
    manifest = json.loads((out / "saved_model" / "manifest.json").read_text())
    model = build_classifier(ClassifierConfig.from_dict(manifest["model"]))
    model.load_weights(str(out / "checkpoints" / LAST_WEIGHTS))
    return model.get_weights()


@pytest.mark.slow  # three training processes (~1.5 min quiet); resume exactness in-process is in test_train.py
def test_killed_mid_epoch_then_resumed_equals_uninterrupted(tmp_path):
    data = tmp_path / "data"
    write_synthetic_birds(data, num_classes=3, per_class=40, eval_per_class=4, image_size=32, seed=2)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(data, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 300
    while _epochs_done(killed) < 1:
        assert proc.poll() is None, "training ended before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint after 300 s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)  # no cleanup handlers run: as hard as a power cut
    proc.wait()
    assert _epochs_done(killed) == 1, "the kill should land during epoch 2 (30 steps of batch 4)"
    assert not (killed / "saved_model").exists()

    resumed = subprocess.run(_train_cmd(data, killed, "--resume"), capture_output=True, text=True, env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    straight = subprocess.run(_train_cmd(data, tmp_path / "straight"), capture_output=True, text=True, env=env, timeout=600)
    assert straight.returncode == 0, straight.stderr[-2000:]

    for a, b in zip(_weights(killed), _weights(tmp_path / "straight"), strict=True):
        np.testing.assert_array_equal(a, b)
    history = json.loads((killed / "history.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
