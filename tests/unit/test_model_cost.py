"""FLOP and parameter counts from the ViT config, checked against published sizes and Keras itself."""

from __future__ import annotations

import pytest

from edgevit.config import VARIANTS
from edgevit.model_cost import model_block, vit_cost, vit_gemm_shapes


def test_vit_l32_at_224_is_15_4_gmacs_and_its_measured_parameter_count():
    cost = vit_cost(VARIANTS["vit-l32"], image_size=224, num_classes=250)
    assert round(cost.macs / 1e9, 1) == 15.4
    assert cost.flops == 2 * cost.macs
    assert cost.params == 305_766_650  # the 250-class ViT-L/32 measured in STACK.md


def test_vit_b16_matches_the_published_size():
    cost = vit_cost(VARIANTS["vit-b16"], image_size=224, num_classes=1000)
    assert cost.params == 86_567_656  # ViT-B/16, ImageNet-1k head
    assert round(cost.macs / 1e9, 1) == 17.6


def test_each_term_counted_once():
    # 1 layer, hidden 4, mlp 8, patch 2 on a 4x4 image: 4 patches + class token = 5 tokens.
    from edgevit.config import ViTSpec

    spec = ViTSpec("t", 2, 1, 4, 1, 8, 0.0, 4, None, 1e-3, None)
    cost = vit_cost(spec, image_size=4, num_classes=3)
    embed = 4 * (2 * 2 * 3) * 4
    attention = 4 * 5 * 4 * 4 + 2 * 5 * 5 * 4
    mlp = 2 * 5 * 4 * 8
    head = 4 * 3
    assert cost.macs == embed + attention + mlp + head


def test_parameter_count_equals_the_keras_model():
    from edgevit.models import ClassifierConfig, build_classifier

    config = ClassifierConfig(variant="tiny", image_size=32, num_classes=5, noise_stddev=0.01, trainable_blocks=4)
    model = build_classifier(config)
    assert vit_cost(VARIANTS["tiny"], image_size=32, num_classes=5).params == model.count_params()
    block = model_block(config.to_dict())
    assert block["params"] == model.count_params() and block["flops_per_image"] == 2 * block["macs_per_image"]


def test_unknown_variant_or_bad_size():
    assert model_block({"variant": "resnet", "image_size": 224, "num_classes": 3}) is None
    assert model_block(None) is None
    with pytest.raises(ValueError, match="multiple of patch size"):
        vit_cost(VARIANTS["vit-l32"], image_size=200, num_classes=3)


def test_gemm_shapes_hold_every_dense_mac_of_the_cost():
    # The dense layers plus the attention's activation x activation products are the whole count.
    for variant, size, classes, representation in (("vit-l32", 224, 250, None), ("dinov2-s14", 224, 10, None), ("tiny", 32, 3, 8)):
        spec = VARIANTS[variant]
        shapes = vit_gemm_shapes(spec, image_size=size, num_classes=classes, representation_size=representation)
        tokens = (size // spec.patch_size) ** 2 + 1
        attention = spec.num_layers * 2 * tokens * tokens * spec.hidden_size
        assert sum(s.macs for s in shapes) + attention == vit_cost(spec, image_size=size, num_classes=classes,
                                                                   representation_size=representation).macs
    l32 = {s.layer: s for s in vit_gemm_shapes(VARIANTS["vit-l32"], image_size=224, num_classes=250)}
    assert (l32["MLP 1"].rows, l32["MLP 1"].depth, l32["MLP 1"].width, l32["MLP 1"].count) == (50, 1024, 4096, 24)
