"""`edgevit train DATA --out RUN [--resume]`: fine-tune a ViT and write its SavedModel."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from edgevit.commands import Parser
from edgevit.config import TrainConfig
from edgevit.models import VARIANT_NAMES
from edgevit.errors import UsageError
from edgevit.fsutil import load_json


def register(sub) -> None:
    p = sub.add_parser("train", help="fine-tune a ViT on ROOT/{train,valid,test}/<CLASS>/ and write a SavedModel",
                       description="Fine-tune a ViT with the reference recipe and write OUT/saved_model (one serving signature, "
                       "manifest.json, labels.txt), OUT/checkpoints, OUT/history.json and OUT/train_state.json. OUT must be new "
                       "or empty; --resume continues the run there and replaces its checkpoints and saved_model.")
    p.add_argument("data", help="data folder with train/ and valid/ (and test/) class folders")
    p.add_argument("--out", required=True, help="output folder: saved_model/, checkpoints/, train_state.json")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out from its last checkpoint, with its own options (--epochs may grow)")
    _add_train_options(p, TrainConfig())
    p.set_defaults(func=cmd_train)


def _add_train_options(p: argparse.ArgumentParser, defaults: TrainConfig) -> None:
    p.add_argument("--variant", default=defaults.variant, help=f"one of: {', '.join(VARIANT_NAMES)} (default {defaults.variant})")
    p.add_argument("--image-size", type=int, default=defaults.image_size, help="input size in pixels (default: the variant's, 224; tiny 64)")
    p.add_argument("--trainable-blocks", default=defaults.trainable_blocks, help="last transformer blocks left trainable, or 'all'")
    p.add_argument("--noise", type=float, default=defaults.noise_stddev, help="stddev of the Gaussian noise on the input (default %(default)s)")
    p.add_argument("--lr", type=float, default=defaults.learning_rate, help="initial learning rate (default: the variant's)")
    p.add_argument("--lr-decay-factor", type=float, default=defaults.lr_decay_factor, help="learning-rate multiplier per step (default %(default)s)")
    p.add_argument("--lr-decay-every", type=int, default=defaults.lr_decay_every, help="epochs between learning-rate steps (default %(default)s)")
    p.add_argument("--patience", type=int, default=defaults.patience, help="early stopping patience on val accuracy (default %(default)s)")
    p.add_argument("--epochs", type=int, default=defaults.epochs, help="maximum epochs (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size, help="default %(default)s")
    p.add_argument("--seed", type=int, default=defaults.seed, help="default %(default)s")
    p.add_argument("--weights", default=defaults.weights, help="local vit-keras .npz pretrained weights (default: the vit-keras cache)")
    p.add_argument("--weight-set", default=defaults.weight_set, help="vit-keras weight set name (default %(default)s)")
    p.add_argument("--no-pretrained", action="store_true", help="train from random init instead of pretrained weights")
    p.add_argument("--backend", choices=("tensorflow", "jax", "torch"), default=defaults.backend,
                   help="Keras backend (default: tensorflow if installed, else jax, else torch); the SavedModel is always written with TensorFlow")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default=defaults.precision,
                   help="compute precision; bf16/fp16 are mixed precision with float32 weights, fp16 with loss scaling (default %(default)s)")
    p.add_argument("--jit", dest="jit_compile", action=argparse.BooleanOptionalAction, default=defaults.jit_compile,
                   help="compile the train step (XLA on TensorFlow, jax.jit on JAX, torch.compile on torch; default: Keras' choice)")
    p.add_argument("--devices", default=defaults.devices,
                   help="data-parallel devices: a number or 'all' (MirroredStrategy on TensorFlow, DataParallel on JAX; default %(default)s)")
    p.add_argument("--data-workers", type=int, default=defaults.data_workers,
                   help="threads decoding and normalising batches ahead of the accelerator (default: min(8, cores))")


# Train flags (argparse dest) -> the TrainConfig field each one sets.
_TRAIN_FIELDS = {
    "variant": "variant", "image_size": "image_size", "trainable_blocks": "trainable_blocks", "noise": "noise_stddev",
    "lr": "learning_rate", "lr_decay_factor": "lr_decay_factor", "lr_decay_every": "lr_decay_every", "patience": "patience",
    "epochs": "epochs", "batch_size": "batch_size", "seed": "seed", "weights": "weights", "weight_set": "weight_set",
    "no_pretrained": "pretrained", "precision": "precision", "backend": "backend", "jit_compile": "jit_compile",
    "devices": "devices", "data_workers": "data_workers",
}


def _train_config(args, defaults: TrainConfig) -> TrainConfig:
    from edgevit.training.distribute import parse_devices

    values = {field: getattr(args, dest) for dest, field in _TRAIN_FIELDS.items()}
    values["pretrained"] = defaults.pretrained and not args.no_pretrained  # the flag says the opposite
    values["devices"] = parse_devices(args.devices)
    return replace(defaults, **values)


def _train_flags_given(train_argv: list[str]) -> set[str]:
    """The train flags written on the command line (argparse only fills attributes a namespace lacks)."""
    probe = Parser(prog="edgevit train", add_help=False)
    probe.add_argument("data")
    probe.add_argument("--out")
    probe.add_argument("--resume", action="store_true")
    _add_train_options(probe, TrainConfig())
    unset = object()
    namespace = probe.parse_args(train_argv, namespace=argparse.Namespace(**dict.fromkeys(_TRAIN_FIELDS, unset)))
    return {dest for dest in _TRAIN_FIELDS if getattr(namespace, dest) is not unset}


def _resume_config(args, config: TrainConfig) -> TrainConfig:
    """On --resume, the options left off the command line are the interrupted run's, not the defaults.

    Options that are given stay as given: train() refuses them if they change what the run learns.
    """
    from edgevit.training.train import STATE_NAME

    state_path = Path(args.out) / STATE_NAME
    if not state_path.is_file():
        return config  # train() says there is nothing to resume
    try:
        recorded = load_json(state_path)["config"]
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(f"{state_path}: unreadable training state; start again without --resume in a new --out") from None
    argv = args.argv[args.argv.index("train") + 1:]
    given = {_TRAIN_FIELDS[dest] for dest in _train_flags_given(argv)}
    known = set(TrainConfig().to_dict())
    return replace(config, **{k: v for k, v in recorded.items() if k in known and k not in given})


def cmd_train(args) -> int:
    from edgevit.models import resolve_variant
    from edgevit.training.train import train

    resolve_variant(args.variant)  # an unknown name fails before any data is read
    config = _train_config(args, TrainConfig())
    if args.resume:
        config = _resume_config(args, config)
    result = train(args.data, args.out, config, resume=args.resume)
    test = f"{result.test_accuracy:.2%}" if result.test_accuracy is not None else "n/a (no test split)"
    print(f"SavedModel: {result.saved_model}" if result.saved_model else f"SavedModel: not written (no TensorFlow here); run `edgevit savedmodel {args.out}` where TensorFlow is installed")
    print(f"best epoch {result.best_epoch} of {result.epochs_run}: val accuracy {result.val_accuracy:.2%}, test accuracy {test}")
    return 0
