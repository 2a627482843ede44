"""Variants, freezing, and pretrained weights from a local .npz (the real vit-keras loading code)."""

from __future__ import annotations

import numpy as np
import pytest

from edgevit.config import VARIANTS
from edgevit.errors import ModelError, UsageError
from edgevit.models import (
    ClassifierConfig,
    build_classifier,
    load_pretrained_weights,
    pretrained_weights_path,
    resolve_trainable_blocks,
    resolve_variant,
)


def _vit_npz(model, spec, path):
    """Write the body of `model` in the Flax/vit-keras .npz key layout (the inverse of load_weights_numpy)."""
    base = model.get_layer(spec.name)
    arrays = {
        "embedding/kernel": base.get_layer("embedding").get_weights()[0],
        "embedding/bias": base.get_layer("embedding").get_weights()[1],
        "cls": base.get_layer("class_token").get_weights()[0],
        "Transformer/posembed_input/pos_embedding": base.get_layer("Transformer_posembed_input").get_weights()[0],
        "Transformer/encoder_norm/scale": base.get_layer("Transformer_encoder_norm").get_weights()[0],
        "Transformer/encoder_norm/bias": base.get_layer("Transformer_encoder_norm").get_weights()[1],
    }
    for i in range(spec.num_layers):
        block = base.get_layer(f"Transformer_encoderblock_{i}")
        prefix = f"Transformer/encoderblock_{i}"
        for norm, layer in (("LayerNorm_0", block.layernorm1), ("LayerNorm_2", block.layernorm2)):
            arrays[f"{prefix}/{norm}/scale"], arrays[f"{prefix}/{norm}/bias"] = layer.get_weights()
        for d in (0, 1):
            dense = block.mlpblock.get_layer(f"{prefix.replace('/', '_')}_Dense_{d}")
            arrays[f"{prefix}/MlpBlock_3/Dense_{d}/kernel"], arrays[f"{prefix}/MlpBlock_3/Dense_{d}/bias"] = dense.get_weights()
        for name, layer in (("query", block.att.query_dense), ("key", block.att.key_dense),
                            ("value", block.att.value_dense), ("out", block.att.combine_heads)):
            kernel, bias = layer.get_weights()
            arrays[f"{prefix}/MultiHeadDotProductAttention_1/{name}/kernel"] = kernel
            arrays[f"{prefix}/MultiHeadDotProductAttention_1/{name}/bias"] = bias
    np.savez(path, **arrays)
    return arrays


def _body_weights(model, spec):
    return [w.copy() for w in model.get_layer(spec.name).get_weights()]


def test_unknown_variant_lists_known():
    with pytest.raises(UsageError, match="unknown variant 'vit-h14'; known variants: vit-b16, vit-b32, vit-l16, vit-l32, tiny"):
        resolve_variant("vit-h14")


def test_registered_variants_match_vit_keras():
    from vit_keras import vit

    assert VARIANTS["vit-l32"].hidden_size == vit.CONFIG_L["hidden_size"] and VARIANTS["vit-l32"].patch_size == 32
    assert VARIANTS["vit-b16"].num_layers == vit.CONFIG_B["num_layers"]


def test_tiny_classifier_shape_and_freezing():
    model = build_classifier(ClassifierConfig("tiny", 32, 5, 0.01, trainable_blocks=1))
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 5)
    base = model.get_layer("tiny")
    trainable = {l.name for l in base.layers if l.trainable and l.weights}
    assert "Transformer_encoderblock_3" in trainable and "Transformer_encoder_norm" in trainable
    assert not {"Transformer_encoderblock_0", "embedding", "class_token"} & trainable
    probs = model.predict(np.zeros((2, 32, 32, 3), np.float32), verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_image_size_must_fit_patches():
    with pytest.raises(UsageError, match="not a multiple of tiny's patch size 8"):
        build_classifier(ClassifierConfig("tiny", 30, 5, 0.01, 4))


@pytest.mark.parametrize("requested, expected", [("all", 4), (2, 2), ("0", 0), (None, 4)])
def test_trainable_blocks(requested, expected):
    assert resolve_trainable_blocks(VARIANTS["tiny"], requested) == expected


def test_trainable_blocks_out_of_range():
    with pytest.raises(UsageError, match="between 0 and 24"):
        resolve_trainable_blocks(VARIANTS["vit-l32"], 30)


def test_missing_pretrained_weights_says_where(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    with pytest.raises(ModelError) as info:
        pretrained_weights_path(VARIANTS["vit-l32"], "imagenet21k+imagenet2012", None)
    message = str(info.value)
    assert f"put ViT-L_32_imagenet21k+imagenet2012.npz at {tmp_path}/kh/weights/ViT-L_32_imagenet21k+imagenet2012.npz" in message
    assert "--weights PATH" in message and "--no-pretrained" in message


def test_weights_found_in_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    target = tmp_path / "weights" / "ViT-B_32_imagenet21k.npz"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"x")
    assert pretrained_weights_path(VARIANTS["vit-b32"], "imagenet21k", None) == target


def test_explicit_weights_path_missing(tmp_path):
    with pytest.raises(ModelError, match="weights file .*nope.npz not found"):
        pretrained_weights_path(VARIANTS["tiny"], "imagenet21k", tmp_path / "nope.npz")


def test_npz_weights_load_exactly(tmp_path):
    spec = VARIANTS["tiny"]
    source = build_classifier(ClassifierConfig("tiny", 32, 3, 0.01, 4))
    _vit_npz(source, spec, tmp_path / "w.npz")
    target = build_classifier(ClassifierConfig("tiny", 32, 7, 0.01, 4))
    before = _body_weights(target, spec)
    load_pretrained_weights(target, ClassifierConfig("tiny", 32, 7, 0.01, 4), tmp_path / "w.npz")
    after = _body_weights(target, spec)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    for a, b in zip(_body_weights(source, spec), after):
        np.testing.assert_array_equal(a, b)


def test_npz_weights_resize_position_embeddings(tmp_path):
    spec = VARIANTS["tiny"]
    source = build_classifier(ClassifierConfig("tiny", 32, 3, 0.01, 4))  # 4x4 patches
    _vit_npz(source, spec, tmp_path / "w.npz")
    config = ClassifierConfig("tiny", 64, 3, 0.01, 4)  # 8x8 patches
    target = build_classifier(config)
    load_pretrained_weights(target, config, tmp_path / "w.npz")
    assert target.get_layer("tiny").get_layer("Transformer_posembed_input").get_weights()[0].shape == (1, 65, 128)


def test_npz_for_wrong_variant(tmp_path):
    np.savez(tmp_path / "w.npz", cls=np.zeros((1, 1, 128), np.float32))
    config = ClassifierConfig("tiny", 32, 3, 0.01, 4)
    with pytest.raises(ModelError, match="weights do not fit tiny"):
        load_pretrained_weights(build_classifier(config), config, tmp_path / "w.npz")
