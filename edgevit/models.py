"""Variant name -> a vit-keras classifier: GaussianNoise -> ViT (no top) -> softmax Dense head."""

from __future__ import annotations

import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from edgevit.config import PRETRAINED_WEIGHT_SETS, VARIANTS, ViTSpec
from edgevit.errors import ModelError, UsageError
from edgevit.keras_backend import import_keras
from edgevit.weights import read_import_record


def resolve_variant(name: str) -> ViTSpec:
    if name not in VARIANTS:
        raise UsageError(f"unknown variant '{name}'; known variants: {', '.join(VARIANTS)}")
    return VARIANTS[name]


@dataclass(frozen=True)
class ClassifierConfig:
    """Everything needed to rebuild the exact architecture (stored in the manifest; no Keras deserialization)."""

    variant: str
    image_size: int
    num_classes: int
    noise_stddev: float
    # Number of final transformer blocks left trainable; equals num_layers when everything trains.
    trainable_blocks: int
    representation_size: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ClassifierConfig":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def resolve_trainable_blocks(spec: ViTSpec, requested: int | str | None) -> int:
    if requested is None:
        requested = spec.default_trainable_blocks if spec.default_trainable_blocks is not None else "all"
    if requested == "all":
        return spec.num_layers
    try:
        blocks = int(requested)
    except (TypeError, ValueError):
        raise UsageError(f"--trainable-blocks must be a number or 'all', got '{requested}'") from None
    if not 0 <= blocks <= spec.num_layers:
        raise UsageError(f"--trainable-blocks must be between 0 and {spec.num_layers} for {spec.name}, got {blocks}")
    return blocks


def build_classifier(config: ClassifierConfig):
    """Build the fine-tuning model. Freezes all but the last `trainable_blocks` transformer blocks."""
    keras = import_keras()
    from vit_keras import vit

    spec = resolve_variant(config.variant)
    if config.image_size % spec.patch_size != 0:
        raise UsageError(
            f"image size {config.image_size} is not a multiple of {spec.name}'s patch size {spec.patch_size}; "
            f"pick e.g. {max(spec.patch_size, config.image_size // spec.patch_size * spec.patch_size)}"
        )
    if config.num_classes < 2:
        raise UsageError(f"a classifier needs at least 2 classes, got {config.num_classes}")
    base = vit.build_model(
        image_size=config.image_size,
        patch_size=spec.patch_size,
        num_layers=spec.num_layers,
        hidden_size=spec.hidden_size,
        num_heads=spec.num_heads,
        mlp_dim=spec.mlp_dim,
        dropout=spec.dropout,
        name=spec.name,
        classes=config.num_classes,
        include_top=False,
        representation_size=config.representation_size,
    )
    inputs = keras.Input((config.image_size, config.image_size, 3), name="images")
    x = keras.layers.GaussianNoise(config.noise_stddev, name="input_noise")(inputs)
    x = base(x)
    outputs = keras.layers.Dense(config.num_classes, activation="softmax", name="head")(x)
    model = keras.Model(inputs, outputs, name=f"edgevit-{spec.name}")
    freeze_all_but_last_blocks(base, spec, config.trainable_blocks)
    return model


def freeze_all_but_last_blocks(base, spec: ViTSpec, trainable_blocks: int) -> None:
    """The recipe: the patch embedding, tokens and early blocks frozen; the last blocks, final norm and head train."""
    if trainable_blocks >= spec.num_layers:
        return
    first_trainable = spec.num_layers - trainable_blocks
    for layer in base.layers:
        name = layer.name
        if name.startswith("Transformer_encoderblock_"):
            layer.trainable = int(name.rsplit("_", 1)[1]) >= first_trainable
        elif name in ("embedding", "class_token", "Transformer_posembed_input"):
            layer.trainable = False


def keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))


def pretrained_weights_path(spec: ViTSpec, weight_set: str, explicit: str | Path | None) -> Path:
    """Find the local .npz; never download (no weight hub is reachable). ModelError says where to put it."""
    if weight_set not in PRETRAINED_WEIGHT_SETS:
        raise UsageError(f"unknown weight set '{weight_set}'; known: {', '.join(PRETRAINED_WEIGHT_SETS)}")
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ModelError(f"weights file {path} not found; pass the path of a vit-keras .npz weights file")
        return path
    if spec.pretrained_size is None:
        raise ModelError(f"variant {spec.name} has no published weights; pass --weights PATH or --no-pretrained")
    name = f"ViT-{spec.pretrained_size}_{weight_set}.npz"
    path = keras_home() / "weights" / name
    if not path.is_file():
        raise ModelError(
            f"pretrained weights for {spec.name} not found: put {name} at {path} (vit-keras release 'dl'), "
            f"or pass --weights PATH, or --no-pretrained to train from random init"
        )
    return path


def load_pretrained_weights(model, config: ClassifierConfig, path: Path) -> None:
    """Load vit-keras/Flax .npz weights into the ViT body (the head stays newly initialised)."""
    from vit_keras import utils

    spec = resolve_variant(config.variant)
    base = model.get_layer(spec.name)
    patches = config.image_size // spec.patch_size
    _check_import_record(path, spec, patches)
    try:
        with warnings.catch_warnings():
            # Position embeddings are resized when image size differs from the pretraining size: expected.
            warnings.filterwarnings("ignore", message="Resizing position embeddings")
            # The record `edgevit weights import` leaves in its .npz is not a weight.
            warnings.filterwarnings("ignore", message=r"Did not use the following weights: \{'edgevit/import'\}")
            utils.load_weights_numpy(
                model=base, params_path=str(path), pretrained_top=False, num_x_patches=patches, num_y_patches=patches
            )
    except (AssertionError, KeyError, ValueError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"{path}: weights do not fit {spec.name} ({reason}); pass the .npz made for this variant") from None


def _check_import_record(path: Path, spec: ViTSpec, patches: int) -> None:
    """A file from `edgevit weights import` was made for one variant and one position grid, resampled with the
    source's own interpolation: refuse another variant, and another grid (vit-keras would resize it linearly)."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as npz:
            record = read_import_record(npz)
    except (OSError, ValueError, EOFError):
        return  # load_weights_numpy below reports an unreadable file
    if record is None:
        return
    if record.get("variant") != spec.name:
        raise ModelError(f"{path} was imported for variant {record.get('variant')}, not {spec.name}; "
                         f"pass --variant {record.get('variant')} or re-import with --variant {spec.name}")
    if record.get("grid") != patches:
        size = patches * spec.patch_size
        raise ModelError(f"{path} holds a {record.get('grid')}x{record.get('grid')} position grid "
                         f"({record.get('image_size')} px); re-import it with `edgevit weights import --image-size {size}` "
                         f"so the grid is resampled the way the source model does it")
