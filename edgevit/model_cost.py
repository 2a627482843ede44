"""Multiply-accumulates and parameters of a ViT classifier, counted from its config (no model built).

Counted per image: the patch embedding (a PxP stride-P convolution = one matmul per patch), in every
encoder block the Q/K/V projections, the attention scores (Q K^T), the weighted sum of values and
the output projection, the two MLP layers, and the head on the class token (through the optional
representation layer). Layer norms, softmax, GELU, biases and the position-embedding add are
elementwise and left out: they are < 1% of the total and not matrix multiplies, so they are not what
the GEMM peak bounds. FLOPs = 2 x MACs. ViT-L/32 at 224 px: 15.4 GMACs.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgevit.config import VARIANTS, ViTSpec


@dataclass(frozen=True)
class ModelCost:
    macs: int
    params: int

    @property
    def flops(self) -> int:
        return 2 * self.macs


def vit_cost(spec: ViTSpec, *, image_size: int, num_classes: int, representation_size: int | None = None) -> ModelCost:
    """MACs per image and parameter count of vit-keras `build_model(..., include_top=False)` + a Dense head."""
    if image_size % spec.patch_size:
        raise ValueError(f"image size {image_size} is not a multiple of patch size {spec.patch_size}")
    d, m, p = spec.hidden_size, spec.mlp_dim, spec.patch_size
    patches = (image_size // p) ** 2
    tokens = patches + 1  # + the class token
    patch_in = p * p * 3

    embed_macs = patches * patch_in * d
    attention_macs = 4 * tokens * d * d + 2 * tokens * tokens * d  # QKV + output projections; scores + weighted sum
    mlp_macs = 2 * tokens * d * m
    head_in = representation_size or d
    head_macs = (d * representation_size if representation_size else 0) + head_in * num_classes
    macs = embed_macs + spec.num_layers * (attention_macs + mlp_macs) + head_macs

    block_params = (4 * (d * d + d)  # Q, K, V, output projection with biases
                    + (d * m + m) + (m * d + d)  # MLP
                    + 2 * 2 * d)  # two layer norms (scale, offset)
    params = ((patch_in * d + d)  # patch embedding
              + d + tokens * d  # class token, position embedding
              + spec.num_layers * block_params
              + 2 * d  # final layer norm
              + ((d * representation_size + representation_size) if representation_size else 0)
              + head_in * num_classes + num_classes)
    return ModelCost(macs=macs, params=params)


@dataclass(frozen=True)
class GemmShape:
    """`count` dense layers, each a (rows x depth) activation times a (depth x width) weight at batch 1."""
    layer: str
    rows: int
    depth: int
    width: int
    count: int

    @property
    def macs(self) -> int:
        return self.count * self.rows * self.depth * self.width


def vit_gemm_shapes(spec: ViTSpec, *, image_size: int, num_classes: int, representation_size: int | None = None) -> list[GemmShape]:
    """Every dense layer with constant weights in vit_cost's count, at batch 1: the GEMMs whose kernels bound an
    artifact. Left out: the attention scores and weighted sums (activation x activation, 2 x tokens^2 x width
    MACs per block: 0.8% of ViT-L/32)."""
    d, m, p = spec.hidden_size, spec.mlp_dim, spec.patch_size
    patches = (image_size // p) ** 2
    tokens, layers = patches + 1, spec.num_layers
    shapes = [GemmShape("patch embedding", patches, p * p * 3, d, 1),
              GemmShape("query, key, value, attention output", tokens, d, d, 4 * layers),
              GemmShape("MLP 1", tokens, d, m, layers), GemmShape("MLP 2", tokens, m, d, layers)]
    if representation_size:
        shapes.append(GemmShape("representation", 1, d, representation_size, 1))
    shapes.append(GemmShape("head", 1, representation_size or d, num_classes, 1))
    return shapes


def model_block(model: dict | None) -> dict | None:
    """The record's `model` block from a manifest's `model` entry (ClassifierConfig); None if unknown."""
    if not model or model.get("variant") not in VARIANTS:
        return None
    cost = vit_cost(VARIANTS[model["variant"]], image_size=int(model["image_size"]),
                    num_classes=int(model["num_classes"]), representation_size=model.get("representation_size"))
    return {"variant": model["variant"], "image_size": int(model["image_size"]), "num_classes": int(model["num_classes"]),
            "params": cost.params, "macs_per_image": cost.macs, "flops_per_image": cost.flops}
