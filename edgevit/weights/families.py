"""State dict (name -> array, PyTorch layout) -> SourceViT, one function per library's naming.

Hugging Face ViT (modeling_vit.py), Hugging Face DINOv2 (modeling_dinov2.py) and timm
(vision_transformer.py). ONNX exports of these are read into the same names first (onnx_source.py).
"""

from __future__ import annotations

import math

import numpy as np

from edgevit.errors import ModelError
from edgevit.weights.layout import HALF_MEAN, HALF_STD, IMAGENET_MEAN, IMAGENET_STD, Block, SourceViT
from edgevit.weights.resample import BICUBIC, BICUBIC_ANTIALIAS

HF_VIT, HF_DINOV2, TIMM = "Hugging Face ViT", "Hugging Face DINOv2", "timm ViT"
_SHOWN = 4


def strip_prefix(state: dict, marker: str) -> dict:
    """Drop a wrapper's prefix ("vit.", "dinov2.", "backbone.") found before the key ending in `marker`."""
    hits = [k for k in state if k.endswith(marker)]
    if not hits:
        return state
    prefix = hits[0][: -len(marker)]
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def detect_family(state: dict) -> str | None:
    """Which library wrote these names (None: not a ViT edgevit knows)."""
    names = set(state)
    if any(k.endswith("reg_token") or k.endswith("register_tokens") for k in names):
        raise ModelError("the checkpoint has register tokens (DINOv2 with registers); edgevit cannot import "
                         "register tokens yet: use a checkpoint without registers")
    if any(k.endswith("blocks.0.attn.qkv.weight") for k in names):
        return TIMM
    if any(k.endswith("encoder.layer.0.norm1.weight") for k in names):
        return HF_DINOV2
    if any(k.endswith("encoder.layer.0.layernorm_before.weight") for k in names):
        return HF_VIT
    return None


def not_a_vit(state: dict, what: str) -> ModelError:
    sample = ", ".join(sorted(state)[:_SHOWN]) or "no tensors"
    return ModelError(f"{what} is not a ViT checkpoint edgevit can import (found {sample}, ...); expected the "
                      "tensor names of a Hugging Face ViT / DINOv2 or a timm ViT")


def _take(state: dict, name: str, what: str) -> np.ndarray:
    if name not in state:
        raise ModelError(f"{what}: tensor '{name}' is missing; the file is incomplete or not a standard ViT checkpoint")
    return np.asarray(state[name], dtype=np.float32)


