"""The zoo architectures (edgevit/architectures) registered as variants: each tiny size builds and
runs forward; the converter-friendly rewrites compute what the paper's ops compute."""

from __future__ import annotations

import numpy as np
import pytest

from edgevit.errors import UsageError
from edgevit.formats import Format
from edgevit.models import ZOO, ClassifierConfig, build_classifier, conversion_route, resolve_trainable_blocks, resolve_variant

TINY = sorted(name for name in ZOO if name.endswith("-tiny"))


def _config(name: str, image_size: int, classes: int = 3) -> ClassifierConfig:
    spec = ZOO[name]
    return ClassifierConfig(variant=name, image_size=image_size, num_classes=classes, noise_stddev=0.01,
                            trainable_blocks=spec.num_layers)


def test_every_architecture_has_a_full_and_a_tiny_size():
    architectures = {spec.architecture for spec in ZOO.values()}
    assert architectures == {"inception_v3", "mlp_mixer", "poolformer", "swin", "sequencer2d"}
    for arch in architectures:
        names = {spec.name for spec in ZOO.values() if spec.architecture == arch}
        assert len(names) == 2 and any(n.endswith("-tiny") for n in names), names


@pytest.mark.parametrize("name", TINY)
def test_tiny_variant_builds_and_runs_forward(name):
    spec = resolve_variant(name)
    size = max(spec.min_image_size, 32 // spec.image_multiple * spec.image_multiple or spec.image_multiple)
    model = build_classifier(_config(name, size))
    assert model.input.name == "images" and model.get_layer("head").units == 3
    x = np.random.default_rng(0).uniform(-1, 1, size=(2, size, size, 3)).astype(np.float32)
    probs = np.asarray(model(x, training=False))
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(np.isfinite(probs))


def test_bad_image_size_and_frozen_blocks_are_usage_errors():
    with pytest.raises(UsageError, match="multiple of 32"):
        build_classifier(_config("swin-tiny", 48))
    with pytest.raises(UsageError, match="at least 75"):
        build_classifier(_config("inception-v3-tiny", 64))
    with pytest.raises(UsageError, match="every block trainable"):
        resolve_trainable_blocks(ZOO["swin-tiny"], 1)
    assert resolve_trainable_blocks(ZOO["swin-tiny"], "all") == ZOO["swin-tiny"].num_layers
    with pytest.raises(UsageError, match="sequencer2d-tiny"):
        resolve_variant("no-such-variant")


def test_conversion_routes_are_recorded_for_the_rewritten_architectures():
    for fmt in Format:
        assert "unrolled" in conversion_route({"variant": "sequencer2d-tiny"}, fmt.value)
        assert "slices + concat" in conversion_route({"variant": "swin"}, fmt.value)
        assert conversion_route({"variant": "mlp-mixer-tiny"}, fmt.value) is None
        assert conversion_route({"variant": "tiny"}, fmt.value) is None


def test_swin_shift_and_mask_match_the_paper():
    from edgevit.architectures.swin import cyclic_shift, relative_position_index, shifted_window_mask

    x = np.arange(2 * 8 * 8 * 3, dtype=np.float32).reshape(2, 8, 8, 3)
    np.testing.assert_array_equal(np.asarray(cyclic_shift(x, 2)), np.roll(x, (-2, -2), axis=(1, 2)))
    np.testing.assert_array_equal(np.asarray(cyclic_shift(cyclic_shift(x, 2), 6)), x)
    index = relative_position_index(4)
    assert index.shape == (16, 16) and index.min() == 0 and index.max() == 7 * 7 - 1
    assert np.all(np.diag(index) == 3 * 7 + 3)  # zero offset is the table's centre
    mask = shifted_window_mask(8, 4, 2)
    assert mask.shape == (4, 16, 16)
    assert not mask[0].any()  # the top-left window holds one region only
    assert mask[3].min() == -100.0 and np.array_equal(mask[3], mask[3].T)


def test_unrolled_bilstm2d_equals_the_looped_one():
    """The conversion route (unrolled LSTMs) changes the graph, not the numbers."""
    from edgevit.architectures.sequencer2d import BiLSTM2D

    x = np.random.default_rng(1).normal(size=(2, 4, 5, 6)).astype(np.float32)
    unrolled, looped = BiLSTM2D(3, 6, unroll=True), BiLSTM2D(3, 6, unroll=False)
    unrolled.build(x.shape), looped.build(x.shape)
    looped.set_weights(unrolled.get_weights())
    np.testing.assert_allclose(np.asarray(unrolled(x)), np.asarray(looped(x)), rtol=1e-5, atol=1e-6)
    # Vertical mixing runs down columns: permuting rows changes the output, as it must.
    assert not np.allclose(np.asarray(unrolled(x[:, ::-1])), np.asarray(unrolled(x))[:, ::-1])
