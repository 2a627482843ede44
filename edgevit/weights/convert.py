"""SourceViT -> the vit-keras .npz layout that `edgevit train --weights` loads, and the facts it prints.

Exact rewrites, no approximations:
- LayerScale multiplies the attention output and fc2 outputs per channel: folded into their weights and biases.
- The source's input normalisation differs from edgevit's ((x - 127.5) / 127.5): the patch projection is
  linear and sees whole patches (stride = kernel, no padding), so the per-channel affine change folds into
  its kernel and bias.
- The position grid is resampled to the target image size with the source's own interpolation.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from edgevit.config import VARIANTS, Preprocessing, ViTSpec
from edgevit.errors import ModelError, UsageError
from edgevit.weights.layout import SourceViT
from edgevit.weights.resample import INTERPOLATIONS, resample_grid

# The .npz entry that records how the file was made (vit-keras ignores it; models.py reads it).
IMPORT_KEY = "edgevit/import"


@dataclass(frozen=True)
class Architecture:
    """What the import inferred, as printed and recorded."""

    source: str
    variant: str
    patch_size: int
    width: int
    depth: int
    heads: int
    heads_from: str
    mlp_dim: int
    tokens: str
    source_grid: int
    grid: int
    image_size: int
    interpolation: str
    pool: str
    layer_scale: bool
    source_mean: tuple
    source_std: tuple
    notes: tuple

    def to_dict(self) -> dict:
        return asdict(self)


def _found(source: SourceViT, heads: int | None) -> str:
    return (f"patch {source.patch_size}, width {source.width}, depth {source.depth}, "
            f"heads {heads if heads is not None else '?'}, MLP {source.mlp_dim}")


def _fits(spec: ViTSpec, source: SourceViT, heads: int | None) -> bool:
    return (spec.patch_size, spec.hidden_size, spec.num_layers, spec.mlp_dim) == (
        source.patch_size, source.width, source.depth, source.mlp_dim) and heads in (None, spec.num_heads)


def match_variant(source: SourceViT, variant: str | None) -> tuple[ViTSpec, int, str]:
    """The registered variant these shapes are, and its head count (with where that number came from)."""
    heads = source.heads
    if variant is not None:
        if variant not in VARIANTS:
            raise UsageError(f"unknown variant '{variant}'; known variants: {', '.join(VARIANTS)}")
        spec = VARIANTS[variant]
        if not _fits(spec, source, heads):
            raise ModelError(f"the checkpoint does not fit variant {variant}: found {_found(source, heads)}; "
                             f"{variant} is patch {spec.patch_size}, width {spec.hidden_size}, depth {spec.num_layers}, "
                             f"heads {spec.num_heads}, MLP {spec.mlp_dim}")
    else:
        fitting = [s for s in VARIANTS.values() if _fits(s, source, heads)]
        if not fitting:
            raise ModelError(f"no edgevit variant has these shapes: found {_found(source, heads)}; "
                             f"known variants: {', '.join(VARIANTS)}")
        spec = fitting[0]
    if heads is not None:
        return spec, heads, "the source"
    return spec, spec.num_heads, f"variant {spec.name} (the source does not record it)"


def fold_normalisation(kernel: np.ndarray, bias: np.ndarray, source: SourceViT, target: Preprocessing):
    """Patch kernel (p, p, 3, D) for edgevit's input y = (pixel - tm) / ts instead of the source's
    z = (pixel / 255 - sm) / ss: z = a * y + c per channel, a = ts / (255 ss), c = (tm - 255 sm) / (255 ss)."""
    sm, ss = np.asarray(source.mean, np.float64), np.asarray(source.std, np.float64)
    tm, ts = np.asarray(target.mean, np.float64), np.asarray(target.std, np.float64)
    a = ts / (255.0 * ss)
    c = (tm - 255.0 * sm) / (255.0 * ss)
    k64 = kernel.astype(np.float64)
    new_bias = bias.astype(np.float64) + np.einsum("hwcd,c->d", k64, c)
    return (k64 * a[None, None, :, None]).astype(np.float32), new_bias.astype(np.float32)


def to_vit_keras(source: SourceViT, *, variant: str | None, image_size: int | None) -> tuple[dict, Architecture]:
    spec, heads, heads_from = match_variant(source, variant)
    image_size = image_size or spec.default_image_size
    if image_size % spec.patch_size:
        raise UsageError(f"--image-size {image_size} is not a multiple of the patch size {spec.patch_size}")
    grid = image_size // spec.patch_size
    width, head_dim = source.width, source.width // heads
    params: dict[str, np.ndarray] = {}
    kernel = source.patch_w.transpose(2, 3, 1, 0)  # (D, 3, p, p) -> (p, p, 3, D)
    params["embedding/kernel"], params["embedding/bias"] = fold_normalisation(
        kernel, source.patch_b, source, Preprocessing(height=image_size, width=image_size))
    params["cls"] = source.cls.astype(np.float32)
    pos_grid = resample_grid(source.pos_grid, grid, source.interpolation)
    params["Transformer/posembed_input/pos_embedding"] = np.concatenate(
        [source.pos_cls.reshape(1, width), pos_grid.reshape(grid * grid, width)])[None].astype(np.float32)
    for i, b in enumerate(source.blocks):
        p = f"Transformer/encoderblock_{i}"
        ls1 = b.ls1 if b.ls1 is not None else np.ones(width, np.float32)
        ls2 = b.ls2 if b.ls2 is not None else np.ones(width, np.float32)
        params[f"{p}/LayerNorm_0/scale"], params[f"{p}/LayerNorm_0/bias"] = b.ln1_w, b.ln1_b
        params[f"{p}/LayerNorm_2/scale"], params[f"{p}/LayerNorm_2/bias"] = b.ln2_w, b.ln2_b
        att = f"{p}/MultiHeadDotProductAttention_1"
        for name, w, bias in (("query", b.q_w, b.q_b), ("key", b.k_w, b.k_b), ("value", b.v_w, b.v_b)):
            params[f"{att}/{name}/kernel"] = w.T.reshape(width, heads, head_dim)
            params[f"{att}/{name}/bias"] = bias.reshape(heads, head_dim)
        params[f"{att}/out/kernel"] = (b.o_w.T * ls1[None, :]).reshape(heads, head_dim, width)
        params[f"{att}/out/bias"] = b.o_b * ls1
        params[f"{p}/MlpBlock_3/Dense_0/kernel"], params[f"{p}/MlpBlock_3/Dense_0/bias"] = b.fc1_w.T, b.fc1_b
        params[f"{p}/MlpBlock_3/Dense_1/kernel"] = b.fc2_w.T * ls2[None, :]
        params[f"{p}/MlpBlock_3/Dense_1/bias"] = b.fc2_b * ls2
    params["Transformer/encoder_norm/scale"], params["Transformer/encoder_norm/bias"] = source.norm_w, source.norm_b
    params = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in params.items()}
    bad = [k for k, v in params.items() if not np.isfinite(v).all()]
    if bad:
        raise ModelError(f"the checkpoint holds NaN or infinite values ({bad[0]}); it cannot be imported")
    arch = Architecture(
        source=source.source, variant=spec.name, patch_size=spec.patch_size, width=width, depth=source.depth,
        heads=heads, heads_from=heads_from, mlp_dim=source.mlp_dim,
        tokens=f"1 class token + {grid}x{grid} patches", source_grid=source.grid, grid=grid, image_size=image_size,
        interpolation=("none (same grid)" if source.grid == grid else INTERPOLATIONS[source.interpolation]),
        pool=source.pool, layer_scale=any(b.ls1 is not None or b.ls2 is not None for b in source.blocks),
        source_mean=tuple(source.mean), source_std=tuple(source.std), notes=tuple(source.notes),
    )
    params[IMPORT_KEY] = np.array(json.dumps(arch.to_dict()))
    return params, arch


def read_import_record(npz) -> dict | None:
    """The Architecture dict an `edgevit weights import` file carries (None for other .npz files)."""
    if IMPORT_KEY not in npz:
        return None
    return json.loads(str(npz[IMPORT_KEY]))
