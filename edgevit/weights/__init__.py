"""`edgevit weights import`: a ViT checkpoint (Hugging Face ViT / DINOv2 safetensors, timm safetensors, or an
ONNX export of one) -> the vit-keras .npz layout `edgevit train --weights` loads."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from edgevit.errors import ModelError
from edgevit.fsutil import atomic_write_bytes
from edgevit.weights.convert import IMPORT_KEY, Architecture, read_import_record, to_vit_keras
from edgevit.weights.layout import SourceViT

__all__ = ["IMPORT_KEY", "Architecture", "import_weights", "read_import_record", "read_source", "is_import_file"]


def read_source(src: Path | str, *, config: Path | str | None = None) -> SourceViT:
    src = Path(src)
    if not src.is_file():
        raise ModelError(f"{src} not found; pass a .safetensors or .onnx file")
    with open(src, "rb") as f:
        head = f.read(16)
    if src.suffix == ".onnx":
        from edgevit.weights.onnx_source import read_onnx

        return read_onnx(src)
    if src.suffix == ".safetensors":
        from edgevit.weights.safetensors_source import read_safetensors

        return read_safetensors(src, Path(config) if config is not None else None)
    raise ModelError(f"{src}: unknown checkpoint type '{src.suffix or head[:4]!r}'; edgevit imports .safetensors "
                     "(Hugging Face with config.json, or timm) and .onnx files")


def import_weights(src: Path | str, out: Path | str, *, variant: str | None = None, image_size: int | None = None,
                   config: Path | str | None = None, source_mean=None, source_std=None) -> Architecture:
    """Read SRC, convert and write OUT (.npz, atomically). Returns what was inferred."""
    source = read_source(src, config=config)
    if source_mean is not None:
        source.mean = tuple(source_mean)
    if source_std is not None:
        source.std = tuple(source_std)
    params, arch = to_vit_keras(source, variant=variant, image_size=image_size)
    buffer = io.BytesIO()
    np.savez(buffer, **params)
    atomic_write_bytes(Path(out), buffer.getvalue())
    return arch


def is_import_file(path: Path) -> bool:
    """An .npz this command wrote (so --out may replace it)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return IMPORT_KEY in npz.files
    except (OSError, ValueError, EOFError):
        return False
