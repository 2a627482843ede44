"""Small random ViT checkpoints laid out the way each library writes them, and an independent numpy forward pass
of each layout (written from the libraries' modules, not from edgevit's converter).

Names and shapes, as in the libraries' source:
- Hugging Face ViT (transformers/models/vit/modeling_vit.py, ViTModel): embeddings.{cls_token (1,1,D),
  position_embeddings (1,T+1,D), patch_embeddings.projection.{weight (D,3,p,p), bias}},
  encoder.layer.N.{layernorm_before, attention.attention.{query,key,value}, attention.output.dense,
  layernorm_after, intermediate.dense (M,D), output.dense (D,M)}, layernorm; Linear weights (out, in).
- Hugging Face DINOv2 (modeling_dinov2.py, Dinov2Model): the same embeddings (+ mask_token (1,D)),
  encoder.layer.N.{norm1, attention.attention.*, attention.output.dense, layer_scale1.lambda1 (D), norm2,
  mlp.fc1, mlp.fc2, layer_scale2.lambda1}, layernorm.
- timm (timm/models/vision_transformer.py, VisionTransformer): cls_token, pos_embed, patch_embed.proj,
  blocks.N.{norm1, attn.qkv (3D,D) fused, attn.proj, ls1.gamma, norm2, mlp.fc1, mlp.fc2, ls2.gamma}, norm, head.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
# The tiny variant's shapes (edgevit.config.VARIANTS["tiny"]), so an import lands on a registered variant.
TINY = dict(patch=8, width=128, depth=4, heads=4, mlp=256)


def _rand(rng, *shape, scale=0.05):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def hf_state(kind: str, *, grid: int = 8, seed: int = 0, prefix: str = "", patch=8, width=128, depth=4, mlp=256, **_) -> dict:
    """kind: "vit" or "dinov2"."""
    rng = np.random.default_rng(seed)
    s = {
        "embeddings.cls_token": _rand(rng, 1, 1, width, scale=0.5),
        "embeddings.position_embeddings": _rand(rng, 1, grid * grid + 1, width, scale=0.5),
        "embeddings.patch_embeddings.projection.weight": _rand(rng, width, 3, patch, patch),
        "embeddings.patch_embeddings.projection.bias": _rand(rng, width),
        "layernorm.weight": 1 + _rand(rng, width), "layernorm.bias": _rand(rng, width),
    }
    if kind == "dinov2":
        s["embeddings.mask_token"] = np.zeros((1, width), np.float32)
    for i in range(depth):
        p = f"encoder.layer.{i}."
        ln1, ln2 = ("norm1", "norm2") if kind == "dinov2" else ("layernorm_before", "layernorm_after")
        fc1, fc2 = ("mlp.fc1", "mlp.fc2") if kind == "dinov2" else ("intermediate.dense", "output.dense")
        for ln in (ln1, ln2):
            s[f"{p}{ln}.weight"], s[f"{p}{ln}.bias"] = 1 + _rand(rng, width, scale=0.2), _rand(rng, width)
        for name in ("query", "key", "value"):
            s[f"{p}attention.attention.{name}.weight"] = _rand(rng, width, width, scale=0.15)
            s[f"{p}attention.attention.{name}.bias"] = _rand(rng, width)
        s[f"{p}attention.output.dense.weight"], s[f"{p}attention.output.dense.bias"] = _rand(rng, width, width, scale=0.1), _rand(rng, width)
        s[f"{p}{fc1}.weight"], s[f"{p}{fc1}.bias"] = _rand(rng, mlp, width, scale=0.1), _rand(rng, mlp)
        s[f"{p}{fc2}.weight"], s[f"{p}{fc2}.bias"] = _rand(rng, width, mlp, scale=0.1), _rand(rng, width)
        if kind == "dinov2":
            s[f"{p}layer_scale1.lambda1"] = rng.uniform(0.05, 2.0, width).astype(np.float32)
            s[f"{p}layer_scale2.lambda1"] = rng.uniform(0.05, 2.0, width).astype(np.float32)
    return {prefix + k: v for k, v in s.items()}


def hf_config(kind: str, *, patch=8, width=128, depth=4, heads=4, mlp=256, image_size=64, **_) -> dict:
    config = {"model_type": kind, "hidden_size": width, "num_hidden_layers": depth, "num_attention_heads": heads,
              "hidden_act": "gelu", "patch_size": patch, "image_size": image_size, "qkv_bias": True,
              "layer_norm_eps": 1e-12 if kind == "vit" else 1e-6}
    if kind == "vit":
        config.update(intermediate_size=mlp, architectures=["ViTModel"])
    else:
        config.update(mlp_ratio=mlp // width, layerscale_value=1.0, use_swiglu_ffn=False, architectures=["Dinov2Model"])
    return config


def timm_state(*, grid: int = 8, seed: int = 0, layer_scale: bool = True, patch=8, width=128, depth=4, mlp=256, **_) -> dict:
    rng = np.random.default_rng(seed)
    s = {
        "cls_token": _rand(rng, 1, 1, width, scale=0.5),
        "pos_embed": _rand(rng, 1, grid * grid + 1, width, scale=0.5),
        "patch_embed.proj.weight": _rand(rng, width, 3, patch, patch), "patch_embed.proj.bias": _rand(rng, width),
        "norm.weight": 1 + _rand(rng, width), "norm.bias": _rand(rng, width),
        "head.weight": _rand(rng, 10, width), "head.bias": _rand(rng, 10),
    }
    for i in range(depth):
        p = f"blocks.{i}."
        for ln in ("norm1", "norm2"):
            s[f"{p}{ln}.weight"], s[f"{p}{ln}.bias"] = 1 + _rand(rng, width, scale=0.2), _rand(rng, width)
        s[f"{p}attn.qkv.weight"], s[f"{p}attn.qkv.bias"] = _rand(rng, 3 * width, width, scale=0.15), _rand(rng, 3 * width)
        s[f"{p}attn.proj.weight"], s[f"{p}attn.proj.bias"] = _rand(rng, width, width, scale=0.1), _rand(rng, width)
        s[f"{p}mlp.fc1.weight"], s[f"{p}mlp.fc1.bias"] = _rand(rng, mlp, width, scale=0.1), _rand(rng, mlp)
        s[f"{p}mlp.fc2.weight"], s[f"{p}mlp.fc2.bias"] = _rand(rng, width, mlp, scale=0.1), _rand(rng, width)
        if layer_scale:
            s[f"{p}ls1.gamma"] = rng.uniform(0.05, 2.0, width).astype(np.float32)
            s[f"{p}ls2.gamma"] = rng.uniform(0.05, 2.0, width).astype(np.float32)
    return s


# ---- the independent forward passes (float64), PyTorch semantics -------------------------------------------

def _ln(x, w, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def _linear(x, w, b):
    return x @ w.T.astype(np.float64) + b


def _gelu(x):
    return 0.5 * x * (1 + erf(x / np.sqrt(2)))


def _attention(q, k, v, heads):
    n, t, d = q.shape
    split = lambda a: a.reshape(n, t, heads, d // heads).transpose(0, 2, 1, 3)  # noqa: E731
    q, k, v = split(q), split(k), split(v)
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d // heads)
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    probs = scores / scores.sum(-1, keepdims=True)
    return (probs @ v).transpose(0, 2, 1, 3).reshape(n, t, d)


def _embed(pixels, mean_std, patch_w, patch_b, cls, pos):
    mean, std = (np.asarray(a, np.float64) for a in mean_std)
    x = (pixels.astype(np.float64) / 255.0 - mean) / std  # (N, H, W, 3)
    n, h, w, _ = x.shape
    p = patch_w.shape[-1]
    # Conv2d(kernel = stride = p) over NCHW: patches (N, h/p * w/p, 3*p*p) in (c, kh, kw) order.
    patches = x.transpose(0, 3, 1, 2).reshape(n, 3, h // p, p, w // p, p).transpose(0, 2, 4, 1, 3, 5).reshape(n, -1, 3 * p * p)
    tokens = patches @ patch_w.reshape(patch_w.shape[0], -1).T.astype(np.float64) + patch_b
    tokens = np.concatenate([np.broadcast_to(cls.astype(np.float64), (n, 1, cls.shape[-1])), tokens], axis=1)
    return tokens + pos


def hf_forward(state: dict, kind: str, pixels: np.ndarray, *, heads: int, mean_std, eps: float) -> np.ndarray:
    """Dinov2Model / ViTModel last_hidden_state (the final-LayerNorm tokens) at the checkpoint's own grid."""
    x = _embed(pixels, mean_std, state["embeddings.patch_embeddings.projection.weight"],
               state["embeddings.patch_embeddings.projection.bias"], state["embeddings.cls_token"],
               state["embeddings.position_embeddings"])
    i = 0
    while f"encoder.layer.{i}.attention.attention.query.weight" in state:
        g = lambda n: state[f"encoder.layer.{i}.{n}"]  # noqa: E731
        ln1, ln2 = ("norm1", "norm2") if kind == "dinov2" else ("layernorm_before", "layernorm_after")
        fc1, fc2 = ("mlp.fc1", "mlp.fc2") if kind == "dinov2" else ("intermediate.dense", "output.dense")
        h = _ln(x, g(f"{ln1}.weight"), g(f"{ln1}.bias"), eps)
        q, k, v = (_linear(h, g(f"attention.attention.{n}.weight"), g(f"attention.attention.{n}.bias")) for n in ("query", "key", "value"))
        attn = _linear(_attention(q, k, v, heads), g("attention.output.dense.weight"), g("attention.output.dense.bias"))
        x = x + (attn * g("layer_scale1.lambda1") if kind == "dinov2" else attn)
        h = _ln(x, g(f"{ln2}.weight"), g(f"{ln2}.bias"), eps)
        mlp = _linear(_gelu(_linear(h, g(f"{fc1}.weight"), g(f"{fc1}.bias"))), g(f"{fc2}.weight"), g(f"{fc2}.bias"))
        x = x + (mlp * g("layer_scale2.lambda1") if kind == "dinov2" else mlp)
        i += 1
    return _ln(x, state["layernorm.weight"], state["layernorm.bias"], eps)


