"""Variant name -> a classifier: GaussianNoise -> body -> softmax Dense head.

The body is a vit-keras ViT (`config.VARIANTS`) or one of the zoo architectures (`ZOO` below, built
by `edgevit.architectures`), so training, the SavedModel and every later stage treat them alike."""

from __future__ import annotations

import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from edgevit.config import PRETRAINED_WEIGHT_SETS, VARIANTS, ViTSpec
from edgevit.errors import ModelError, UsageError
from edgevit.formats import Format
from edgevit.keras_backend import import_keras
from edgevit.weights import read_import_record


@dataclass(frozen=True)
class ZooSpec:
    """One size of a zoo architecture. Duck-types the ViTSpec fields training reads (no pretrained
    weights, every block trains), plus what the architecture needs and how converters take it."""

    name: str
    architecture: str  # module of edgevit.architectures
    size: tuple  # (argument, value) pairs for its build_body
    num_layers: int  # blocks, as reported by `edgevit train`
    default_image_size: int
    image_multiple: int  # the image size must be a multiple of this (patch x windows x merges)
    min_image_size: int = 1
    default_learning_rate: float = 1e-3
    # How each format's converter takes the architecture when that is not the default route; it is
    # written into every artifact's manifest (conversion.route).
    routes: tuple = ()
    pretrained_size: None = None
    default_trainable_blocks: None = None
    hidden_size: None = None


_LSTM_ROUTE = "BiLSTM2D's LSTMs unrolled over their fixed length: a flat matmul/sigmoid/tanh graph, no while loop"
_SHIFT_ROUTE = "cyclic shift as slices + concat (no roll); window mask and bias index constant"
_ZOO_ROUTES = {
    "sequencer2d": tuple((fmt, _LSTM_ROUTE) for fmt in Format),
    "swin": tuple((fmt, _SHIFT_ROUTE) for fmt in Format),
}


def _zoo(name, architecture, size, *, blocks, image, multiple, min_image=1, lr=1e-3) -> ZooSpec:
    return ZooSpec(name, architecture, tuple(size.items()), blocks, image, multiple, min_image, lr,
                   routes=_ZOO_ROUTES.get(architecture.replace("_", ""), ()))


# Full sizes follow the papers (Mixer-S/16, PoolFormer-S12, Swin-T, Sequencer2D-S); `-tiny` sizes
# train on the synthetic birds on a CPU in seconds per epoch and are what the tests build.
ZOO: dict[str, ZooSpec] = {
    spec.name: spec
    for spec in (
        # keras.applications has no width multiplier: the tiny size is the same network at its minimum input.
        _zoo("inception-v3", "inception_v3", {}, blocks=11, image=299, multiple=1, min_image=75),
        _zoo("inception-v3-tiny", "inception_v3", {}, blocks=11, image=75, multiple=1, min_image=75),
        _zoo("mlp-mixer", "mlp_mixer", dict(patch_size=16, hidden=512, depth=8, tokens_mlp=256, channels_mlp=2048),
             blocks=8, image=224, multiple=16),
        _zoo("mlp-mixer-tiny", "mlp_mixer", dict(patch_size=8, hidden=64, depth=2, tokens_mlp=32, channels_mlp=128),
             blocks=2, image=64, multiple=8),
        _zoo("poolformer", "poolformer", dict(dims=(64, 128, 320, 512), depths=(2, 2, 6, 2), mlp_ratio=4, stem_patch=4),
             blocks=12, image=224, multiple=32),
        _zoo("poolformer-tiny", "poolformer", dict(dims=(32, 64), depths=(1, 1), mlp_ratio=2, stem_patch=4),
             blocks=2, image=64, multiple=8),
        _zoo("swin", "swin", dict(patch_size=4, dims=(96, 192, 384, 768), depths=(2, 2, 6, 2), heads=(3, 6, 12, 24),
                                  window=7, mlp_ratio=4), blocks=12, image=224, multiple=224),
        _zoo("swin-tiny", "swin", dict(patch_size=4, dims=(32, 64), depths=(2, 2), heads=(2, 4), window=4, mlp_ratio=2),
             blocks=4, image=64, multiple=32),
        _zoo("sequencer2d", "sequencer2d", dict(patches=(7, 2, 1, 1), dims=(192, 384, 384, 384), depths=(4, 3, 8, 3),
                                                hidden=(48, 96, 96, 96), mlp_ratio=3), blocks=18, image=224, multiple=14),
        _zoo("sequencer2d-tiny", "sequencer2d", dict(patches=(8, 2), dims=(32, 48), depths=(1, 1), hidden=(16, 24),
                                                     mlp_ratio=2), blocks=2, image=64, multiple=16),
    )
}

# Every variant edgevit can train, in the order `--help` lists them.
VARIANT_NAMES = (*VARIANTS, *ZOO)


def resolve_variant(name: str) -> ViTSpec | ZooSpec:
    if name in VARIANTS:
        return VARIANTS[name]
    if name in ZOO:
        return ZOO[name]
    raise UsageError(f"unknown variant '{name}'; known variants: {', '.join(VARIANT_NAMES)}")


def conversion_route(model: dict | None, fmt: str) -> str | None:
    """The non-default conversion route a manifest's model block takes into `fmt`, or None."""
    spec = ZOO.get((model or {}).get("variant"))
    return dict(spec.routes).get(Format(fmt)) if spec is not None else None


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


def resolve_trainable_blocks(spec: ViTSpec | ZooSpec, requested: int | str | None) -> int:
    if isinstance(spec, ZooSpec):
        if requested not in (None, "all", spec.num_layers, str(spec.num_layers)):
            raise UsageError(f"{spec.name} trains from scratch with every block trainable; drop --trainable-blocks or pass 'all'")
        return spec.num_layers
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
    spec = resolve_variant(config.variant)
    if isinstance(spec, ZooSpec):
        return build_zoo_classifier(keras, spec, config)
    from vit_keras import vit

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


def build_zoo_classifier(keras, spec: ZooSpec, config: ClassifierConfig):
    """The same frame as the ViT classifier (input `images`, `input_noise`, softmax `head`) around a zoo body."""
    import importlib

    size = config.image_size
    if size < spec.min_image_size or size % spec.image_multiple:
        smallest = max(spec.min_image_size, spec.image_multiple)
        raise UsageError(
            f"{spec.name} needs an image size of at least {spec.min_image_size} and a multiple of {spec.image_multiple}, "
            f"got {size}; pick e.g. {max(smallest, size // spec.image_multiple * spec.image_multiple)}"
        )
    if config.num_classes < 2:
        raise UsageError(f"a classifier needs at least 2 classes, got {config.num_classes}")
    architecture = importlib.import_module(f"edgevit.architectures.{spec.architecture}")
    inputs = keras.Input((size, size, 3), name="images")
    x = keras.layers.GaussianNoise(config.noise_stddev, name="input_noise")(inputs)
    features = architecture.build_body(keras, x, **dict(spec.size))
    outputs = keras.layers.Dense(config.num_classes, activation="softmax", name="head")(features)
    return keras.Model(inputs, outputs, name=f"edgevit-{spec.name}")


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
    if isinstance(spec, ZooSpec):
        raise UsageError(f"{spec.name} has no pretrained-weight import (it trains from scratch); drop --weights or pass --no-pretrained")
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
