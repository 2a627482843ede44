"""The frozen-backbone fast path keeps the recipe: the same run with the frozen part cached and recomputed
every step ends with the same weights, history and test accuracy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgevit.config import TrainConfig
from edgevit.data.synth import write_synthetic_birds
from edgevit.training import train as train_module
from edgevit.training.train import BEST_WEIGHTS, train

RECIPE = TrainConfig(variant="tiny", image_size=32, noise_stddev=0.0, epochs=3, batch_size=16, pretrained=False, seed=4,
                     learning_rate=1e-3, patience=5)


@pytest.fixture(scope="module")
def birds(tmp_path_factory):
    root = tmp_path_factory.mktemp("birds") / "data"
    write_synthetic_birds(root, num_classes=3, per_class=16, eval_per_class=6, image_size=32, seed=2)
    return root


def _weights(run):
    from edgevit.models import ClassifierConfig, build_classifier

    manifest = json.loads((run / "saved_model" / "manifest.json").read_text())
    model = build_classifier(ClassifierConfig.from_dict(manifest["model"]))
    model.load_weights(str(run / "checkpoints" / BEST_WEIGHTS))
    return [np.asarray(w) for w in model.get_weights()], manifest


@pytest.mark.slow  # four short training runs, each writing a SavedModel (minutes on a loaded 2-core machine)
@pytest.mark.parametrize("blocks", [0, 2])
def test_cached_frozen_part_trains_like_the_full_model(birds, tmp_path, monkeypatch, blocks):
    config = TrainConfig(**{**RECIPE.to_dict(), "trainable_blocks": blocks})
    fast = train(birds, tmp_path / "fast", config, verbose=0)
    fast_weights, fast_manifest = _weights(tmp_path / "fast")
    assert fast_manifest["training"]["frozen_features"]["used"] is True
    assert fast_manifest["training"]["frozen_features"]["feature_shape"] == ([128] if blocks == 0 else [17, 128])

    monkeypatch.setattr(train_module, "why_not_frozen_path", lambda **_: "switched off by the test")
    slow = train(birds, tmp_path / "slow", config, verbose=0)
    slow_weights, slow_manifest = _weights(tmp_path / "slow")
    assert slow_manifest["training"]["frozen_features"] == {"used": False, "why_not": "switched off by the test"}

    assert len(fast_weights) == len(slow_weights)
    for a, b in zip(fast_weights, slow_weights):
        np.testing.assert_allclose(a, b, atol=2e-5)
    assert fast.test_accuracy == slow.test_accuracy and fast.best_epoch == slow.best_epoch
    fast_hist = json.loads((tmp_path / "fast" / "history.json").read_text())["history"]
    slow_hist = json.loads((tmp_path / "slow" / "history.json").read_text())["history"]
    for f, s in zip(fast_hist, slow_hist):
        assert f["val_accuracy"] == s["val_accuracy"] and f["loss"] == pytest.approx(s["loss"], rel=1e-4)


@pytest.mark.slow
def test_noise_keeps_the_normal_path(birds, tmp_path):
    config = TrainConfig(**{**RECIPE.to_dict(), "trainable_blocks": 1, "noise_stddev": 0.05, "epochs": 1})
    train(birds, tmp_path / "run", config, verbose=0)
    record = json.loads((tmp_path / "run" / "saved_model" / "manifest.json").read_text())["training"]["frozen_features"]
    assert record["used"] is False and "noise" in record["why_not"]


@pytest.mark.parametrize("blocks", [0, 1, 3])
def test_split_classifier_composes_to_the_classifier(blocks):
    """tail(extractor(x)) is the classifier's own output, its layers (and weights) shared, not copied."""
    from edgevit.config import VARIANTS
    from edgevit.keras_backend import import_keras
    from edgevit.models import ClassifierConfig, build_classifier
    from edgevit.training.frozen import split_classifier, why_not_frozen_path

    keras = import_keras()
    spec = VARIANTS["tiny"]
    model = build_classifier(ClassifierConfig(variant="tiny", image_size=32, num_classes=3, noise_stddev=0.0, trainable_blocks=blocks))
    extractor, tail = split_classifier(keras, model, spec, blocks)
    x = np.random.default_rng(0).standard_normal((4, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(tail(extractor(x))), np.asarray(model(x)), atol=1e-6)
    assert {id(v) for v in tail.trainable_variables} == {id(v) for v in model.trainable_variables}
    assert why_not_frozen_path(noise_stddev=0.0, spec=spec, trainable_blocks=blocks, devices=1) is None
    assert "noise" in why_not_frozen_path(noise_stddev=0.01, spec=spec, trainable_blocks=blocks, devices=1)
    assert "dropout" in why_not_frozen_path(noise_stddev=0.0, spec=VARIANTS["vit-b16"], trainable_blocks=2, devices=1)


def _classifier_weights(run, name):
    from edgevit.models import ClassifierConfig, build_classifier

    model = build_classifier(ClassifierConfig("tiny", 32, 3, 0.0, 1))
    model.load_weights(str(run / "checkpoints" / name))
    return model.get_weights()


def test_fast_path_checkpoints_the_tail_and_resumes_exactly(birds, tmp_path):
    """Each epoch writes only the trained tail; --resume from it reaches the uninterrupted run's weights exactly."""
    from edgevit.training.train import LAST_WEIGHTS, START_WEIGHTS, TAIL_WEIGHTS

    config = TrainConfig(**{**RECIPE.to_dict(), "trainable_blocks": 1})
    straight = tmp_path / "straight"
    train(birds, straight, config, verbose=0)
    interrupted = tmp_path / "interrupted"
    train(birds, interrupted, TrainConfig(**{**config.to_dict(), "epochs": 1}), verbose=0)  # a run killed after epoch 1
    ckpt = interrupted / "checkpoints"
    state = json.loads((interrupted / "train_state.json").read_text())
    assert state["checkpoint"] == "tail" and state["epochs_done"] == 1
    # The tail (1 of 2 blocks, the norm and the head) is a fraction of the whole classifier.
    assert (ckpt / TAIL_WEIGHTS["last"]).stat().st_size < 0.7 * (ckpt / START_WEIGHTS).stat().st_size
    # Only the tail files change per epoch: the whole classifier's are the session's end.
    for name in (LAST_WEIGHTS, BEST_WEIGHTS):
        (ckpt / name).unlink()
    result = train(birds, interrupted, config, resume=True, verbose=0)
    assert result.epochs_run == 3
    for name in (LAST_WEIGHTS, BEST_WEIGHTS):
        for a, b in zip(_classifier_weights(straight, name), _classifier_weights(interrupted, name)):
            np.testing.assert_array_equal(a, b)  # exact: same batches, same optimizer state, same frozen part
    history = [h["epoch"] for h in json.loads((interrupted / "history.json").read_text())["history"]]
    assert history == [1, 2, 3]


def test_tail_checkpoints_resume_on_the_normal_path(birds, tmp_path, monkeypatch):
    """A fast-path run resumed where the fast path is off (e.g. more devices) goes on from the same weights."""
    from edgevit.training.train import LAST_WEIGHTS

    config = TrainConfig(**{**RECIPE.to_dict(), "trainable_blocks": 1, "epochs": 2})
    straight = tmp_path / "straight"
    train(birds, straight, config, verbose=0)
    run = tmp_path / "run"
    train(birds, run, TrainConfig(**{**config.to_dict(), "epochs": 1}), verbose=0)
    monkeypatch.setattr(train_module, "why_not_frozen_path", lambda **_: "switched off by the test")
    result = train(birds, run, config, resume=True, verbose=0)
    assert result.epochs_run == 2
    assert json.loads((run / "train_state.json").read_text())["checkpoint"] == "classifier"
    for a, b in zip(_classifier_weights(straight, LAST_WEIGHTS), _classifier_weights(run, LAST_WEIGHTS)):
        np.testing.assert_allclose(a, b, atol=2e-5)  # the two paths differ only in float rounding


def test_a_zoo_model_trains_every_block_on_the_normal_path(birds, tmp_path):
    # A zoo architecture has no frozen part to cache: train must not size ViT features for it (it once crashed there).
    config = TrainConfig(variant="mlp-mixer-tiny", image_size=32, noise_stddev=0.0, epochs=1, batch_size=16, pretrained=False,
                         seed=4, learning_rate=1e-3)
    result = train(birds, tmp_path / "run", config, verbose=0)
    manifest = json.loads((tmp_path / "run" / "saved_model" / "manifest.json").read_text())
    assert manifest["training"]["frozen_features"] == {"used": False, "why_not": "every block trains"}
    assert 0.0 <= result.test_accuracy <= 1.0 and result.best_epoch == 1