def timm_forward(state: dict, pixels: np.ndarray, *, heads: int, mean_std=IMAGENET, eps: float = 1e-6) -> np.ndarray:
    """VisionTransformer.forward_features: norm(blocks(pos_drop(cat(cls, patch_embed) + pos_embed)))."""
    x = _embed(pixels, mean_std, state["patch_embed.proj.weight"], state["patch_embed.proj.bias"],
               state["cls_token"], state["pos_embed"])
    n, t, d = x.shape
    i = 0
    while f"blocks.{i}.attn.qkv.weight" in state:
        g = lambda name: state[f"blocks.{i}.{name}"]  # noqa: E731
        h = _ln(x, g("norm1.weight"), g("norm1.bias"), eps)
        # timm Attention.forward: qkv(x).reshape(B, N, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
        qkv = _linear(h, g("attn.qkv.weight"), g("attn.qkv.bias")).reshape(n, t, 3, heads, d // heads).transpose(2, 0, 3, 1, 4)
        q, k, v = (a.transpose(0, 2, 1, 3).reshape(n, t, d) for a in qkv)
        attn = _linear(_attention(q, k, v, heads), g("attn.proj.weight"), g("attn.proj.bias"))
        x = x + attn * state.get(f"blocks.{i}.ls1.gamma", 1.0)
        h = _ln(x, g("norm2.weight"), g("norm2.bias"), eps)
        mlp = _linear(_gelu(_linear(h, g("mlp.fc1.weight"), g("mlp.fc1.bias"))), g("mlp.fc2.weight"), g("mlp.fc2.bias"))
        x = x + mlp * state.get(f"blocks.{i}.ls2.gamma", 1.0)
        i += 1
    return _ln(x, state["norm.weight"], state["norm.bias"], eps)
