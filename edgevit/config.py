"""Frozen option types and every default edgevit has. Nothing else holds a default value."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class ViTSpec:
    """Architecture of one registered variant (vit-keras `build_model` arguments)."""

    name: str
    patch_size: int
    num_layers: int
    hidden_size: int
    num_heads: int
    mlp_dim: int
    dropout: float
    default_image_size: int
    # vit-keras weight-file size name ("L_32"), None for variants without published weights.
    pretrained_size: str | None
    default_learning_rate: float
    # Transformer blocks left trainable by default; None trains everything (from scratch).
    default_trainable_blocks: int | None


VARIANTS: dict[str, ViTSpec] = {
    spec.name: spec
    for spec in (
        ViTSpec("vit-b16", 16, 12, 768, 12, 3072, 0.1, 224, "B_16", 1e-4, 2),
        ViTSpec("vit-b32", 32, 12, 768, 12, 3072, 0.1, 224, "B_32", 1e-4, 2),
        ViTSpec("vit-l16", 16, 24, 1024, 16, 4096, 0.1, 224, "L_16", 1e-4, 2),
        ViTSpec("vit-l32", 32, 24, 1024, 16, 4096, 0.1, 224, "L_32", 1e-4, 2),
        # The test variant (timm's test_vit, big_vision's "mu"): trains from scratch on a CPU.
        ViTSpec("tiny", 8, 4, 128, 4, 256, 0.0, 64, None, 1e-3, None),
        # DINOv2 ViT-S/14 (LayerScale folded by `edgevit weights import`); no vit-keras release: --weights FILE.npz.
        # Frozen backbone by default: the final norm and the head train (training/frozen.py caches the rest).
        ViTSpec("dinov2-s14", 14, 12, 384, 6, 1536, 0.0, 224, None, 1e-3, 0),
    )
}

# vit-keras publishes these weight sets; the file is ViT-{size}_{weights}.npz.
PRETRAINED_WEIGHT_SETS = ("imagenet21k+imagenet2012", "imagenet21k")
DEFAULT_WEIGHT_SET = "imagenet21k+imagenet2012"


# Pillow resampling filters edgevit.data.preprocess maps these names to.
RESIZE_METHODS = ("bilinear", "bicubic", "nearest")


@dataclass(frozen=True)
class Preprocessing:
    """How pixels become model input. Serialised into every manifest so other runtimes mirror it.

    input = (resize(rgb_uint8) - mean) / std, per channel, NHWC float32.
    vit-keras models are trained on mode="tf" scaling: x / 127.5 - 1.
    """

    height: int
    width: int
    resize: str = "bilinear"
    color: str = "RGB"
    layout: str = "NHWC"
    mean: tuple[float, float, float] = (127.5, 127.5, 127.5)
    std: tuple[float, float, float] = (127.5, 127.5, 127.5)

    def __post_init__(self):
        # A manifest is user input: reject what no runtime could mirror (a zero std would divide by zero).
        if self.height < 1 or self.width < 1:
            raise ValueError(f"image size must be positive, got {self.height}x{self.width}")
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError("mean and std need 3 values (R, G, B)")
        if not all(math.isfinite(v) for v in self.mean) or not all(math.isfinite(v) and v > 0 for v in self.std):
            raise ValueError("mean must be finite and std finite and > 0")
        if self.resize not in RESIZE_METHODS or self.color != "RGB" or self.layout != "NHWC":
            raise ValueError(f"unsupported resize/color/layout {self.resize}/{self.color}/{self.layout} "
                             f"(supported: {'/'.join(RESIZE_METHODS)}, RGB, NHWC)")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocessing":
        return cls(
            height=int(d["height"]),
            width=int(d["width"]),
            resize=str(d["resize"]),
            color=str(d["color"]),
            layout=str(d["layout"]),
            mean=tuple(float(v) for v in d["mean"]),
            std=tuple(float(v) for v in d["std"]),
        )


@dataclass(frozen=True)
class TrainConfig:
    """The fine-tuning recipe of the reference case, every part adjustable."""

    variant: str = "vit-l32"
    image_size: int | None = None  # None: the variant's default
    # Last transformer blocks left trainable; "all" trains everything. None: the variant's default.
    trainable_blocks: int | str | None = None
    noise_stddev: float = 0.01
    learning_rate: float | None = None  # None: the variant's default
    lr_decay_factor: float = 0.1
    lr_decay_every: int = 7
    patience: int = 10
    epochs: int = 50
    batch_size: int = 32
    seed: int = 0
    weights: str | None = None  # local .npz of vit-keras pretrained weights
    weight_set: str = DEFAULT_WEIGHT_SET
    pretrained: bool = True  # False trains from random init (the tiny variant always does)
    precision: str = "fp32"  # fp32 | bf16 | fp16: compute dtype; weights stay float32 (edgevit.training.precision)
    # How the run executes (train.RUNTIME_OPTIONS: may change on --resume). Missing from older runs'
    # train_state.json: there they mean these defaults.
    backend: str | None = None  # tensorflow | jax | torch; None: TensorFlow if installed, else JAX, else torch
    jit_compile: bool | None = None  # XLA (TF) / jax.jit (JAX) / torch.compile (torch); None: Keras' "auto"
    devices: int | str = 1  # data-parallel devices, or "all" (edgevit.training.distribute)
    data_workers: int | None = None  # threads preparing batches; None: min(8, CPU cores)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DemoConfig:
    """The built-in main job: synthetic birds -> tiny ViT -> SavedModel -> artifacts."""

    num_classes: int = 10
    per_class: int = 240
    # 1,000 test images: enough for its recipe's gates to be decided (a 0-flip tflite-dynamic needs 381 to pass
    # its 1-point accuracy margin at 95% confidence); 300 left most quantized verdicts inconclusive.
    eval_per_class: int = 100
    image_size: int = 64
    seed: int = 0
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            variant="tiny", trainable_blocks="all", epochs=10, batch_size=64, patience=10, pretrained=False
        )
    )
    min_test_accuracy: float = 0.85
    bench_threads: int = 2  # this machine's core count; the demo measures one thread setting
    bench_runs: int = 20  # timed runs per artifact at batch 1 (after 3 warm-ups)


def pretrained_demo_config() -> DemoConfig:
    """`edgevit demo --pretrained`: the same birds drawn at 112 px, the DINOv2 ViT-S/14 backbone frozen (its
    class token is computed once per image: noise off, training/frozen.py), the final norm and the head trained."""
    return DemoConfig(
        image_size=112,
        train=TrainConfig(variant="dinov2-s14", image_size=112, trainable_blocks=0, noise_stddev=0.0, epochs=40,
                          batch_size=64, patience=10, learning_rate=3e-3, lr_decay_every=15, pretrained=True),
    )


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
SPLITS = ("train", "valid", "test")
MANIFEST_NAME = "manifest.json"
LABELS_NAME = "labels.txt"
MANIFEST_SCHEMA_VERSION = 1