def _grid(pos: np.ndarray, num_patch_tokens_plus_cls: bool, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(1, T, D) position embeddings -> (class position (D,), grid (G, G, D))."""
    tokens = pos.reshape(-1, pos.shape[-1])
    cls_pos = tokens[0] if num_patch_tokens_plus_cls else np.zeros(pos.shape[-1], np.float32)
    patches = tokens[1:] if num_patch_tokens_plus_cls else tokens
    side = math.isqrt(patches.shape[0])
    if side * side != patches.shape[0]:
        raise ModelError(f"{what}: {patches.shape[0]} patch position embeddings do not form a square grid")
    return cls_pos, patches.reshape(side, side, -1)


def _count_layers(state: dict, head: str) -> int:
    n = 0
    while any(k.startswith(f"{head}{n}.") for k in state):
        n += 1
    return n


def from_hf(state: dict, family: str, *, heads: int | None, what: str) -> SourceViT:
    """Hugging Face ViTModel / Dinov2Model names (any wrapper prefix already stripped)."""
    dinov2 = family == HF_DINOV2
    depth = _count_layers(state, "encoder.layer.")
    if dinov2 and any(".mlp.weights_in." in k for k in state):
        raise ModelError(f"{what}: a SwiGLU DINOv2 (use_swiglu_ffn) has no vit-keras equivalent; use a ViT-S/B/L DINOv2 with an MLP")
    blocks = []
    for i in range(depth):
        p = f"encoder.layer.{i}."
        t = lambda n: _take(state, p + n, what)  # noqa: E731
        mlp1, mlp2 = ("mlp.fc1", "mlp.fc2") if dinov2 else ("intermediate.dense", "output.dense")
        ln1, ln2 = ("norm1", "norm2") if dinov2 else ("layernorm_before", "layernorm_after")
        blocks.append(Block(
            ln1_w=t(f"{ln1}.weight"), ln1_b=t(f"{ln1}.bias"),
            q_w=t("attention.attention.query.weight"), q_b=t("attention.attention.query.bias"),
            k_w=t("attention.attention.key.weight"), k_b=t("attention.attention.key.bias"),
            v_w=t("attention.attention.value.weight"), v_b=t("attention.attention.value.bias"),
            o_w=t("attention.output.dense.weight"), o_b=t("attention.output.dense.bias"),
            ln2_w=t(f"{ln2}.weight"), ln2_b=t(f"{ln2}.bias"),
            fc1_w=t(f"{mlp1}.weight"), fc1_b=t(f"{mlp1}.bias"), fc2_w=t(f"{mlp2}.weight"), fc2_b=t(f"{mlp2}.bias"),
            ls1=t("layer_scale1.lambda1") if p + "layer_scale1.lambda1" in state else None,
            ls2=t("layer_scale2.lambda1") if p + "layer_scale2.lambda1" in state else None,
        ))
    cls_pos, grid = _grid(_take(state, "embeddings.position_embeddings", what), True, what)
    return SourceViT(
        source=family, patch_w=_take(state, "embeddings.patch_embeddings.projection.weight", what),
        patch_b=_take(state, "embeddings.patch_embeddings.projection.bias", what),
        cls=_take(state, "embeddings.cls_token", what).reshape(1, 1, -1), pos_cls=cls_pos, pos_grid=grid,
        blocks=blocks, norm_w=_take(state, "layernorm.weight", what), norm_b=_take(state, "layernorm.bias", what),
        heads=heads, pool="token", interpolation=BICUBIC,
        mean=IMAGENET_MEAN if dinov2 else HALF_MEAN, std=IMAGENET_STD if dinov2 else HALF_STD,
    )


def from_timm(state: dict, *, what: str) -> SourceViT:
    """timm VisionTransformer names: fused qkv (3D, D), LayerScale `ls1.gamma`, `fc_norm` for mean pooling."""
    depth = _count_layers(state, "blocks.")
    if any(".attn.q_norm." in k for k in state):
        raise ModelError(f"{what}: a ViT with q/k normalisation (qk_norm) has no vit-keras equivalent")
    if "fc_norm.weight" in state:
        # timm's avg pooling with fc_norm normalises after pooling; vit-keras normalises the tokens first.
        raise ModelError(f"{what}: mean pooling with fc_norm (LayerNorm after pooling) has no vit-keras equivalent; "
                         "export the model with global_pool='token' or without fc_norm")
    if "cls_token" not in state:
        raise ModelError(f"{what}: the model has no class token (class_token=False); edgevit's ViT needs one")
    blocks = []
    for i in range(depth):
        t = lambda n: _take(state, f"blocks.{i}.{n}", what)  # noqa: E731
        qkv_w = t("attn.qkv.weight")
        width = qkv_w.shape[1]
        qkv_b = t("attn.qkv.bias") if f"blocks.{i}.attn.qkv.bias" in state else np.zeros(3 * width, np.float32)
        q_w, k_w, v_w = np.split(qkv_w, 3, axis=0)
        q_b, k_b, v_b = np.split(qkv_b, 3)
        blocks.append(Block(
            ln1_w=t("norm1.weight"), ln1_b=t("norm1.bias"), q_w=q_w, q_b=q_b, k_w=k_w, k_b=k_b, v_w=v_w, v_b=v_b,
            o_w=t("attn.proj.weight"), o_b=t("attn.proj.bias"), ln2_w=t("norm2.weight"), ln2_b=t("norm2.bias"),
            fc1_w=t("mlp.fc1.weight"), fc1_b=t("mlp.fc1.bias"), fc2_w=t("mlp.fc2.weight"), fc2_b=t("mlp.fc2.bias"),
            ls1=t("ls1.gamma") if f"blocks.{i}.ls1.gamma" in state else None,
            ls2=t("ls2.gamma") if f"blocks.{i}.ls2.gamma" in state else None,
        ))
    pos = _take(state, "pos_embed", what)
    patch_w = _take(state, "patch_embed.proj.weight", what)
    # pos_embed holds the class position too unless the model was built with no_embed_class=True.
    side_with_cls = math.isqrt(pos.shape[1] - 1)
    with_cls = side_with_cls * side_with_cls == pos.shape[1] - 1
    cls_pos, grid = _grid(pos, with_cls, what)
    return SourceViT(
        source=TIMM, patch_w=patch_w, patch_b=_take(state, "patch_embed.proj.bias", what),
        cls=_take(state, "cls_token", what).reshape(1, 1, -1), pos_cls=cls_pos, pos_grid=grid, blocks=blocks,
        norm_w=_take(state, "norm.weight", what), norm_b=_take(state, "norm.bias", what), heads=None,
        pool="token", interpolation=BICUBIC_ANTIALIAS, mean=IMAGENET_MEAN, std=IMAGENET_STD,
    )
