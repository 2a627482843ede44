"""The one in-memory form every source is read into: PyTorch-style tensors of a pre-norm ViT.

Readers (safetensors, ONNX) fill a `SourceViT`; `convert.py` turns it into the vit-keras layout.
Linear weights are (out, in) as PyTorch stores them; the patch projection is (D, 3, p, p).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# ImageNet statistics (DINOv2, timm's default) and Inception's 0.5/0.5 (HF ViT's google/* checkpoints), in 0..1 units.
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
HALF_MEAN, HALF_STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


@dataclass
class Block:
    ln1_w: np.ndarray
    ln1_b: np.ndarray
    q_w: np.ndarray
    q_b: np.ndarray
    k_w: np.ndarray
    k_b: np.ndarray
    v_w: np.ndarray
    v_b: np.ndarray
    o_w: np.ndarray
    o_b: np.ndarray
    ln2_w: np.ndarray
    ln2_b: np.ndarray
    fc1_w: np.ndarray
    fc1_b: np.ndarray
    fc2_w: np.ndarray
    fc2_b: np.ndarray
    ls1: np.ndarray | None = None  # LayerScale gammas (DINOv2, timm init_values): folded into o / fc2
    ls2: np.ndarray | None = None


@dataclass
class SourceViT:
    """A ViT as its source stores it. `heads` is None where the source does not record it (a bare timm file)."""

    source: str  # what was read, for the printout: "Hugging Face DINOv2 (safetensors)"
    patch_w: np.ndarray
    patch_b: np.ndarray
    cls: np.ndarray  # (1, 1, D)
    pos_cls: np.ndarray  # (D,): the class token's position embedding (zeros where the source adds none)
    pos_grid: np.ndarray  # (G, G, D): the patch position embeddings on the source's own grid
    blocks: list[Block]
    norm_w: np.ndarray
    norm_b: np.ndarray
    heads: int | None
    pool: str  # "token" (class token) or "mean" (mean of the patch tokens): how the source's head reads the tokens
    interpolation: str  # a key of resample.INTERPOLATIONS: how the source resizes its position grid
    mean: tuple[float, float, float]  # the source's input normalisation, 0..1 units
    std: tuple[float, float, float]
    notes: list[str] = field(default_factory=list)  # what the printout should mention (eps differences, ...)

    @property
    def patch_size(self) -> int:
        return int(self.patch_w.shape[-1])

    @property
    def width(self) -> int:
        return int(self.patch_w.shape[0])

    @property
    def depth(self) -> int:
        return len(self.blocks)

    @property
    def mlp_dim(self) -> int:
        return int(self.blocks[0].fc1_w.shape[0])

    @property
    def grid(self) -> int:
        return int(self.pos_grid.shape[0])
